#!/usr/bin/env bash
# The collector load benchmark of BENCHMARKS.md: a real memcached and s3s-fs, the collector
# pinned to CPU 0 with one HTTP worker, and `stormscope loadgen` pinned to CPU 1 posting the
# busy host's real full report as 100 probes. Everything listens on 127.0.0.1 and stops by itself.
#
#   scripts/bench-collector.sh [RATE] [DURATION]     RATE 0 = as fast as it acknowledges
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
export PATH="${HOME}/.cargo/bin:${PATH}"
RATE="${1:-0}"
DURATION="${2:-30s}"
BODY="${STORMSCOPE_FIXTURES:-testdata}/scope-probe/bench-01-full.msgpack.gz"

bash scripts/install-test-deps.sh >/dev/null
cargo build --release --quiet --bin stormscope
BIN=target/release/stormscope
WORK=$(mktemp -d)
pids=()
cleanup() { kill "${pids[@]}" 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "${WORK}"; }
trap cleanup EXIT

mkdir -p "${WORK}/s3/bench"
memcached -l 127.0.0.1 -p 21311 -U 0 -m 1024 -u root >"${WORK}/memcached.log" 2>&1 & pids+=($!)
s3s-fs --host 127.0.0.1 --port 29100 --access-key bench --secret-key bench-secret "${WORK}/s3" >"${WORK}/s3.log" 2>&1 & pids+=($!)
sleep 1
AWS_ENDPOINT_URL=http://127.0.0.1:29100 AWS_ACCESS_KEY_ID=bench AWS_SECRET_ACCESS_KEY=bench-secret \
AWS_REGION=us-east-1 AWS_ALLOW_HTTP=true \
    taskset -c 0 "${BIN}" collector --listen 127.0.0.1:24141 --workers 1 --memcached 127.0.0.1:21311 \
    --object-store s3://bench --spool-dir "${WORK}/spool" --log-level warn >"${WORK}/collector.log" 2>&1 &
collector=$!
pids+=("${collector}")
for _ in $(seq 50); do curl -sf http://127.0.0.1:24141/healthz >/dev/null && break; sleep 0.1; done
echo "collector idle RSS: $(awk '/VmRSS/ {printf "%.1f MiB", $2/1024}' /proc/${collector}/status)"
taskset -c 1 "${BIN}" loadgen --target http://127.0.0.1:24141 --probes 100 --concurrency 32 \
    --rate "${RATE}" --duration "${DURATION}" --body "${BODY}" --watch-pid "${collector}" 2>/dev/null
sleep 17  # one flush interval and a little: the backlog should be empty again
echo "segments in the object store: $(find "${WORK}/s3/bench" -name '*.seg' | wc -l)," \
     "write-behind backlog: $(curl -s http://127.0.0.1:24141/metrics | awk '/^stormscope_write_behind_backlog_records/ {print $2}') records"
