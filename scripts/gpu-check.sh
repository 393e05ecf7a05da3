#!/usr/bin/env bash
# One run on a GPU machine, under ten minutes: build everything (TypeScript,
# the CPU addon, the CUDA addon for this GPU only), run the native C++ tests,
# the CUDA tests, then the whole vitest suite and the quick CUDA benchmark
# while time remains. Offline: node_modules must already be in place (it is
# never installed here).
#
# Logs and JSON results go to $OUT/gpu-check/ when OUT is set (so a harness
# that collects $OUT gets them even if the run is cut short), else to
# build-cuda/gpu-check/. Exit status: 0 when every step that ran passed.
#
# Env: SPARSEKIT_CUDA_ARCHS (default 90a: an H200 needs nothing else, and one
# architecture builds fastest), SK_GPU_CHECK_BUDGET_S (default 570),
# SPARSEKIT_CUSPARSELT (default: libcusparseLt.so.0 of the nvidia-cusparselt
# wheel PyTorch pulls in, when python3 finds it).
set -uo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
export SPARSEKIT_CUDA_ARCHS=${SPARSEKIT_CUDA_ARCHS:-90a}
export SPARSEKIT_BUILD_JOBS=${SPARSEKIT_BUILD_JOBS:-$(nproc)}
export PATH="$PATH:/usr/local/cuda/bin"
budget=${SK_GPU_CHECK_BUDGET_S:-570}
started=$SECONDS
logs=${OUT:+$OUT/gpu-check}
logs=${logs:-$root/build-cuda/gpu-check}
mkdir -p "$logs"
summary="$logs/summary.txt"
: >"$summary"
failed=0

say() { printf 'gpu-check: %s\n' "$*" | tee -a "$summary" >&2; }
left() { echo $((budget - (SECONDS - started))); }

# step NAME MIN_SECONDS CMD...: runs CMD with what is left of the budget as its
# timeout, logging to NAME.log; skipped when less than MIN_SECONDS remain.
step() {
  local name=$1 need=$2
  shift 2
  local remaining
  remaining=$(left)
  if [ "$remaining" -lt "$need" ]; then
    say "SKIP $name: ${remaining}s left, needs ${need}s"
    return 0
  fi
  local t0=$SECONDS rc=0
  timeout --kill-after=10 "$remaining" "$@" >"$logs/$name.log" 2>&1 || rc=$?
  if [ "$rc" -eq 0 ]; then
    say "PASS $name ($((SECONDS - t0))s)"
  else
    failed=1
    [ "$rc" -eq 124 ] && say "TIMEOUT $name ($((SECONDS - t0))s)" || say "FAIL $name: exit $rc ($((SECONDS - t0))s); tail of $name.log:"
    tail -n 30 "$logs/$name.log" | sed 's/^/    /' | tee -a "$summary" >&2
  fi
  return "$rc"
}

# node-gyp builds the CPU addon from local headers: there is no network here.
if [ -z "${npm_config_nodedir:-}" ] && [ "$(npm config get nodedir 2>/dev/null)" = "undefined" ]; then
  for dir in "$(dirname "$(command -v node)")/.." /usr /usr/local; do
    if [ -f "$dir/include/node/node_api.h" ] && [ -f "$dir/include/node/common.gypi" ]; then
      export npm_config_nodedir=$(cd "$dir" && pwd)
      break
    fi
  done
fi

{
  echo "date: $(date -u +%FT%TZ)"
  echo "node: $(node --version)  nvcc: $(nvcc --version 2>/dev/null | tail -n 1)"
  echo "archs: $SPARSEKIT_CUDA_ARCHS  jobs: $SPARSEKIT_BUILD_JOBS  nodedir: ${npm_config_nodedir:-$(npm config get nodedir 2>/dev/null)}"
  nvidia-smi --query-gpu=name,driver_version,memory.total,compute_cap --format=csv,noheader 2>&1 || echo "nvidia-smi: not available"
} >"$logs/machine.txt"
cat "$logs/machine.txt" >&2

[ -d node_modules ] || { say "FAIL: node_modules is missing (carry it; this script never installs)"; exit 1; }

