// AVX-512F vectors of 16 floats (built with -mavx512f ...: sk_cpu_avx512).
#pragma once
#include "../x86-intrinsics.h"
#define SK_ISA_NAMESPACE avx512
#include "f32-spmm-impl.h"

namespace sk::cpu::avx512 {
struct Ops {
  using V = __m512;
  static constexpr int W = 16;
  static constexpr int kRegisters = 32;  // vector registers
  static constexpr bool kMasked = true;
  using Mask = __mmask16;
  static Mask mask(size_t n) { return static_cast<Mask>((1u << n) - 1); }  // n in 1..16
  // Masked-off lanes are neither read nor written (no fault past the end).
  static V load_masked(const float* p, Mask m) { return _mm512_maskz_loadu_ps(m, p); }
  static void store_masked(float* p, V v, Mask m) { _mm512_mask_storeu_ps(p, m, v); }
  static V set1(float x) { return _mm512_set1_ps(x); }
  static V load(const float* p) { return _mm512_loadu_ps(p); }
  static void store(float* p, V v) { _mm512_storeu_ps(p, v); }
  static V fma(V a, V b, V c) { return _mm512_fmadd_ps(a, b, c); }
  static V add(V a, V b) { return _mm512_add_ps(a, b); }
  // maxps / minps return the second operand when either is NaN: x second keeps NaN.
  static V clamp(V x, V lo, V hi) { return _mm512_min_ps(hi, _mm512_max_ps(lo, x)); }
};
}  // namespace sk::cpu::avx512
