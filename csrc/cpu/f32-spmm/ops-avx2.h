// AVX2 + FMA vectors of 8 floats (built with -mavx2 -mfma: sk_cpu_avx2).
#pragma once
#include <immintrin.h>
#define SK_ISA_NAMESPACE avx2
#include "f32-spmm-impl.h"

namespace sk::cpu::avx2 {
struct Ops {
  using V = __m256;
  static constexpr int W = 8;
  static V set1(float x) { return _mm256_set1_ps(x); }
  static V load(const float* p) { return _mm256_loadu_ps(p); }
  static void store(float* p, V v) { _mm256_storeu_ps(p, v); }
  static V fma(V a, V b, V c) { return _mm256_fmadd_ps(a, b, c); }
  // maxps / minps return the second operand when either is NaN: x second keeps NaN.
  static V clamp(V x, V lo, V hi) { return _mm256_min_ps(hi, _mm256_max_ps(lo, x)); }
};
}  // namespace sk::cpu::avx2
