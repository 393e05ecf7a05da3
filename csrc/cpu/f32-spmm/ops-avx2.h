// AVX2 + FMA vectors of 8 floats (built with -mavx2 -mfma: sk_cpu_avx2).
#pragma once
#include "../x86-intrinsics.h"
#define SK_ISA_NAMESPACE avx2
#include "f32-spmm-impl.h"

namespace sk::cpu::avx2 {
struct Ops {
  using V = __m256;
  static constexpr int W = 8;
  static constexpr int kRegisters = 16;  // vector registers
  static constexpr bool kMasked = true;
  using Mask = __m256i;
  // Lanes [0, n) on (n in 1..8): the sign bit of each 32-bit lane.
  static Mask mask(size_t n) {
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int>(n)), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
  }
  // Masked-off lanes are neither read nor written (no fault past the end).
  static V load_masked(const float* p, Mask m) { return _mm256_maskload_ps(p, m); }
  static void store_masked(float* p, V v, Mask m) { _mm256_maskstore_ps(p, m, v); }
  static V set1(float x) { return _mm256_set1_ps(x); }
  static V load(const float* p) { return _mm256_loadu_ps(p); }
  static void store(float* p, V v) { _mm256_storeu_ps(p, v); }
  static V fma(V a, V b, V c) { return _mm256_fmadd_ps(a, b, c); }
  static V add(V a, V b) { return _mm256_add_ps(a, b); }
  // maxps / minps return the second operand when either is NaN: x second keeps NaN.
  static V clamp(V x, V lo, V hi) { return _mm256_min_ps(hi, _mm256_max_ps(lo, x)); }
};
}  // namespace sk::cpu::avx2
