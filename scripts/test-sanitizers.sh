#!/usr/bin/env bash
# Sanitizer builds of the CPU addon and the native tests, each in its own
# directory (never build/), and what runs on them:
#   asan  AddressSanitizer + UndefinedBehaviorSanitizer (build-asan/): the
#         native tests; the native fuzz target over the checks of masks, CSR,
#         2:4 and permutations (sk_parsers_fuzz); the API tests (the vitest
#         files below, the numeric suites for one ISA) and the API fuzzer
#         (test/fuzz/run.mjs) with the addon loaded into Node by LD_PRELOAD of
#         libasan.
#   tsan  ThreadSanitizer (build-tsan/): the native tests of the thread pool,
#         the job thread behind the executor, host blocks, the LRU cache, and
#         the threaded kernels.
# Sanitizers halt on their first report and write it to a log file, so a
# report in any process (a test's child included) fails the stage even where
# a test expected that process to fail. Extra arguments go to vitest.
#   scripts/test-sanitizers.sh [asan|tsan|all] [vitest args...]
# SK_SAN_FUZZ_SECONDS (default 60) and SK_SAN_NATIVE_FUZZ_SECONDS (30) set the fuzz budgets.
set -uo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
which=all
case "${1:-}" in asan|tsan|all) which=$1; shift ;; esac
jobs=$(nproc)
logs=$(mktemp -d)
failed=()
timings=()

# What the API stage runs: the public API broadly (tensors, errors, lifecycle,
# executor, workers, masks, attention, linear, sparse, prefill, decode), not the
# package / CLI / ORT / CUDA-binding files, whose native code is not ours.
api_tests=(test/errors.test.ts test/safety.test.ts test/tensor.test.ts test/lifecycle.test.ts test/interop.test.ts
  test/executor.test.ts test/worker.test.ts test/mask test/attention/errors.test.ts test/linear/errors.test.ts
  test/sparse test/prefill test/decode)

step() {  # step NAME CMD...: runs and times one step; a non-zero exit fails the stage
  local name=$1 t0=$SECONDS rc=0
  shift
  printf '\n== sanitizers: %s\n' "$name"
  "$@" || rc=$?
  timings+=("$(printf '%-22s %5ss  %s' "$name" $((SECONDS - t0)) "$([ $rc = 0 ] && echo ok || echo "FAILED ($rc)")")")
  [ $rc = 0 ] || failed+=("$name")
  return $rc
}

# A directory whose build/ node-gyp fills: the sources by symlink; with
# `copies`, its own lib/, test/ and dist/, so Node loads this build's addon
# (lib/native.ts finds it relative to the package root it runs from).
stage_dir() {
  local dir=$1 copies=${2:-}
  mkdir -p "$dir"
  for f in binding.gyp csrc cuda bench node_modules package.json; do ln -sfn "$root/$f" "$dir/$f"; done
  if [ -n "$copies" ]; then
    rm -rf "$dir/lib" "$dir/test" "$dir/dist"
    cp -r lib test dist vitest.config.ts tsconfig.json "$dir/"
  else
    ln -sfn "$root/test" "$dir/test"
  fi
}

build() {  # build DIR FLAGS TARGETS...: configures DIR, then makes TARGETS (the last one an executable)
  local dir=$1 flags=$2 log nodedir
  shift 2
  log="$logs/$(basename "$dir")-build.log"
  # Node's headers from this machine (scripts/build-cpu.mjs finds them); never a download.
  nodedir=$(node --input-type=module -e "import('$root/scripts/build-cpu.mjs').then((m) => console.log(m.nodeHeadersDir()))") || return 1
  (cd "$dir" && node "$root/node_modules/node-gyp/bin/node-gyp.js" configure --loglevel=warn --nodedir="$nodedir") || return 1
  if ! CXXFLAGS="$flags -fno-omit-frame-pointer -g1 -O1" LDFLAGS="$flags" \
    make -C "$dir/build" -j"$jobs" BUILDTYPE=Release "$@" >"$log" 2>&1; then
    grep -B2 -A8 -m5 'error' "$log"
    return 1
  fi
  [ -x "$dir/build/Release/${*: -1}" ]
}

# native_tests BINARY PREFIX: the native tests, their closing count line
# prefixed ("asan native: N passed, N failed") for .ci/run's count.
native_tests() {
  "$1" | sed "s/^native:/$2 native:/"
}

# Fails when a sanitizer wrote a report anywhere (log_path files), and shows it.
no_reports() {
  local found
  found=$(find "$logs" -name 'report.*' -size +0 2>/dev/null)
  [ -z "$found" ] && return 0
  for f in $found; do echo "---- $f"; head -c 6000 "$f"; done
  return 1
}

asan_stage() {
  local dir=build-asan
  stage_dir "$dir" copies
  step asan-build build "$dir" "-fsanitize=address,undefined -fno-sanitize=vptr -fno-sanitize-recover=all" \
    sparsekit sk_parsers_fuzz sk_native_tests || return
  local libasan
  libasan=$(readlink -f "$(g++ -print-file-name=libasan.so)")
  # Node's own allocations outlive exit (no leak check); huge allocations
  # return null so the out-of-memory paths are tested, not ASan's abort. ASan
  # writes its reports to files; UBSan (whose runtime here ignores log_path)
  # prints to stderr; both end the process with exit code 86.
  export ASAN_OPTIONS="detect_leaks=0:allocator_may_return_null=1:halt_on_error=1:exitcode=86:log_path=$logs/report"
  export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1"
  export SK_SANITIZER=asan
  step asan-native native_tests "$dir/build/Release/sk_native_tests" asan
  step asan-native-reports no_reports
  # A failing input is saved in build-asan/ (the report names the file and how to replay it).
  step asan-native-fuzz env -C "$dir" build/Release/sk_parsers_fuzz --seed "$RANDOM" --seconds "${SK_SAN_NATIVE_FUZZ_SECONDS:-30}"
  step asan-native-fuzz-reports no_reports
  local isa
  isa=$(cd "$dir" && LD_PRELOAD=$libasan node -p "require('node-gyp-build')('.').cpuInfo().isa")
  step asan-api env -C "$dir" LD_PRELOAD="$libasan" node node_modules/vitest/vitest.mjs run \
    --project api --project "isa:$isa" "${api_tests[@]}" test/numeric "$@"
  step asan-api-reports no_reports
  step asan-api-fuzz env -C "$dir" LD_PRELOAD="$libasan" node test/fuzz/run.mjs --seconds "${SK_SAN_FUZZ_SECONDS:-60}" --json "$logs/fuzz.json"
  step asan-api-fuzz-reports no_reports
  unset ASAN_OPTIONS UBSAN_OPTIONS SK_SANITIZER
}

tsan_stage() {
  local dir=build-tsan
  stage_dir "$dir"
  step tsan-build build "$dir" "-fsanitize=thread" sk_native_tests || return
  export TSAN_OPTIONS="halt_on_error=1:second_deadlock_stack=1:log_path=$logs/report"
  step tsan-native native_tests "$dir/build/Release/sk_native_tests" tsan
  step tsan-native-reports no_reports
  unset TSAN_OPTIONS
}

[ "$which" = tsan ] || asan_stage "$@"
[ "$which" = asan ] || tsan_stage
rm -rf "$logs"
printf '\n== sanitizers: steps\n'
printf '  %s\n' "${timings[@]}"
if [ ${#failed[@]} -gt 0 ]; then
  echo "sanitizers: FAILED: ${failed[*]}"
  exit 1
fi
echo "sanitizers: ok"
