#!/usr/bin/env bash
# The Helm chart's tests (tests/chart): Helm's own engine renders the chart (helm-python-sdk,
# no helm binary), kubernetes-validate and yamllint check the output, the rendered manifests
# start the real binary, and the Dockerfile is checked. Installs the pinned Python packages of
# tests/chart/requirements.txt into a venv once (idempotent: reinstalls only when they change).
# Needs target/debug/stormscope (scripts/test.sh builds it first), memcached and s3s-fs.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
export PATH="${HOME}/.cargo/bin:${PATH}"

venv="${STORMSCOPE_CHART_VENV:-${HOME}/.cache/stormscope-chart-venv}"
requirements=tests/chart/requirements.txt
stamp="${venv}/.requirements.sha256"
want="$(sha256sum "${requirements}" | cut -d' ' -f1)"

if ! python3 -c 'import venv, ensurepip' >/dev/null 2>&1; then
    # Debian splits venv support out of python3.
    apt-get install -y -q --no-install-recommends python3-venv >/dev/null 2>&1 \
        || { apt-get update -q >/dev/null && apt-get install -y -q --no-install-recommends python3-venv >/dev/null; }
fi
if [[ ! -x "${venv}/bin/python" || "$(cat "${stamp}" 2>/dev/null)" != "${want}" ]]; then
    echo "installing the chart tests' Python packages into ${venv}"
    python3 -m venv "${venv}"
    "${venv}/bin/pip" install --quiet --disable-pip-version-check -r "${requirements}"
    echo "${want}" > "${stamp}"
fi

cd tests/chart
exec "${venv}/bin/python" -m pytest -q -p no:cacheprovider "$@"
