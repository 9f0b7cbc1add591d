#!/usr/bin/env bash
# The browser UI's check: installs ui/'s pinned packages from the lockfile (`npm ci`, which
# starts from an empty node_modules), type-checks, rebuilds the bundle into a temp dir and fails
# when it differs from the committed ui/dist/ (so the bundle in the binary is never stale), then
# runs the browser tests against the debug binary (built by scripts/test.sh before this).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/../ui"

echo "npm ci"
npm ci --no-audit --no-fund --ignore-scripts --loglevel=error

echo "tsc --noEmit"
npx --no-install tsc --noEmit -p .

out=$(mktemp -d)
trap 'rm -rf "${out}"' EXIT
node build.mjs "${out}/dist" >/dev/null
if ! diff -r "${out}/dist" dist >/dev/null; then
    echo "error: ui/dist/ is stale: rebuilding from ui/src/ gives different files." >&2
    diff -r -q "${out}/dist" dist >&2 || true
    echo "Run \`npm run build\` in ui/ and commit ui/dist/." >&2
    exit 1
fi
echo "ui/dist/ matches a clean rebuild"

echo "browser tests (node --test)"
node --test --test-concurrency=1 --test-reporter=spec test/*.test.mjs
