#!/usr/bin/env bash
# The query benchmark of BENCHMARKS.md: a real memcached and s3s-fs, a collector and an app (as
# deployed: separate processes, sharing memcached), and `stormscope loadgen` posting as 100
# synthetic probes (145 processes and 300 connections each; a full report then two deltas, every
# 3 s per probe) while it queries the app's processes and hosts views back to back, so each
# query finds new reports. Everything listens on 127.0.0.1 and stops by itself.
#
#   scripts/bench-app.sh [DURATION]      querying lasts DURATION after a 15 s warm-up
#
# APP_BIN=path runs that binary as the app (an earlier build, to compare); APP_ARGS adds flags
# to the app. The loadgen's "first query" figures are each view's first answer after the
# warm-up: the app reads and merges the tenant's whole window for it.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
export PATH="${HOME}/.cargo/bin:${PATH}"
DURATION="${1:-30s}"

bash scripts/install-test-deps.sh >/dev/null
# STORMSCOPE_BIN=path uses that release binary instead of building one.
if [ -n "${STORMSCOPE_BIN:-}" ]; then
    BIN="${STORMSCOPE_BIN}"
else
    cargo build --release --quiet --bin stormscope
    BIN=target/release/stormscope
fi
APP_BIN="${APP_BIN:-${BIN}}"
WORK=$(mktemp -d)
pids=()
cleanup() { kill "${pids[@]}" 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "${WORK}"; }
trap cleanup EXIT

mkdir -p "${WORK}/s3/bench"
memcached -l 127.0.0.1 -p 21312 -U 0 -m 1024 -u root >"${WORK}/memcached.log" 2>&1 & pids+=($!)
s3s-fs --host 127.0.0.1 --port 29101 --access-key bench --secret-key bench-secret "${WORK}/s3" >"${WORK}/s3.log" 2>&1 & pids+=($!)
sleep 1
export AWS_ENDPOINT_URL=http://127.0.0.1:29101 AWS_ACCESS_KEY_ID=bench AWS_SECRET_ACCESS_KEY=bench-secret \
    AWS_REGION=us-east-1 AWS_ALLOW_HTTP=true
"${BIN}" collector --listen 127.0.0.1:24142 --workers 1 --memcached 127.0.0.1:21312 \
    --object-store s3://bench --spool-dir "${WORK}/spool" --log-level warn >"${WORK}/collector.log" 2>&1 &
pids+=($!)
# shellcheck disable=SC2086
"${APP_BIN}" app --listen 127.0.0.1:24143 --memcached 127.0.0.1:21312 --object-store s3://bench \
    --log-level warn ${APP_ARGS:-} >"${WORK}/app.log" 2>&1 &
app=$!
pids+=("${app}")
for port in 24142 24143; do
    for _ in $(seq 50); do curl -sf "http://127.0.0.1:${port}/healthz" >/dev/null && break; sleep 0.1; done
done
total=$(( 15 + $(echo "${DURATION}" | sed 's/s$//') ))
"${BIN}" loadgen --target http://127.0.0.1:24142 --probes 100 --rate 33.3 --concurrency 16 \
    --duration "${total}s" --query http://127.0.0.1:24143 --query-warmup 15s \
    --query-pid "${app}" 2>/dev/null
curl -s http://127.0.0.1:24143/metrics | grep '^stormscope_app_cache_bytes' || true
