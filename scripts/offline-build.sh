#!/usr/bin/env bash
# Rebuilds the stormscope binary without registries or CI (docs/offline-build.md):
#   1. copies the working tree (without target/ and .git/) to a scratch directory;
#   2. vendors every dependency into vendor/ of the copy with `cargo vendor`, from crates.io or,
#      with --from-cache, from this machine's cargo cache alone (no network at all);
#   3. builds the copy with `cargo build --release --offline --locked` against vendor/ only:
#      an empty CARGO_HOME hides the cargo cache, and where `unshare` may, the build runs in a
#      network namespace with no interfaces, so a dependency missing from vendor/ fails the
#      build instead of being downloaded.
# Usage: scripts/offline-build.sh [--from-cache] [--debug] [--keep] [OUT_DIR]
# OUT_DIR (default target/offline-build) receives the binary and vendor.tar.gz, which is what
# `docker build` needs with no registry (put it in the build context as vendor/).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
export PATH="${HOME}/.cargo/bin:${PATH}"

from_cache=() profile=release keep=false out=""
for arg in "$@"; do
    case "${arg}" in
        --from-cache) from_cache=(--offline) ;;
        --debug) profile=debug ;;
        --keep) keep=true ;;
        -h|--help) sed -n '2,13p' "$0"; exit 0 ;;
        -*) echo "unknown option ${arg}" >&2; exit 2 ;;
        *) out="${arg}" ;;
    esac
done
out="$(mkdir -p "${out:-target/offline-build}" && cd "${out:-target/offline-build}" && pwd)"

work="$(mktemp -d -t stormscope-offline-XXXXXX)"
if [[ "${keep}" != true ]]; then
    trap 'rm -rf "${work}"' EXIT
fi
echo "==> copying the workspace to ${work}"
tar --exclude=./target --exclude=./.git --exclude=./vendor --exclude=./fuzz/target \
    --exclude=./ui/node_modules -cf - . | tar -C "${work}" -xf -

echo "==> cargo vendor ${from_cache[*]}"
mkdir -p "${work}/.cargo"
(cd "${work}" && cargo vendor --locked "${from_cache[@]}" vendor > .cargo/config.toml)
echo "    $(ls "${work}/vendor" | wc -l) crates in vendor/"

# Nothing outside the copy: an empty cargo home (no registry cache, no credentials), and no
# network where a network namespace can be made.
isolate=()
if unshare --net true 2>/dev/null; then
    isolate=(unshare --net)
    echo "==> building with no network (unshare --net)"
else
    echo "==> building offline (unshare unavailable: relying on --offline and an empty CARGO_HOME)"
fi
build_flags=(--offline --locked --bin stormscope)
[[ "${profile}" == release ]] && build_flags=(--release "${build_flags[@]}")
started=$(date +%s)
(
    cd "${work}"
    env CARGO_HOME="${work}/.cargo-home" CARGO_NET_OFFLINE=true CARGO_TARGET_DIR="${work}/target" \
        RUSTUP_HOME="${RUSTUP_HOME:-${HOME}/.rustup}" \
        "${isolate[@]}" cargo build "${build_flags[@]}"
)
cp "${work}/target/${profile}/stormscope" "${out}/stormscope"
tar -C "${work}" -czf "${out}/vendor.tar.gz" vendor
echo "==> built in $(( $(date +%s) - started ))s: ${out}/stormscope"
"${out}/stormscope" --version
sha256sum "${out}/stormscope"
echo "    vendored sources: ${out}/vendor.tar.gz"
