#!/usr/bin/env bash
# A chaos run: proves that nothing a collector acknowledged is lost while things break.
#
# Runs two collectors, an app, memcached and s3s-fs as real processes, with 50 simulated probes
# posting real probe bodies (`stormscope loadgen`, 25 per collector, each post a report id of
# its own) and the app queried meanwhile, and injects faults at random until DURATION is over:
#   collector-kill   kill -9 of a collector, restarted on the same spool a moment later
#   memcached-stop   SIGSTOP of memcached, SIGCONT a few seconds later
#   s3-kill          kill of s3s-fs, restarted on the same data a few seconds later
#   spool-full       a collector's spool volume full: its file-size limit (RLIMIT_FSIZE) drops
#                    below one report, so every spool write fails, then is lifted again
# Then it heals everything, lets the collectors drain and stop, and audits the object store:
# every report that got a 200 must be in a segment (by its report id), and no report refused
# with an error status may be there. It prints the faults by kind and the counts, and exits
# non-zero if any acknowledged report is lost or any refused one was stored.
#
# Usage: scripts/chaos.sh DURATION      (60s, 10m, or seconds)
# Needs: memcached, s3s-fs, prlimit, curl, python3, and target/debug/stormscope (or
# $STORMSCOPE_BIN). Set CHAOS_SEED for a repeatable sequence of faults.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
export PATH="${HOME}/.cargo/bin:${PATH}"

DURATION="${1:?usage: scripts/chaos.sh DURATION (e.g. 60s, 10m)}"
case "${DURATION}" in
    *m) SECS=$(( ${DURATION%m} * 60 )) ;;
    *s) SECS=${DURATION%s} ;;
    *) SECS=${DURATION} ;;
esac
BIN="${STORMSCOPE_BIN:-${CARGO_TARGET_DIR:-target}/debug/stormscope}"
[ -x "${BIN}" ] || { echo "missing ${BIN}: run cargo build --bin stormscope" >&2; exit 1; }
RANDOM=${CHAOS_SEED:-$$}
BODY=testdata/scope-probe/hostA-01-full.msgpack.gz
BUCKET=chaos

