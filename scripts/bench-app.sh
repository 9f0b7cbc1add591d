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
# to the app; QUERY_ARGS adds flags to the loadgen (`--query-gzip` queries as a browser does,
# gzip accepted). The loadgen's "first query" figures are each view's first answer after the
# warm-up: the app reads and merges the tenant's whole window for it.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
export PATH="${HOME}/.cargo/bin:${PATH}"
DURATION="${1:-30s}"

# shellcheck source=scripts/bench-common.sh
source scripts/bench-common.sh
bench_servers 21312 29101
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
# shellcheck disable=SC2086
"${BIN}" loadgen --target http://127.0.0.1:24142 --probes 100 --rate 33.3 --concurrency 16 \
    --duration "${total}s" --query http://127.0.0.1:24143 --query-warmup 15s \
    --query-pid "${app}" ${QUERY_ARGS:-} 2>/dev/null
curl -s http://127.0.0.1:24143/metrics | grep '^stormscope_app_cache_bytes' || true
