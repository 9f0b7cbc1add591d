#!/usr/bin/env bash
# A tenant's first query, many times over: the setting of bench-app.sh (a collector, memcached,
# s3s-fs and `stormscope loadgen` posting as 100 synthetic probes), but the app is started
# afresh for each sample, asked once for `processes` (14,500 nodes) and stopped. bench-app.sh
# sees one first query per run; this sees ROUNDS of them while the same probes post.
#
#   scripts/bench-first-query.sh [ROUNDS]            default 10
#
# APP_BINS="path-a path-b" alternates builds within the run, each sample on the same window
# and machine state as its neighbours (the machine's speed drifts by a quarter and more
# between runs). Prints one line per sample, then the median and maximum per build.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
export PATH="${HOME}/.cargo/bin:${PATH}"
ROUNDS="${1:-10}"

# shellcheck source=scripts/bench-common.sh
source scripts/bench-common.sh
bench_servers 21314 29103
read -r -a builds <<<"${APP_BINS:-${BIN}}"
"${BIN}" collector --listen 127.0.0.1:24152 --workers 1 --memcached 127.0.0.1:21314 \
    --object-store s3://bench --spool-dir "${WORK}/spool" --log-level warn >"${WORK}/collector.log" 2>&1 &
pids+=($!)
until curl -sf http://127.0.0.1:24152/healthz >/dev/null; do sleep 0.1; done
# Long enough for every sample; stopped on exit.
"${BIN}" loadgen --target http://127.0.0.1:24152 --probes 100 --rate 33.3 --concurrency 16 \
    --duration 3600s >/dev/null 2>&1 &
pids+=($!)
# A full window: every probe has published five times.
sleep 16

samples="${WORK}/samples"
for round in $(seq "${ROUNDS}"); do
    for build in "${builds[@]}"; do
        "${build}" app --listen 127.0.0.1:24153 --memcached 127.0.0.1:21314 \
            --object-store s3://bench --log-level warn >>"${APP_LOG:-${WORK}/app.log}" 2>&1 &
        app=$!
        until curl -sf http://127.0.0.1:24153/healthz >/dev/null; do sleep 0.05; done
        # What the app says it took, by part (Server-Timing), and the whole as the client saw it.
        line=$(curl -s -o /dev/null -D - -w 'total=%{time_total}\n' \
            http://127.0.0.1:24153/api/topology/processes | tr -d '\r' |
            awk -v build="${build}" -v round="${round}" '
                tolower($1) == "server-timing:" {
                    sub(/^[^:]*: */, "")
                    n = split($0, parts, / *, */)
                    for (i = 1; i <= n; i++) {
                        split(parts[i], kv, /;dur=/)
                        timing = timing sprintf(" %s=%.1f", kv[1], kv[2])
                    }
                }
                /^total=/ { split($0, t, "="); total = t[2] * 1000 }
                END { printf "%s round=%s first=%.1f%s\n", build, round, total, timing }')
        # The app's peak resident memory: what its first answer took, as it started empty.
        hwm=$(awk '/^VmHWM/ { printf "%.0f", $2 / 1024 }' "/proc/${app}/status")
        echo "${line} peak-rss-mib=${hwm}" | tee -a "${samples}"
        kill "${app}"
        wait "${app}" 2>/dev/null || true
    done
done
echo "--"
for build in "${builds[@]}"; do
    grep -F "${build} " "${samples}" | sed 's/.* first=\([0-9.]*\).*/\1/' | sort -n |
        awk -v build="${build}" '{ v[NR] = $1 } END {
            printf "%s: first query n=%d median=%.1fms max=%.1fms under-300ms=%d\n",
                build, NR, (NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2), v[NR],
                under(v, NR) }
            function under(v, n,   i, c) { for (i = 1; i <= n; i++) c += (v[i] < 300); return c }'
done
