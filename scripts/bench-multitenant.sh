#!/usr/bin/env bash
# The multitenant benchmark of BENCHMARKS.md: 50 tenants of 4 synthetic probes each (145
# processes and 300 connections per probe; a full report then two deltas, every 3 s per probe),
# posted to a collector while one client queries every tenant's hosts and processes views in
# turn. The collector and the app run as deployed (separate processes, real memcached and
# s3s-fs) with the tenant taken from the X-Scope-OrgID header. Prints the query latencies
# (each tenant's first query apart), the app's peak RSS, and the live windows' bytes per tenant.
#
#   scripts/bench-multitenant.sh [DURATION]   querying lasts DURATION after a 15 s warm-up
#
# TENANTS and PROBES_PER_TENANT change the shape; APP_BIN and APP_ARGS as in bench-app.sh. The
# app runs with WARM_MEMORY (default 0, not the app's 128MiB): memory faulted in at startup
# would count as idle and hide the first tenants' memory in it.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
export PATH="${HOME}/.cargo/bin:${PATH}"
DURATION="${1:-30s}"
TENANTS="${TENANTS:-50}"
PROBES_PER_TENANT="${PROBES_PER_TENANT:-4}"
PROBES=$(( TENANTS * PROBES_PER_TENANT ))

# shellcheck source=scripts/bench-common.sh
source scripts/bench-common.sh
bench_servers 21313 29102
"${BIN}" collector --listen 127.0.0.1:24152 --workers 1 --memcached 127.0.0.1:21313 \
    --object-store s3://bench --spool-dir "${WORK}/spool" --tenancy header --log-level warn \
    >"${WORK}/collector.log" 2>&1 &
pids+=($!)
# shellcheck disable=SC2086
"${APP_BIN}" app --listen 127.0.0.1:24153 --memcached 127.0.0.1:21313 --object-store s3://bench \
    --tenancy header --log-level warn --warm-memory "${WARM_MEMORY:-0}" ${APP_ARGS:-} >"${WORK}/app.log" 2>&1 &
app=$!
pids+=("${app}")
for port in 24152 24153; do
    for _ in $(seq 50); do curl -sf "http://127.0.0.1:${port}/healthz" >/dev/null && break; sleep 0.1; done
done
idle_kib=$(awk '/VmRSS/ {print $2}' "/proc/${app}/status")
total=$(( 15 + $(echo "${DURATION}" | sed 's/s$//') ))
rate=$(awk "BEGIN {printf \"%.1f\", ${PROBES} / 3}")
"${BIN}" loadgen --target http://127.0.0.1:24152 --probes "${PROBES}" --tenants "${TENANTS}" \
    --tenant bench --rate "${rate}" --concurrency 16 --duration "${total}s" \
    --query http://127.0.0.1:24153 --query-warmup 15s --query-pid "${app}" 2>/dev/null
peak_kib=$(awk '/VmHWM/ {print $2}' "/proc/${app}/status")
live=$(curl -s http://127.0.0.1:24153/metrics | awk '/^stormscope_app_cache_bytes\{cache="live_windows"\}/ {print $2}')
curl -s http://127.0.0.1:24153/metrics | grep '^stormscope_app_cache_bytes' || true
awk -v idle="${idle_kib}" -v peak="${peak_kib}" -v live="${live:-0}" -v n="${TENANTS}" 'BEGIN {
    printf "%d tenants: app idle RSS %.1f MiB, peak %.1f MiB, (peak - idle) per tenant %.2f MiB, live window bytes per tenant %.2f MiB\n",
        n, idle / 1024, peak / 1024, (peak - idle) / 1024 / n, live / 1048576 / n }'