WORK="$(mktemp -d -t stormscope-chaos-XXXXXX)"
declare -A PIDS=()
cleanup() {
    for name in "${!PIDS[@]}"; do
        kill -CONT "${PIDS[$name]}" 2>/dev/null || true
        kill -9 "${PIDS[$name]}" 2>/dev/null || true
    done
    wait 2>/dev/null || true
    if [ "${CHAOS_KEEP:-0}" = 1 ]; then echo "kept ${WORK}"; else rm -rf "${WORK}"; fi
}
trap cleanup EXIT

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
wait_port() {
    for _ in $(seq 200); do
        (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
        sleep 0.05
    done
    echo "nothing listens on port $1" >&2
    return 1
}
log() { echo "[chaos $(date +%T)] $*"; }

MC_PORT=$(free_port)
S3_PORT=$(free_port)
APP_PORT=$(free_port)
C_PORTS=("$(free_port)" "$(free_port)")
mkdir -p "${WORK}/s3/${BUCKET}"

export AWS_ENDPOINT_URL="http://127.0.0.1:${S3_PORT}" AWS_ACCESS_KEY_ID=chaos \
    AWS_SECRET_ACCESS_KEY=chaos-secret AWS_REGION=us-east-1 AWS_ALLOW_HTTP=true

start_memcached() {
    memcached -l 127.0.0.1 -p "${MC_PORT}" -U 0 -m 64 -u root >>"${WORK}/memcached.log" 2>&1 &
    PIDS[memcached]=$!
    wait_port "${MC_PORT}"
}
start_s3() {
    s3s-fs --host 127.0.0.1 --port "${S3_PORT}" --access-key chaos --secret-key chaos-secret \
        "${WORK}/s3" >>"${WORK}/s3.log" 2>&1 &
    PIDS[s3]=$!
    wait_port "${S3_PORT}"
}
# Its output goes through a pipe, as under a service manager: the spool-full fault limits the
# collector's file sizes, which must not reach its log.
start_collector() {
    local i=$1
    "${BIN}" collector --listen "127.0.0.1:${C_PORTS[$i]}" --spool-dir "${WORK}/spool-${i}" \
        --object-store "s3://${BUCKET}" --object-store-timeout 2s \
        --memcached "127.0.0.1:${MC_PORT}" --flush-interval 2s --collector-id "chaos-${i}" \
        --workers 2 > >(cat >>"${WORK}/collector-${i}.log") 2>&1 &
    PIDS[collector-${i}]=$!
    wait_port "${C_PORTS[$i]}"
}
start_app() {
    "${BIN}" app --listen "127.0.0.1:${APP_PORT}" --object-store "s3://${BUCKET}" \
        --object-store-timeout 2s --memcached "127.0.0.1:${MC_PORT}" --workers 2 \
        >>"${WORK}/app.log" 2>&1 &
    PIDS[app]=$!
    wait_port "${APP_PORT}"
}

start_memcached
start_s3
start_collector 0
start_collector 1
start_app
log "memcached :${MC_PORT}, s3s-fs :${S3_PORT}, collectors :${C_PORTS[0]} :${C_PORTS[1]}, app :${APP_PORT}; ${SECS}s of faults"

# 25 probes per collector, each reporting every 3 s as Scope's probes do.
LOADGENS=()
for i in 0 1; do
    query=()
    [ "$i" = 0 ] && query=(--query "http://127.0.0.1:${APP_PORT}" --query-warmup 5s)
    "${BIN}" loadgen --target "http://127.0.0.1:${C_PORTS[$i]}" --probes 25 --rate 8.33 \
        --concurrency 32 --duration "${SECS}s" --body "${BODY}" --id-prefix "chaos${i}" \
        --acked-file "${WORK}/acked-${i}" --refused-file "${WORK}/refused-${i}" "${query[@]}" \
        >"${WORK}/loadgen-${i}.out" 2>"${WORK}/loadgen-${i}.err" &
    LOADGENS+=($!)
done

declare -A FAULTS=([collector-kill]=0 [memcached-stop]=0 [s3-kill]=0 [spool-full]=0)
KINDS=(collector-kill memcached-stop s3-kill spool-full)
deadline=$(( $(date +%s) + SECS ))
pause() { sleep "$(( $1 + RANDOM % ($2 - $1 + 1) ))"; }
while [ "$(date +%s)" -lt $(( deadline - 4 )) ]; do
    pause 2 5
    kind=${KINDS[$(( RANDOM % ${#KINDS[@]} ))]}
    i=$(( RANDOM % 2 ))
    case "${kind}" in
        collector-kill)
            log "kill -9 collector-${i}"
            kill -9 "${PIDS[collector-${i}]}"
            wait "${PIDS[collector-${i}]}" 2>/dev/null || true
            pause 1 3
            start_collector "${i}"
            ;;
        memcached-stop)
            log "SIGSTOP memcached"
            kill -STOP "${PIDS[memcached]}"
            pause 2 5
            kill -CONT "${PIDS[memcached]}"
            ;;
        s3-kill)
            log "kill s3s-fs"
            kill -9 "${PIDS[s3]}"
            wait "${PIDS[s3]}" 2>/dev/null || true
            pause 2 5
            start_s3
            ;;
        spool-full)
            log "spool of collector-${i} full"
            prlimit --pid "${PIDS[collector-${i}]}" --fsize=1024:unlimited
            pause 2 5
            # The collector may have been killed meanwhile; its successor has no limit.
            prlimit --pid "${PIDS[collector-${i}]}" --fsize=unlimited:unlimited 2>/dev/null || true
            ;;
    esac
    FAULTS[${kind}]=$(( FAULTS[${kind}] + 1 ))
done

for pid in "${LOADGENS[@]}"; do wait "${pid}"; done
log "probes done; letting the collectors drain"

backlog() {
    curl -sf "http://127.0.0.1:$1/metrics" \
        | awk '/^stormscope_write_behind_backlog_records / {print $2}' || echo unknown
}
for i in 0 1; do
    for _ in $(seq 120); do
        [ "$(backlog "${C_PORTS[$i]}")" = 0 ] && break
        sleep 0.5
    done
done
# A graceful stop drains what is left; the spool would keep the rest for the next start.
for i in 0 1; do
    kill -TERM "${PIDS[collector-${i}]}"
    wait "${PIDS[collector-${i}]}" 2>/dev/null || true
    unset "PIDS[collector-${i}]"
done

cat "${WORK}"/acked-* | sort -u >"${WORK}/acked"
cat "${WORK}"/refused-* | sort -u >"${WORK}/refused"
"${BIN}" report ids "${WORK}/s3/${BUCKET}" | sort -u >"${WORK}/found"
acked=$(wc -l <"${WORK}/acked")
refused=$(wc -l <"${WORK}/refused")
found=$(comm -12 "${WORK}/acked" "${WORK}/found" | wc -l)
lost=$(comm -23 "${WORK}/acked" "${WORK}/found" | wc -l)
refused_stored=$(comm -12 "${WORK}/refused" "${WORK}/found" | wc -l)
in_store=$(wc -l <"${WORK}/found")

echo
echo "chaos run of ${SECS}s"
for kind in "${KINDS[@]}"; do
    printf '  faults %-15s %d\n' "${kind}" "${FAULTS[${kind}]}"
done
echo "  acknowledged          ${acked}"
echo "  found                 ${found}"
echo "  lost                  ${lost}"
echo "  refused               ${refused}"
echo "  refused yet stored    ${refused_stored}"
echo "  reports in the store  ${in_store} (acknowledged, plus any sent whose answer the probe never got)"
sed -n 's/^/  loadgen 0: /p' "${WORK}/loadgen-0.out" | tail -4
sed -n 's/^/  loadgen 1: /p' "${WORK}/loadgen-1.out" | tail -1

status=0
if [ "${acked}" -eq 0 ]; then echo "FAIL: nothing was acknowledged" >&2; status=1; fi
if [ "${lost}" -gt 0 ]; then
    echo "FAIL: ${lost} acknowledged reports are not in the object store, e.g.:" >&2
    comm -23 "${WORK}/acked" "${WORK}/found" | head -5 >&2
    status=1
fi
if [ "${refused_stored}" -gt 0 ]; then
    echo "FAIL: ${refused_stored} refused reports were stored, e.g.:" >&2
    comm -12 "${WORK}/refused" "${WORK}/found" | head -5 >&2
    status=1
fi
if [ "${status}" -ne 0 ]; then
    CHAOS_KEEP=1
    for f in "${WORK}"/collector-*.log; do echo "--- ${f}" >&2; tail -20 "${f}" >&2; done
fi
exit "${status}"
