#!/usr/bin/env bash
# Installs what the browser UI's check needs (scripts/ui-check.sh): Node.js with npm, to
# rebuild the bundle and run the tests, and Debian's chromium, which the tests drive through
# playwright-core. Idempotent: a machine that has them only gets the "found" lines.
set -euo pipefail

if [[ "$(id -u)" -eq 0 ]]; then
    SUDO=()
else
    SUDO=(sudo)
fi

apt_install() {
    local log
    log=$(mktemp)
    if ! DEBIAN_FRONTEND=noninteractive "${SUDO[@]}" apt-get install -y -q --no-install-recommends "$@" >"${log}" 2>&1; then
        # Package lists on a fresh machine may be missing or stale.
        DEBIAN_FRONTEND=noninteractive "${SUDO[@]}" apt-get update -q >>"${log}" 2>&1
        if ! DEBIAN_FRONTEND=noninteractive "${SUDO[@]}" apt-get install -y -q --no-install-recommends "$@" >>"${log}" 2>&1; then
            cat "${log}" >&2
            echo "error: could not install $*" >&2
            exit 1
        fi
    fi
    rm -f "${log}"
}

if command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1; then
    echo "found: node $(node --version), npm $(npm --version)"
else
    apt_install nodejs npm
    echo "installed: node $(node --version), npm $(npm --version)"
fi

node_major=$(node --version | sed 's/^v\([0-9]*\).*/\1/')
if (( node_major < 18 )); then
    echo "error: node $(node --version) is too old; the UI's build and tests need 18 or newer" >&2
    exit 1
fi

if [[ -x /usr/bin/chromium ]]; then
    echo "found: $(/usr/bin/chromium --version 2>/dev/null | head -n 1) at /usr/bin/chromium"
else
    apt_install chromium
    echo "installed: $(/usr/bin/chromium --version 2>/dev/null | head -n 1) at /usr/bin/chromium"
fi
