#!/usr/bin/env bash
# The project's test command: installs the test servers, then format check, lints, and every test.
# The tests start their own memcached and s3s-fs processes, so nothing needs to be running.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
export PATH="${HOME}/.cargo/bin:${PATH}"

step() {
    echo
    echo "==> $*"
}

step "install test dependencies"
bash scripts/install-test-deps.sh

step "cargo fmt --all --check"
cargo fmt --all --check

step "cargo clippy --workspace --all-targets -- -D warnings"
cargo clippy --workspace --all-targets --quiet -- -D warnings

step "cargo build --bin stormscope (the black-box tests start it)"
cargo build --bin stormscope

step "cargo test --workspace"
cargo test --workspace

step "browser UI: clean rebuild matches ui/dist/, browser tests (scripts/ui-check.sh)"
bash scripts/ui-check.sh

step "Helm chart and Dockerfile tests (scripts/chart-test.sh)"
bash scripts/chart-test.sh

step "schemathesis against a running standalone (scripts/schemathesis.sh)"
bash scripts/schemathesis.sh

step "a 60 s chaos run: no acknowledged report lost (scripts/chaos.sh)"
bash scripts/chaos.sh 60s

echo
echo "==> all checks passed"
