#!/usr/bin/env bash
# `stormscope standalone` under the load of bench-app.sh: one process holding the collector,
# the app and its in-process cache (no memcached, no object store), fed by `stormscope loadgen`
# as 100 synthetic probes (145 processes and 300 connections each; a full report then two
# deltas, every 3 s per probe) while one client queries processes and hosts back to back.
# Prints the query latencies, the first queries, and the process's peak RSS.
#
#   scripts/bench-standalone.sh [DURATION]   querying lasts DURATION after a 15 s warm-up
#
# STORMSCOPE_BIN as in bench-common.sh; STANDALONE_ARGS adds flags to standalone.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
export PATH="${HOME}/.cargo/bin:${PATH}"
DURATION="${1:-30s}"

# shellcheck source=scripts/bench-common.sh
source scripts/bench-common.sh
bench_setup
# shellcheck disable=SC2086
bench_standalone 24144 ${STANDALONE_ARGS:-}
total=$(( 15 + $(echo "${DURATION}" | sed 's/s$//') ))
"${BIN}" loadgen --target http://127.0.0.1:24144 --probes 100 --rate 33.3 --concurrency 16 \
    --duration "${total}s" --query http://127.0.0.1:24144 --query-warmup 15s \
    --query-pid "${standalone}" 2>/dev/null
curl -s http://127.0.0.1:24144/metrics | grep '^stormscope_app_cache_bytes' || true
