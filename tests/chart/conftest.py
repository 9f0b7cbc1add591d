"""Shared helpers of the chart tests: the chart rendered by Helm's own engine (helm-python-sdk
binds Helm's Go SDK), and real processes (stormscope, memcached, s3s-fs) on loopback."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

import helm_python as helm
import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
CHART = REPO / "charts" / "stormscope"
CI_VALUES = sorted((CHART / "ci").glob("*-values.yaml"))
RELEASE = "rel"
NAMESPACE = "scope"


def values_of(path: Path) -> dict:
    return yaml.safe_load(path.read_text()) or {}


def render(values: dict) -> dict[str, str]:
    """Template path -> rendered text, as `helm template` makes it."""
    chart = helm.Chart.load(str(CHART))
    chart.validate_schema(values)
    return chart.render(values, name=RELEASE, namespace=NAMESPACE, is_install=True)


def objects(rendered: dict[str, str]) -> list[dict]:
    """Every Kubernetes object of a rendering (NOTES.txt is not one)."""
    out = []
    for path, text in sorted(rendered.items()):
        if path.endswith("NOTES.txt"):
            continue
        out.extend(doc for doc in yaml.safe_load_all(text) if doc)
    return out


def find(objs: list[dict], kind: str, component: str | None = None) -> list[dict]:
    return [
        o
        for o in objs
        if o["kind"] == kind
        and (
            component is None
            or o["metadata"].get("labels", {}).get("app.kubernetes.io/component") == component
        )
    ]


def stormscope_bin() -> Path:
    """The debug binary scripts/test.sh builds before running these tests."""
    target = Path(os.environ.get("CARGO_TARGET_DIR", REPO / "target"))
    binary = target / "debug" / "stormscope"
    assert binary.is_file(), f"{binary} is missing: run `cargo build --bin stormscope` first"
    return binary


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http(method: str, url: str, body: bytes | None = None, headers: dict | None = None,
         timeout: float = 10) -> tuple[int, dict, bytes]:
    request = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read()


def wait_for(check, timeout: float, what: str, interval: float = 0.2):
    """Polls `check` until it returns something truthy; fails with `what` after `timeout`."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            last = check()
            if last:
                return last
        except (OSError, urllib.error.URLError) as e:
            last = e
        time.sleep(interval)
    what = what() if callable(what) else what
    pytest.fail(f"{what} within {timeout}s (last: {last!r})")


class Process:
    """A server process owned by a test: its output goes to a file shown on failure."""

    def __init__(self, name: str, argv: list[str], env: dict[str, str] | None = None,
                 workdir: Path | None = None):
        self.name = name
        self.argv = argv
        self.log = tempfile.NamedTemporaryFile(prefix=f"{name}-", suffix=".log", delete=False)
        self.proc = subprocess.Popen(
            argv, env=env, stdout=self.log, stderr=subprocess.STDOUT, cwd=workdir,
            start_new_session=True,
        )

    def output(self) -> str:
        return Path(self.log.name).read_text(errors="replace")[-4000:]

    def alive(self) -> bool:
        return self.proc.poll() is None

    def signal(self, sig: int):
        if self.alive():
            self.proc.send_signal(sig)

    def stop(self):
        if self.alive():
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


def wait_listening(port: int, process: Process, timeout: float = 20):
    def up():
        assert process.alive(), f"{process.name} exited:\n{process.output()}"
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    wait_for(up, timeout, f"{process.name} listening on {port}")


@pytest.fixture
def processes():
    """Starts processes for one test and stops them all after it, whatever happens."""
    started: list[Process] = []

    def start(name, argv, env=None, workdir=None) -> Process:
        p = Process(name, argv, env, workdir)
        started.append(p)
        return p

    yield start
    for p in reversed(started):
        p.stop()


@pytest.fixture
def tmp_dirs():
    made: list[Path] = []

    def make(prefix: str) -> Path:
        path = Path(tempfile.mkdtemp(prefix=f"stormscope-{prefix}-"))
        made.append(path)
        return path

    yield make
    for path in made:
        shutil.rmtree(path, ignore_errors=True)



