#!/usr/bin/env bash
# The GPU check, on a bare GPU machine (docs/gpu-kit.md). Runs in a copy of
# the checkout with .gpu-kit/ carried (`npm run gpu:kit` builds it here) and
# needs only bash, coreutils, tar and python3 there (xz when present, else
# python3's lzma): it never calls npm or make, and the only Node it runs is
# the kit's.
#
# Steps, in order. Each has a cap; it is skipped, with the reason, when less
# than it needs is left of the budget or, for the GPU steps, when no GPU is
# usable (the reason is sk.cudaStatus()'s):
#   1 env        unpack the kit; nvidia-smi, glibc, ldd of Node, both addons,
#                the native tests and the probe (missing libraries named);
#                cuSPARSELt: the wheel's libcusparseLt.so.0 and the CUDA 13
#                library folders it needs (SPARSEKIT_CUSPARSELT, LD_LIBRARY_PATH)
#   2 info       sparsekit info --json, sk.cudaStatus(), sk.devices()
#   3 probe      the mma.sp metadata layout against cuda/sp24/fragments.h;
#                the kernels' registers and local memory (spills) by cuobjdump
#   4 tests      the native tests, then the CUDA vitest files (without a GPU
#                their host-side checks run and the GPU tests skip)
#   5 sanitizer  attention, linear, prefill, decode and FP8 attention calls
#                under compute-sanitizer memcheck, attention and FP8 attention
#                under racecheck (gpu-kit-smoke.mjs)
#   6 attention  bench: dense vs torch SDPA, 10 % block-sparse vs our dense
#   7 linear     bench: 2:4 mma.sp, cuSPARSELt and dense vs torch.matmul
#   9 fp8        the fp8 bench suite on CUDA, quick: FP8 dense and 10 % vs
#                our bf16 dense (run before 8, which takes what time is left)
#   8 prefill    the prefill bench suite on CUDA, with what time is left
# After every step it rewrites $OUT/summary.txt (a line per step: number,
# name, seconds, pass / fail / skip, the key figure) and $OUT/logs.tgz (the
# logs, and the bench JSON in logs/results/), so those two files come back
# even when the run is killed. Exit status: 0 when no step failed.
#
# Env: OUT (default $SK_KIT_WORK/out), SK_KIT_BUDGET_S (default 360),
# SK_KIT_STEPS (default "1 2 3 4 5 6 7 8 9"; 1 and 2 always run),
# SK_KIT_WORK (the kit's Node, logs; default /tmp/sk-gpu-kit), SK_KIT_FORCE=1
# (unpack over node_modules/ etc. that the kit did not put there: they are
# deleted), SPARSEKIT_CUSPARSELT (default: the wheel's, found through python3).
set -uo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root" || exit 1
kit=$root/.gpu-kit
work=${SK_KIT_WORK:-/tmp/sk-gpu-kit}
logs=$work/logs
results=$logs/results
node=$work/bin/node
OUT=${OUT:-$work/out}
budget=${SK_KIT_BUDGET_S:-360}
wanted=" ${SK_KIT_STEPS:-1 2 3 4 5 6 7 8 9} "
started=$SECONDS
rm -rf "$logs"
mkdir -p "$results" "$work/bin" "$OUT" || exit 1
export PATH="$work/bin:$PATH:/usr/local/cuda/bin"

lines=()
failures=0
kit_line='not unpacked'
gpu_line='unknown'
gpu_reason='step 2 did not run'  # '' once sk.cudaStatus() says a GPU is usable
unpacked=0
lt_line=''
deadline=0
figure=''

flush() {
  {
    echo "sparsekit GPU kit: $kit_line"
    echo "machine: $gpu_line; $(nproc) cores; budget ${budget}s; $(date -u +%FT%TZ)"
    printf '%s\n' "${lines[@]}"
    echo "total $((SECONDS - started))s of ${budget}s; $failures failed"
  } >"$work/summary.txt"
  cp "$work/summary.txt" "$OUT/summary.txt"
  tar -czf "$work/logs.tgz" -C "$work" logs && cp "$work/logs.tgz" "$OUT/logs.tgz"
}

