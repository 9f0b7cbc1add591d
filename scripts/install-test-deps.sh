#!/usr/bin/env bash
# Installs the real servers the integration tests run against (see DESIGN.md, "Test infrastructure").
# Idempotent: a machine that already has everything only gets the "found" lines.
set -euo pipefail

S3S_FS_VERSION="0.14.1"

# A fresh machine's non-login shell may not have cargo on PATH yet.
export PATH="${HOME}/.cargo/bin:${PATH}"

if [[ "$(id -u)" -eq 0 ]]; then
    SUDO=()
else
    SUDO=(sudo)
fi

apt_install() {
    # The package may start a system daemon on 11211; harmless, because the tests start their own
    # memcached on random ports and never talk to that one.
    DEBIAN_FRONTEND=noninteractive "${SUDO[@]}" apt-get install -y -q --no-install-recommends "$@"
}

if command -v memcached >/dev/null 2>&1; then
    echo "found: memcached $(memcached -V 2>/dev/null | awk '{print $2}') at $(command -v memcached)"
else
    # Package lists on a fresh machine may be missing or stale; only pay for an update when the
    # install cannot succeed without one.
    apt_log=$(mktemp)
    if ! apt_install memcached >"${apt_log}" 2>&1; then
        DEBIAN_FRONTEND=noninteractive "${SUDO[@]}" apt-get update -q >>"${apt_log}" 2>&1
        if ! apt_install memcached >>"${apt_log}" 2>&1; then
            cat "${apt_log}" >&2
            echo "error: could not install memcached" >&2
            exit 1
        fi
    fi
    rm -f "${apt_log}"
    echo "installed: memcached $(memcached -V 2>/dev/null | awk '{print $2}') at $(command -v memcached)"
fi

s3s_fs_version() {
    s3s-fs --version 2>/dev/null | awk '{print $2}'
}

if command -v s3s-fs >/dev/null 2>&1 && [[ "$(s3s_fs_version)" == "${S3S_FS_VERSION}" ]]; then
    echo "found: s3s-fs ${S3S_FS_VERSION} at $(command -v s3s-fs)"
else
    # Pinned: newer s3s-fs releases need a newer rustc than the project's toolchain.
    # On stderr so stdout stays one line per dependency; without it CI looks stuck for minutes.
    echo "installing s3s-fs ${S3S_FS_VERSION} with cargo install (takes a few minutes)..." >&2
    start=$(date +%s)
    if ! cargo install "s3s-fs@${S3S_FS_VERSION}" --locked --features binary --quiet; then
        echo "error: cargo install s3s-fs@${S3S_FS_VERSION} failed" >&2
        exit 1
    fi
    if [[ "$(s3s_fs_version)" != "${S3S_FS_VERSION}" ]]; then
        echo "error: s3s-fs on PATH ($(command -v s3s-fs || echo none)) is not ${S3S_FS_VERSION}" >&2
        exit 1
    fi
    echo "installed: s3s-fs ${S3S_FS_VERSION} at $(command -v s3s-fs) in $(( $(date +%s) - start ))s"
fi

# The browser UI's build and tests: Node.js, npm and chromium.
bash "$(dirname "${BASH_SOURCE[0]}")/install-ui-deps.sh"

# What scripts/schemathesis.sh and scripts/chaos.sh use besides the servers: curl, prlimit
# (util-linux) and python3 with venv (schemathesis installs itself into a venv from PyPI).
missing=()
command -v curl >/dev/null 2>&1 || missing+=(curl)
command -v prlimit >/dev/null 2>&1 || missing+=(util-linux)
command -v python3 >/dev/null 2>&1 || missing+=(python3)
python3 -c 'import venv, ensurepip' >/dev/null 2>&1 || missing+=(python3-venv)
if [[ ${#missing[@]} -eq 0 ]]; then
    echo "found: curl, prlimit, python3 with venv"
else
    apt_log=$(mktemp)
    if ! apt_install "${missing[@]}" >"${apt_log}" 2>&1; then
        DEBIAN_FRONTEND=noninteractive "${SUDO[@]}" apt-get update -q >>"${apt_log}" 2>&1
        if ! apt_install "${missing[@]}" >>"${apt_log}" 2>&1; then
            cat "${apt_log}" >&2
            echo "error: could not install ${missing[*]}" >&2
            exit 1
        fi
    fi
    rm -f "${apt_log}"
    echo "installed: ${missing[*]}"
fi
