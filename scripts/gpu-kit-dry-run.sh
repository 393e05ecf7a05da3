#!/usr/bin/env bash
# CI's proof that the GPU kit is self-contained (docs/gpu-kit.md), on a
# machine without a GPU: builds the kit (scripts/gpu-kit.mjs), copies what
# the device tool would send (tracked and untracked-not-ignored files, plus
# .gpu-kit) into a temporary folder, and runs scripts/gpu-kit-run.sh there
# under a PATH with no node, npm, npx, corepack or xz (only the kit's Node
# can run; without xz the python3 fallback unpacks it). Then checks that every
# step reported, that each GPU step gave its "no GPU" reason, that steps 1, 2
# and 4 passed, that at most 8 files came back under $OUT (the device tool's
# limit) and that the run kept inside its budget; and runs the smoke calls
# of step 5 on the CPU with the kit's Node, since step 5 cannot run here.
#
# Usage: scripts/gpu-kit-dry-run.sh [--vitest-json FILE]
#   FILE gets the dry run's vitest JSON report (for CI's closing count).
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
vitest_json=''
[ "${1:-}" = --vitest-json ] && vitest_json=$2
budget=${SK_KIT_BUDGET_S:-360}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
log() { printf 'gpu-kit-dry-run: %s\n' "$*" >&2; }
fail() { log "FAILED: $*"; exit 1; }

if ! command -v nvcc >/dev/null && [ ! -x /usr/local/cuda/bin/nvcc ]; then
  log 'SKIPPED: nvcc is not installed here, so the kit (its CUDA addon) cannot be built'
  exit 0
fi
t0=$SECONDS
node scripts/gpu-kit.mjs
log "kit built in $((SECONDS - t0))s"

# What the device tool sends: tracked and untracked-not-ignored files, and the carried .gpu-kit.
copy=$tmp/checkout
mkdir -p "$copy"
git ls-files -z --cached --others --exclude-standard | tar --null --no-recursion --ignore-failed-read -T - -cf - | tar -xf - -C "$copy"
cp -r .gpu-kit "$copy/.gpu-kit"
sent=$(du -sb "$copy" | cut -f1)
log "sent: $((sent / 1024 / 1024)) MiB (the device tool's limit is 64 MiB)"
[ "$sent" -le $((64 * 1024 * 1024)) ] || fail "the working tree and the kit are over 64 MiB"

# A PATH of links to everything on this one but node, npm, npx, corepack and xz.
shadow=$tmp/path
mkdir -p "$shadow"
IFS=: read -r -a dirs <<<"$PATH"
for dir in "${dirs[@]}"; do
  [ -d "$dir" ] || continue
  for exe in "$dir"/*; do
    name=${exe##*/}
    case $name in node | nodejs | npm | npx | corepack | xz | unxz | xzcat) continue ;; esac
    [ -x "$exe" ] && [ ! -d "$exe" ] && [ ! -e "$shadow/$name" ] && ln -s "$exe" "$shadow/$name"
  done
done
PATH=$shadow command -v node >/dev/null && fail 'node is still on the shadow PATH'

out=$tmp/out
mkdir -p "$out"
t1=$SECONDS
rc=0
env -i HOME="$HOME" PATH="$shadow" OUT="$out" SK_KIT_BUDGET_S="$budget" SK_KIT_WORK="$tmp/work" \
  bash "$copy/scripts/gpu-kit-run.sh" || rc=$?
took=$((SECONDS - t1))
log "device script: exit $rc in ${took}s (budget ${budget}s)"
cat "$out/summary.txt"

# The checks.
files=$(find "$out" -type f | wc -l)
[ "$files" -le 8 ] || fail "$files files under \$OUT, the device tool returns 8"
[ "$took" -le $((budget + 15)) ] || fail "took ${took}s, over the ${budget}s budget"
summary=$out/summary.txt
for n in 1 2 3 4 5 6 7 8 9; do grep -qE "^step $n " "$summary" || fail "step $n did not report"; done
for n in 1 2 4; do grep -qE "^step $n +[a-z0-9]+ +[0-9]+s  pass " "$summary" || fail "step $n did not pass"; done
for n in 3 5 6 7 8 9; do grep -qE "^step $n +[a-z0-9]+ +[0-9]+s  skip  no GPU: " "$summary" || fail "step $n did not give the no-GPU reason"; done
grep -qE '^step 4 .*\(no GPU: its tests skipped\)' "$summary" || fail 'step 4 did not say its GPU tests skipped'
grep -q 'sources match' "$summary" || fail 'the kit does not match the sources it travelled with'

# The logs came back whole; the counts for CI's summary.
mkdir -p "$tmp/logs"
tar -xzf "$out/logs.tgz" -C "$tmp/logs"
grep -E '^native: ' "$tmp/logs/logs/native-tests.log"
[ -z "$vitest_json" ] || cp "$tmp/logs/logs/results/vitest-cuda.json" "$vitest_json"

# Step 5's smoke calls, on the CPU, with the kit's Node and node_modules.
(cd "$copy" && env -i HOME="$HOME" PATH="$shadow" "$tmp/work/bin/node" scripts/gpu-kit-smoke.mjs all --device cpu)
[ "$rc" -eq 0 ] || fail "the device script exited with $rc"
log "ok: kit built and dry-run in $((SECONDS - t0))s"
