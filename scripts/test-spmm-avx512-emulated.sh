#!/usr/bin/env bash
# Runs the SpMM / SpMV micro-kernel tests (test/native/spmm_test.cc) on every
# kernel in spmm.inc / spmv.inc, the AVX-512 ones included, on a CPU without
# AVX-512: the AVX-512 files are compiled against SIMDe's emulation
# (test/native/simde/immintrin.h; Debian package libsimde-dev) and the tester
# is told to run every kernel (SK_TEST_EMULATED_ISAS=1). Needs the AVX2
# objects of a normal build (npx node-gyp build).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
cd "$root"
cxx="g++ -std=c++17 -O2"
for f in csrc/cpu/f32-spmm/f32-spmm-*-avx512.cc csrc/cpu/f32-spmv/f32-spmv-avx512.cc; do
  $cxx -mavx2 -mfma -I test/native/simde -c "$f" -o "$out/emu-$(basename "$f" .cc).o"
done
for f in csrc/cpu/f32-spmm/f32-spmm-*-scalar.cc csrc/cpu/f32-spmv/f32-spmv-scalar.cc csrc/cpu/spmm/pack.cc \
         csrc/core/cpu_features.cc test/native/main.cc test/native/spmm_test.cc; do
  $cxx -c "$f" -o "$out/base-$(basename "$f" .cc).o"
done
$cxx -o "$out/spmm_emulated" "$out"/*.o build/Release/obj.target/sk_cpu_avx2/csrc/cpu/f32-spmm/*.o \
  build/Release/obj.target/sk_cpu_avx2/csrc/cpu/f32-spmv/*.o -pthread
SK_TEST_EMULATED_ISAS=1 "$out/spmm_emulated"
