# Sourced by the service benchmarks (bench-app.sh, bench-multitenant.sh, bench-standalone.sh,
# bench-ws.sh): the binary to run, a scratch folder removed on exit, and a real memcached and
# s3s-fs on the given loopback ports, or a standalone.
#
#   bench_setup                             the binary and the scratch folder only
#   bench_servers MEMCACHED_PORT S3_PORT    those, and the servers
#   bench_standalone PORT [FLAGS...]        after bench_setup: `standalone --no-probe` on PORT,
#                                           ready; its pid in `standalone`
#
# Sets BIN (STORMSCOPE_BIN, or a release build made here), APP_BIN (defaults to BIN), WORK,
# and the AWS_* variables that point the collector and the app at the s3s-fs bucket `bench`.
# Processes added to `pids` are stopped on exit.

bench_setup() {
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
    trap 'kill "${pids[@]}" 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "${WORK}"' EXIT
}

bench_servers() {
    local memcached_port="$1" s3_port="$2"
    bash scripts/install-test-deps.sh >/dev/null
    bench_setup

    mkdir -p "${WORK}/s3/bench"
    memcached -l 127.0.0.1 -p "${memcached_port}" -U 0 -m 1024 -u root >"${WORK}/memcached.log" 2>&1 &
    pids+=($!)
    s3s-fs --host 127.0.0.1 --port "${s3_port}" --access-key bench --secret-key bench-secret \
        "${WORK}/s3" >"${WORK}/s3.log" 2>&1 &
    pids+=($!)
    sleep 1
    export AWS_ENDPOINT_URL="http://127.0.0.1:${s3_port}" AWS_ACCESS_KEY_ID=bench \
        AWS_SECRET_ACCESS_KEY=bench-secret AWS_REGION=us-east-1 AWS_ALLOW_HTTP=true
}

bench_standalone() {
    local port="$1"
    shift
    "${BIN}" standalone --no-probe --listen "127.0.0.1:${port}" --data-dir "${WORK}/data" \
        --log-level warn "$@" >"${WORK}/standalone.log" 2>&1 &
    standalone=$!
    pids+=("${standalone}")
    for _ in $(seq 50); do curl -sf "http://127.0.0.1:${port}/healthz" >/dev/null && break; sleep 0.1; done
}
