#!/usr/bin/env bash
# A live view's first websocket message, compressed (permessage-deflate, as browsers offer it)
# and plain: `stormscope standalone` fed by `stormscope loadgen` as 100 synthetic probes (as in
# bench-app.sh), then, after a 15 s warm-up, sockets on /api/topology/processes opened one at a
# time, alternately offering the extension and not, each read for its first message and the 5
# after it, one a second (scripts/ws-first-message.py).
#
#   scripts/bench-ws.sh [PAIRS]      PAIRS sockets of each kind (default 5)
#
# STORMSCOPE_BIN as in bench-common.sh.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
export PATH="${HOME}/.cargo/bin:${PATH}"
PAIRS="${1:-5}"

# shellcheck source=scripts/bench-common.sh
source scripts/bench-common.sh
bench_setup
bench_standalone 24145
"${BIN}" loadgen --target http://127.0.0.1:24145 --probes 100 --rate 33.3 --concurrency 16 \
    --duration "$(( 20 + 16 * PAIRS ))s" >/dev/null 2>&1 &
pids+=($!)
sleep 15
for _ in $(seq "${PAIRS}"); do
    for kind in plain deflate; do
        python3 scripts/ws-first-message.py 127.0.0.1 24145 "/api/topology/processes/ws?t=1s" "${kind}" 5
    done
done
