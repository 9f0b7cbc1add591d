"""Must show 4: the Dockerfile builds the binary the tests use, offline. No Docker engine runs
here, so the Dockerfile is parsed (dockerfile-parse) and its promises checked: every base image
pinned by digest, dependencies vendored with a source replacement, a `--locked --offline`
release build of the `stormscope` binary, and a final stage that runs as a non-root user. The
offline build itself is scripts/offline-build.sh (docs/offline-build.md)."""

from __future__ import annotations

import re
import subprocess

import yaml
from dockerfile_parse import DockerfileParser

from conftest import CHART, REPO

DIGEST = re.compile(r"^[^@\s]+@sha256:[0-9a-f]{64}$")


def parsed() -> DockerfileParser:
    return DockerfileParser(path=str(REPO / "Dockerfile"))


def stages(dockerfile: DockerfileParser) -> list[list[dict]]:
    """The instructions of each stage, in order."""
    out: list[list[dict]] = []
    for instruction in dockerfile.structure:
        if instruction["instruction"] == "FROM":
            out.append([])
        if out and instruction["instruction"] != "COMMENT":
            out[-1].append(instruction)
    return out


def test_every_base_image_is_pinned_by_digest():
    images = parsed().parent_images
    assert len(images) >= 2
    for image in images:
        assert DIGEST.match(image), f"{image} is not pinned by digest"
    assert any(i.startswith("rust:1.95") for i in images), "the toolchain of rust-version"


def test_dependencies_are_vendored_with_a_source_replacement():
    runs = " ".join(i["value"] for i in parsed().structure if i["instruction"] == "RUN")
    assert "cargo vendor --locked vendor" in runs
    assert "[source.crates-io]" in runs and 'replace-with = "vendored-sources"' in runs
    assert 'directory = "vendor"' in runs
    ignored = subprocess.run(["git", "check-ignore", "-q", "vendor/"], cwd=REPO)
    assert ignored.returncode == 0, "vendor/ is never committed"
    dockerignore = (REPO / ".dockerignore").read_text().split()
    assert "vendor/" not in dockerignore, "a vendor/ folder in the build context reaches the build"
    assert "target/" in dockerignore and ".git/" in dockerignore


def test_the_build_is_locked_offline_and_makes_the_stormscope_binary():
    build_stage = next(s for s in stages(parsed())
                       if any("cargo build" in i["value"] for i in s if i["instruction"] == "RUN"))
    (build,) = [i["value"] for i in build_stage if "cargo build" in i["value"]]
    for flag in ("--release", "--locked", "--offline", "--bin stormscope"):
        assert flag in build, f"cargo build without {flag}"
    assert not any(i["instruction"] == "RUN" and "cargo vendor" in i["value"] for i in build_stage), \
        "the build stage never fetches"


def test_the_final_image_is_small_and_runs_as_non_root():
    final = stages(parsed())[-1]
    assert "/distroless/" in parsed().baseimage, "no shell, no package manager in the image"
    users = [i["value"] for i in final if i["instruction"] == "USER"]
    assert users and users[-1].split(":")[0] not in ("0", "root"), users
    uid = int(users[-1].split(":")[0])
    copies = [i["value"] for i in final if i["instruction"] == "COPY"]
    assert copies == ["--from=build /stormscope /usr/local/bin/stormscope"], "only the binary"
    (entrypoint,) = [i["value"] for i in final if i["instruction"] == "ENTRYPOINT"]
    assert "/usr/local/bin/stormscope" in entrypoint
    # The chart runs the same user, as non-root.
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    assert values["podSecurityContext"]["runAsUser"] == uid
    assert values["podSecurityContext"]["runAsNonRoot"] is True


def test_the_offline_build_script_vendors_then_builds_locked_and_offline():
    script = (REPO / "scripts" / "offline-build.sh").read_text()
    vendor = script.index("cargo vendor --locked")
    build = script.index('cargo build "${build_flags[@]}"')
    assert vendor < build
    assert "--offline --locked" in script and "unshare --net" in script
    assert 'CARGO_HOME="${work}/.cargo-home"' in script, "the build sees no cargo cache"
    assert subprocess.run(["bash", "-n", str(REPO / "scripts" / "offline-build.sh")]).returncode == 0
