#!/usr/bin/env bash
# The UI benchmark for BENCHMARKS.md: a release `stormscope standalone` (no local probe, a 1 h
# window so the topology holds still) loaded by `stormscope loadgen` with synthetic probes
# (about 145 processes and 300 connections each; PROBES=39 gives about 5,000 process nodes),
# then ui/bench/bench.mjs measures first draw, a 100-node websocket update and panning in
# Chromium (software WebGL, as CI has no GPU).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

PROBES="${PROBES:-39}"
RUNS="${RUNS:-3}"
TARGET="${CARGO_TARGET_DIR:-target}"

# STORMSCOPE_BIN runs another build (e.g. a debug one) instead of building the release.
bin="${STORMSCOPE_BIN:-}"
if [[ -z "${bin}" ]]; then
    cargo build --release --bin stormscope
    bin="${TARGET}/release/stormscope"
fi
(cd ui && [[ -d node_modules ]] || npm ci --no-audit --no-fund --ignore-scripts --loglevel=error)

data=$(mktemp -d)
port=$(node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')
url="http://127.0.0.1:${port}"
"${bin}" standalone --no-probe --window 1h --data-dir "${data}" --listen "127.0.0.1:${port}" --log-level warn &
app=$!
trap 'kill "${app}" 2>/dev/null; wait "${app}" 2>/dev/null; rm -rf "${data}"' EXIT
for _ in $(seq 50); do curl -fs "${url}/healthz" >/dev/null && break; sleep 0.2; done

# Every probe posts its full report at least once, then deltas.
"${bin}" loadgen --target "${url}" --probes "${PROBES}" --rate 40 --duration "$(( PROBES / 10 + 4 ))s" >/dev/null
sleep 2
curl -fs "${url}/api/topology?unconnected=hide" | node -e '
let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{for(const v of JSON.parse(s)) if(v.name==="Processes") console.log(`loaded: processes ${v.stats.node_count} nodes, ${v.stats.edge_count} edges`)})'

(cd ui && node bench/bench.mjs "${url}" "${RUNS}")