# cuSPARSELt for the 2:4 linear: the wheel's copy (nvidia/cusparselt/lib), found through python3.
if [ -z "${SPARSEKIT_CUSPARSELT:-}" ]; then
  lt=$(python3 -c "
import importlib.util, os, glob
spec = importlib.util.find_spec('nvidia')
dirs = list(spec.submodule_search_locations) if spec else []
hits = [p for d in dirs for p in glob.glob(os.path.join(d, 'cusparselt', 'lib', 'libcusparseLt.so.0'))]
print(hits[0] if hits else '')" 2>/dev/null)
  [ -n "$lt" ] && export SPARSEKIT_CUSPARSELT=$lt
fi
echo "cusparselt: ${SPARSEKIT_CUSPARSELT:-not found (our mma.sp kernel only)}" | tee -a "$logs/machine.txt" >&2

if ! step build 120 npm run build; then
  say "build failed; nothing else can run"
  exit 1
fi
[ -f build-cuda/Release/sparsekit_cuda.node ] || { say "FAIL: the CUDA addon was not built (is nvcc on PATH?)"; exit 1; }

step cuda-status 10 node -e "
  const b = require('./build-cuda/Release/sparsekit_cuda.node')
  const s = b.status()
  const out = { status: s, devices: s.available ? Array.from({ length: s.deviceCount }, (_, i) => b.deviceInfo(i)) : [] }
  require('node:fs').writeFileSync(process.argv[1], JSON.stringify(out, null, 2))
  console.log(JSON.stringify(out))
  if (!s.available) process.exit(1)
" "$logs/cuda-status.json"

[ -x build/Release/sk_native_tests ] && step native-tests 30 build/Release/sk_native_tests

vitest=(node node_modules/vitest/vitest.mjs run --reporter=default --reporter=json)
step vitest-cuda 60 "${vitest[@]}" --outputFile.json="$logs/vitest-cuda.json" test/cuda

# Attention: the SASS of the kernel instances (mma.sync shows as HMMA; LDL/STL
# would be spills) when cuobjdump is installed, then the timings against
# PyTorch's SDPA. Before vitest-all, so a slow suite cannot starve them.
attention_sass() {
  command -v cuobjdump >/dev/null || { echo "cuobjdump not found: SASS not inspected"; return 0; }
  for o in build-cuda/CMakeFiles/sparsekit_cuda.dir/cuda/attention/inst/*.o; do
    echo "== $(basename "$o")"
    cuobjdump -res-usage "$o" 2>&1 | grep -E 'REG|STACK' | sed 's/^ *//'
    cuobjdump -sass "$o" | grep -oE '\b(HMMA|HGMMA|LDSM|LDGSTS|LDL|STL|MUFU\.EX2)[A-Z0-9.]*' | sort | uniq -c
  done
}
step attention-sass 10 bash -c "$(declare -f attention_sass); attention_sass"
step attention-bench 90 node scripts/gpu-attention-bench.mjs "$logs/attention-bench.json"

# 2:4 linear: first the hardware's mma.sp metadata layout against the one the
# kernels assume (cuda/sp24/fragments.h; the note marks parts of it
# unverified): a FAIL here explains any 2:4 numeric failure below.
step mma-sp-probe 20 bash -c 'nvcc -std=c++17 -arch=sm_80 -I. -o build-cuda/gpu-probe-mma-sp scripts/gpu-probe-mma-sp.cu && build-cuda/gpu-probe-mma-sp'
# Then the tests again with cuSPARSELt off (vitest-cuda above ran with it
# when found), the kernels' registers and instructions (mma.sp shows as HMMA.SP),
# then the benchmark against torch.matmul.
step linear-no-cusparselt 30 env SPARSEKIT_CUSPARSELT=0 "${vitest[@]}" --outputFile.json="$logs/vitest-linear-no-lt.json" test/cuda/linear.test.ts
linear_sass() {
  command -v cuobjdump >/dev/null || { echo "cuobjdump not found: SASS not inspected"; return 0; }
  for o in build-cuda/CMakeFiles/sparsekit_cuda.dir/cuda/sp24/inst/*.o; do
    echo "== $(basename "$o")"
    cuobjdump -res-usage "$o" 2>&1 | grep -E 'REG|STACK' | sed 's/^ *//'
    cuobjdump -sass "$o" | grep -oE '\b(HMMA|HGMMA|LDSM|LDGSTS|LDL|STL)[A-Z0-9.]*' | sort | uniq -c
  done
}
step linear-sass 10 bash -c "$(declare -f linear_sass); linear_sass"
step linear-bench 120 node scripts/gpu-linear-bench.mjs "$logs/linear-cuda.json"
cp "$logs/linear-cuda.json" bench/results/linear-cuda.json 2>/dev/null || true
# Dynamic sparse prefill: its CUDA tests by name (vitest-cuda ran them too; this
# log is theirs alone), then the prefill suite on the GPU at S 8K / 16K / 32K,
# bfloat16 (bench/results/prefill-cuda.json).
step prefill-cuda-tests 30 "${vitest[@]}" --outputFile.json="$logs/vitest-prefill-cuda.json" test/cuda/prefill.test.ts
if [ -f dist/cli/main.js ]; then
  step prefill-bench 120 node dist/cli/main.js bench --device cuda --suite prefill --out "$logs"
  cp "$logs/prefill-cuda.json" bench/results/prefill-cuda.json 2>/dev/null || true
else
  say "SKIP prefill-bench: dist/cli/main.js is missing"
fi
step vitest-all 150 "${vitest[@]}" --outputFile.json="$logs/vitest-all.json"

if [ -f dist/cli/main.js ]; then
  step bench-cuda 60 sh -c 'node dist/cli/main.js bench --device cuda --quick --json >"$1"' sh "$logs/bench-cuda.json"
  cp bench/results/*.json "$logs/" 2>/dev/null || true
else
  say "SKIP bench-cuda: dist/cli/main.js is missing"
fi

say "total $((SECONDS - started))s; $([ "$failed" -eq 0 ] && echo 'all steps passed' || echo 'FAILURES above')"
exit "$failed"
