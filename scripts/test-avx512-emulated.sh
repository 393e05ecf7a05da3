#!/usr/bin/env bash
# Runs the micro-kernel tests of the SpMM / SpMV (test/native/spmm_test.cc)
# and linear (test/native/linear_ukernel_test.cc: dense gemm / gemv / packw
# and 2:4) families on every kernel of their lists, the AVX-512 ones
# included, on a CPU without AVX-512: the AVX-512 files are compiled against
# SIMDe's emulation (test/native/simde/immintrin.h; Debian package
# libsimde-dev) and the testers are told to run every kernel
# (SK_TEST_EMULATED_ISAS=1). Needs the AVX2 objects of a normal build
# (npm run build:cpu).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
cd "$root"
cxx="g++ -std=c++17 -O2"
avx2=build/Release/obj.target/sk_cpu_avx2/csrc/cpu
for f in csrc/cpu/f32-spmm/f32-spmm-*-avx512.cc csrc/cpu/f32-spmv/f32-spmv-avx512.cc \
         csrc/cpu/f32-gemm/f32-gemm-*-avx512.cc csrc/cpu/f32-sp24/f32-sp24-*-avx512.cc; do
  $cxx -mavx2 -mfma -mf16c -I test/native/simde -c "$f" -o "$out/emu-$(basename "$f" .cc).o"
done
for f in csrc/cpu/f32-spmm/f32-spmm-*-scalar.cc csrc/cpu/f32-spmv/f32-spmv-scalar.cc csrc/cpu/f32-spmm/pack.cc \
         csrc/cpu/f32-gemm/f32-gemm-*-scalar.cc csrc/cpu/f32-sp24/f32-sp24-*-scalar.cc \
         csrc/core/cpu_features.cc test/native/main.cc test/native/spmm_test.cc \
         test/native/linear_ukernel_test.cc; do
  $cxx -c "$f" -o "$out/base-$(basename "$f" .cc).o"
done
$cxx -o "$out/avx512_emulated" "$out"/*.o "$avx2"/f32-spmm/*.o "$avx2"/f32-spmv/*.o "$avx2"/f32-gemm/*.o \
  "$avx2"/f32-sp24/*.o -pthread
SK_TEST_EMULATED_ISAS=1 "$out/avx512_emulated"