# step N NAME NEED CAP FN: runs FN (it sets `figure`, returns 0 pass, 1 fail,
# 2 skip) with `deadline` at min(CAP, what is left); skipped when not in
# SK_KIT_STEPS or when less than NEED seconds are left.
step() {
  local n=$1 name=$2 need=$3 cap=$4 fn=$5 t0=$SECONDS rc left status
  left=$((budget - (SECONDS - started)))
  figure=''
  if [ "$n" -gt 2 ] && [[ $wanted != *" $n "* ]]; then
    rc=2 figure='not in SK_KIT_STEPS'
  elif [ "$left" -lt "$need" ]; then
    rc=2 figure="${left}s of the budget left, needs ${need}s"
  else
    deadline=$((SECONDS + (cap < left ? cap : left)))
    "$fn"
    rc=$?
  fi
  case $rc in
    0) status=pass ;;
    2) status=skip ;;
    *) status=fail failures=$((failures + 1)) ;;
  esac
  lines+=("$(printf 'step %s %-9s %4ss  %-4s  %s' "$n" "$name" $((SECONDS - t0)) "$status" "${figure//$'\n'/ }")")
  echo "${lines[-1]}" >&2
  flush
}

# within CMD...: CMD with the time left to the step's deadline; 124 when it ran out.
within() {
  local t=$((deadline - SECONDS))
  [ "$t" -ge 1 ] || return 124
  timeout --kill-after=5 "$t" "$@"
}

timed_out() { [ "$1" -eq 124 ] || [ "$1" -eq 137 ]; }
needs_kit() { [ "$unpacked" = 1 ] && return 0; figure='the kit is not unpacked (step 1)'; return 1; }
needs_gpu() { [ -z "$gpu_reason" ] && return 0; figure="no GPU: ${gpu_reason%%:*} (step 2)"; return 2; }
report() { "$node" scripts/gpu-kit-report.mjs "$@" 2>>"$logs/report.log"; }

# xz when the machine has it, else python3's lzma.
unxz_to_stdout() {
  if command -v xz >/dev/null; then xz -dc "$1"; else python3 -c 'import lzma, shutil, sys; shutil.copyfileobj(lzma.open(sys.argv[1]), sys.stdout.buffer)' "$1"; fi
}

# ---- step 1: the kit and the machine

unpack() {
  local marker=$root/.gpu-kit-unpacked d
  [ -f "$kit/manifest.json" ] || { figure='no kit: .gpu-kit/manifest.json is missing (npm run gpu:kit here, then carry .gpu-kit)'; return 1; }
  if [ ! -f "$marker" ] && [ "${SK_KIT_FORCE:-0}" != 1 ]; then
    for d in node_modules dist build build-cuda build-gpu-kit; do
      [ -e "$root/$d" ] || continue
      figure="$d/ is here and the kit did not put it there: run in a copy of the checkout (the device tool sends one) or set SK_KIT_FORCE=1"
      return 1
    done
  fi
  rm -rf "$root/node_modules" "$root/dist" "$root/build" "$root/build-cuda" "$root/build-gpu-kit" "$marker"
  unxz_to_stdout "$kit/node.xz" >"$node.tmp" && chmod +x "$node.tmp" && mv "$node.tmp" "$node" || { figure='node.xz did not unpack'; return 1; }
  unxz_to_stdout "$kit/payload.tar.xz" | tar -xf - -C "$root" || { figure='payload.tar.xz did not unpack'; return 1; }
  cp "$kit/manifest.json" "$marker"
  unpacked=1
}

# Whether the sources here are the ones the kit was built from.
kit_freshness() {
  local roots want have
  roots=$("$node" -p 'require(process.argv[1]).sourceRoots.join("\n")' "$kit/manifest.json") || return 1
  want=$("$node" -p 'require(process.argv[1]).sourceHash' "$kit/manifest.json")
  # shellcheck disable=SC2086 # one root per word
  have=$(find $roots -type f | LC_ALL=C sort | while IFS= read -r f; do sha256sum "$f"; done | sha256sum | cut -d' ' -f1)
  [ "$have" = "$want" ] && echo 'sources match' || echo 'STALE: the sources changed since the kit was built (rebuild it)'
}

# The wheel's cuSPARSELt (first line) and every lib folder of the nvidia wheels (the rest).
nvidia_libs() {
  python3 - <<'EOF'
import glob, os, site, sys
roots = []
for p in sys.path + getattr(site, 'getsitepackages', lambda: [])():
    d = os.path.realpath(os.path.join(p, 'nvidia'))
    if os.path.isdir(d) and d not in roots:
        roots.append(d)
libs = [f for r in roots for f in glob.glob(os.path.join(r, '**', 'lib*.so*'), recursive=True)]
lt = sorted(f for f in libs if os.path.basename(f) == 'libcusparseLt.so.0')
print(lt[0] if lt else '')
for d in sorted({os.path.dirname(f) for f in libs}):
    print(d)
EOF
}

# Sets SPARSEKIT_CUSPARSELT and LD_LIBRARY_PATH for the steps after it, and lt_line.
find_cusparselt() {
  if [ -n "${SPARSEKIT_CUSPARSELT:-}" ]; then
    lt_line="cuSPARSELt: SPARSEKIT_CUSPARSELT=$SPARSEKIT_CUSPARSELT (given)"
    return
  fi
  command -v python3 >/dev/null || { lt_line='cuSPARSELt: not looked for (no python3)'; return; }
  local found lt lib dir added=() missing
  found=$(nvidia_libs 2>>"$logs/env.log")
  lt=$(head -n 1 <<<"$found")
  [ -n "$lt" ] || { lt_line='cuSPARSELt: no wheel found (the 2:4 linear runs on our mma.sp)'; return; }
  # What it links and the loader cannot find, from the wheels' folders (the CUDA 13 runtime libraries).
  for lib in $(ldd "$lt" 2>/dev/null | awk '/=> not found/ { print $1 }'); do
    while IFS= read -r dir; do
      [ -e "$dir/$lib" ] || continue
      added+=("$dir")
      break
    done < <(tail -n +2 <<<"$found")
  done
  if [ ${#added[@]} -gt 0 ]; then
    LD_LIBRARY_PATH=$(IFS=:; echo "${added[*]}")${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
    export LD_LIBRARY_PATH
  fi
  export SPARSEKIT_CUSPARSELT=$lt
  { echo "== ldd $lt"; ldd "$lt"; } >>"$logs/env.log" 2>&1
  missing=$(ldd "$lt" 2>&1 | awk '/not found/ { print $1 }' | paste -sd, -)
  lt_line="cuSPARSELt: $lt${added[*]:+ (LD_LIBRARY_PATH += ${added[*]})}${missing:+; still missing: $missing}"
}

step_env() {
  local f out line missing=() smi glibc fresh rc=0
  local binaries=("$node" build/Release/sparsekit.node build-cuda/Release/sparsekit_cuda.node build/Release/sk_native_tests build-gpu-kit/gpu-probe-mma-sp)
  unpack || return 1
  if ! command -v nvidia-smi >/dev/null; then
    gpu_line='no nvidia-smi'
  elif smi=$(nvidia-smi --query-gpu=name,driver_version,memory.total,compute_cap --format=csv,noheader 2>&1); then
    gpu_line=$(head -n 1 <<<"$smi")
  else
    gpu_line="nvidia-smi failed: $(head -n 1 <<<"$smi")"
  fi
  glibc=$(getconf GNU_LIBC_VERSION 2>/dev/null || echo 'glibc unknown')
  { echo "== nvidia-smi"; nvidia-smi; echo "== $glibc; $(uname -a)"; } >>"$logs/env.log" 2>&1
  # A library or a symbol version (GLIBC_2.xx, GLIBCXX_3.4.xx) the loader cannot find.
  for f in "${binaries[@]}"; do
    out=$(ldd "$f" 2>&1)
    printf '== ldd %s\n%s\n' "$f" "$out" >>"$logs/env.log"
    while IFS= read -r line; do missing+=("$(basename "$f"): ${line#"${line%%[![:space:]]*}"}"); done < <(grep 'not found' <<<"$out")
  done
  "$node" --version >>"$logs/env.log" 2>&1 || { missing+=('the kit Node does not run'); rc=1; }
  find_cusparselt
  fresh=$(kit_freshness 2>>"$logs/env.log" || echo 'freshness unknown')
  kit_line="$("$node" -p 'const m = require(process.argv[1]); `${m.commit.slice(0, 12)}${m.uncommittedChanges ? "+changes" : ""}, built ${m.built}, node ${m.node}, CUDA ${m.cudaArchs}`' "$kit/manifest.json" 2>/dev/null); $fresh"
  [ ${#missing[@]} -eq 0 ] || rc=1
  figure="$gpu_line; $glibc; ldd: $([ ${#missing[@]} -eq 0 ] && echo 'nothing missing' || (IFS=';'; echo "MISSING ${missing[*]}")); $lt_line"
  return $rc
}

# ---- step 2: what sparsekit sees

step_info() {
  local rc line
  needs_kit || return 1
  gpu_reason='sparsekit could not be asked (see info.log)'
  within "$node" dist/cli/main.js info --json >"$results/info.json" 2>"$logs/info.log"
  rc=$?
  line=$(within "$node" scripts/gpu-kit-report.mjs status "$results/cuda-status.json" 2>>"$logs/info.log") || rc=1
  figure=${line#*$'\t'}
  case ${line%%$'\t'*} in
    gpu) gpu_reason='' ;;
    none) gpu_reason=$figure figure="CUDA unavailable: $figure" ;;
  esac
  [ "$rc" -eq 0 ] || figure="sparsekit info --json failed: $(tail -n 1 "$logs/info.log"); $figure"
  return $((rc != 0))
}

# ---- steps 3-9

# "N kernels, at most R registers, K with local memory (spills)" from cuobjdump -res-usage of the CUDA addon.
resource_usage() {
  command -v cuobjdump >/dev/null || { echo 'cuobjdump not found'; return; }
  within cuobjdump -res-usage build-cuda/Release/sparsekit_cuda.node >"$logs/res-usage.log" 2>&1 || { echo 'cuobjdump failed (see res-usage.log)'; return; }
  awk '/REG:/ {
      n++; delete v; for (i = 1; i <= NF; i++) { split($i, kv, ":"); v[kv[1]] = kv[2] + 0 }
      if (v["REG"] > reg) reg = v["REG"]; if (v["STACK"] > 0 || v["LOCAL"] > 0) spill++
    } END { printf "%d kernels, at most %d registers, %d with local memory (spills; see res-usage.log)", n, reg, spill }' "$logs/res-usage.log"
}

step_probe() {
  needs_kit || return 1
  needs_gpu || return 2
  within build-gpu-kit/gpu-probe-mma-sp >"$logs/mma-sp-probe.log" 2>&1
  local rc=$?
  figure="$(tail -n 1 "$logs/mma-sp-probe.log"); $(resource_usage)"
  timed_out $rc && figure="timed out; $figure"
  return $((rc != 0))
}

step_tests() {
  local rc=0 native vitest
  needs_kit || return 1
  within build/Release/sk_native_tests >"$logs/native-tests.log" 2>&1 || rc=1
  native=$(grep -E '^native: ' "$logs/native-tests.log" || echo 'native tests: no summary (timed out?)')
  within env NO_COLOR=1 "$node" node_modules/vitest/vitest.mjs run --reporter=default --reporter=json \
    --outputFile.json="$results/vitest-cuda.json" test/cuda test/attention/cuda.test.ts >"$logs/vitest-cuda.log" 2>&1
  local vrc=$?
  [ "$vrc" -eq 0 ] || rc=1
  if timed_out $vrc; then # no JSON report then: count the files the default reporter finished
    vitest="vitest timed out: $(grep -cE '^ *✓ (\|[a-z0-9:]+\| )?test/' "$logs/vitest-cuda.log") files passed, $(grep -cE '^ *[×❯] (\|[a-z0-9:]+\| )?test/' "$logs/vitest-cuda.log") failed (see vitest-cuda.log)"
  else
    vitest=$(report vitest "$results/vitest-cuda.json" || echo 'vitest: no report (see vitest-cuda.log)')
  fi
  figure="$native; $vitest"
  [ -n "$gpu_reason" ] && figure="$figure (no GPU: its tests skipped)"
  return $rc
}

# sanitize LOG TOOL SMOKE-OP [ENV...]: one smoke call under compute-sanitizer; prints "op N" (errors or hazards).
sanitize() {
  local log=$logs/$1 tool=$2 op=$3 rc count
  shift 3
  within env "$@" compute-sanitizer --tool "$tool" --error-exitcode 9 --print-limit 20 "$node" scripts/gpu-kit-smoke.mjs "$op" >"$log" 2>&1
  rc=$?
  count=$(grep -oE '(ERROR|RACECHECK) SUMMARY: [0-9]+' "$log" | grep -oE '[0-9]+$' | tail -n 1)
  if timed_out $rc; then echo "$op timed out"; return 1; fi
  echo "$op ${count:-?}"
  [ "$rc" -eq 0 ]
}

step_sanitizer() {
  local rc=0 mem=() race
  needs_kit || return 1
  needs_gpu || return 2
  command -v compute-sanitizer >/dev/null || { figure='compute-sanitizer not found'; return 1; }
  mem+=("$(sanitize memcheck-attention.log memcheck attention)") || rc=1
  # Our mma.sp kernel, not cuSPARSELt's: ours is the code that never ran on a GPU.
  mem+=("$(sanitize memcheck-linear.log memcheck linear SPARSEKIT_CUSPARSELT=0)") || rc=1
  mem+=("$(sanitize memcheck-prefill.log memcheck prefill)") || rc=1
  mem+=("$(sanitize memcheck-decode.log memcheck decode)") || rc=1
  mem+=("$(sanitize memcheck-fp8.log memcheck fp8)") || rc=1
  race=$(sanitize racecheck-attention.log racecheck attention) || rc=1
  # FP8 transposes V in shared memory between barriers: its own racecheck.
  race+=",$(sanitize racecheck-fp8.log racecheck fp8)" || rc=1
  figure="memcheck errors: $(IFS=,; echo "${mem[*]}"); racecheck hazards: $race"
  return $rc
}

# bench KIND JSON CMD...: a bench step; CMD logs to KIND-bench.log, the figure is read from JSON.
bench() {
  local kind=$1 json=$2 rc
  shift 2
  needs_kit || return 1
  needs_gpu || return 2
  within "$@" >"$logs/$kind-bench.log" 2>&1
  rc=$?
  figure=$(report "$kind" "$json" || echo "no results (see $kind-bench.log)")
  timed_out $rc && figure="timed out; $figure"
  return $((rc != 0))
}

step_attention() {
  bench attention "$results/attention-sdpa-cuda.json" \
    env SK_ATTN_BENCH_SEQS=4096,16384 "$node" scripts/gpu-attention-bench.mjs "$results/attention-sdpa-cuda.json"
}
step_linear() { bench linear "$results/linear-cuda.json" "$node" scripts/gpu-linear-bench.mjs "$results/linear-cuda.json"; }
step_prefill() {
  bench prefill "$results/prefill-cuda.json" "$node" dist/cli/main.js bench --device cuda --suite prefill --out "$results"
}
step_fp8() {
  bench fp8 "$results/fp8-cuda.json" "$node" dist/cli/main.js bench --device cuda --suite fp8 --quick --out "$results"
}

flush
step 1 env 0 60 step_env
step 2 info 0 30 step_info
step 3 probe 10 30 step_probe
step 4 tests 60 120 step_tests
step 5 sanitizer 40 140 step_sanitizer
step 6 attention 45 60 step_attention
step 7 linear 45 60 step_linear
step 9 fp8 30 90 step_fp8
step 8 prefill 60 600 step_prefill
exit $((failures > 0))
