// VecOps: SK_VEC_WIDTH float lanes of the kernel set being compiled, the
// vector vocabulary the attention and decode kernels are written over (set1,
// load, store, add, sub, mul, fma, max; pow2_bits, zero_below and
// finite_or_zero for their base-2 exponential and online softmax). Included
// inside an ISA's namespace (sk::cpu::<isa>, by csrc/cpu/f32-attn/
// f32-attn-impl.h) in a translation unit built with that ISA's flags, after
// its intrinsics header, so no code built for one ISA is shared with another.
#pragma once

#if SK_VEC_WIDTH == 16
struct VecOps {
  using V = __m512;
  static constexpr int W = 16;
  static V set1(float x) { return _mm512_set1_ps(x); }
  static V load(const float* p) { return _mm512_loadu_ps(p); }
  static void store(float* p, V v) { _mm512_storeu_ps(p, v); }
  static V add(V a, V b) { return _mm512_add_ps(a, b); }
  static V sub(V a, V b) { return _mm512_sub_ps(a, b); }
  static V mul(V a, V b) { return _mm512_mul_ps(a, b); }
  static V fma(V a, V b, V c) { return _mm512_fmadd_ps(a, b, c); }
  static V max(V a, V b) { return _mm512_max_ps(a, b); }
  static V pow2_bits(V t) { return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_castps_si512(t), 23)); }
  // Unordered compares: a NaN x keeps r (zero_below) and stays NaN (finite_or_zero).
  static V zero_below(V r, V x, V lim) { return _mm512_maskz_mov_ps(_mm512_cmp_ps_mask(x, lim, _CMP_NLT_UQ), r); }
  static V finite_or_zero(V x) {
    return _mm512_maskz_mov_ps(_mm512_cmp_ps_mask(x, set1(-__builtin_inff()), _CMP_NEQ_UQ), x);
  }
};
#elif SK_VEC_WIDTH == 8
struct VecOps {
  using V = __m256;
  static constexpr int W = 8;
  static V set1(float x) { return _mm256_set1_ps(x); }
  static V load(const float* p) { return _mm256_loadu_ps(p); }
  static void store(float* p, V v) { _mm256_storeu_ps(p, v); }
  static V add(V a, V b) { return _mm256_add_ps(a, b); }
  static V sub(V a, V b) { return _mm256_sub_ps(a, b); }
  static V mul(V a, V b) { return _mm256_mul_ps(a, b); }
  static V fma(V a, V b, V c) { return _mm256_fmadd_ps(a, b, c); }
  static V max(V a, V b) { return _mm256_max_ps(a, b); }
  static V pow2_bits(V t) { return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_castps_si256(t), 23)); }
  // Unordered compares: a NaN x keeps r (zero_below) and stays NaN (finite_or_zero).
  static V zero_below(V r, V x, V lim) { return _mm256_andnot_ps(_mm256_cmp_ps(x, lim, _CMP_LT_OQ), r); }
  static V finite_or_zero(V x) { return _mm256_and_ps(x, _mm256_cmp_ps(x, set1(-__builtin_inff()), _CMP_NEQ_UQ)); }
};
#elif SK_VEC_WIDTH == 4
struct VecOps {
  using V = float32x4_t;
  static constexpr int W = 4;
  static V set1(float x) { return vdupq_n_f32(x); }
  static V load(const float* p) { return vld1q_f32(p); }
  static void store(float* p, V v) { vst1q_f32(p, v); }
  static V add(V a, V b) { return vaddq_f32(a, b); }
  static V sub(V a, V b) { return vsubq_f32(a, b); }
  static V mul(V a, V b) { return vmulq_f32(a, b); }
  static V fma(V a, V b, V c) { return vfmaq_f32(c, a, b); }
  static V max(V a, V b) { return vmaxq_f32(a, b); }
  static V pow2_bits(V t) { return vreinterpretq_f32_u32(vshlq_n_u32(vreinterpretq_u32_f32(t), 23)); }
  static V zero_below(V r, V x, V lim) {  // NaN x keeps r
    return vreinterpretq_f32_u32(vbicq_u32(vreinterpretq_u32_f32(r), vcltq_f32(x, lim)));
  }
  static V finite_or_zero(V x) {
    return vreinterpretq_f32_u32(vbicq_u32(vreinterpretq_u32_f32(x), vceqq_f32(x, set1(-__builtin_inff()))));
  }
};
#else
struct VecOps {
  using V = float;
  static constexpr int W = 1;
  static V set1(float x) { return x; }
  static V load(const float* p) { return *p; }
  static void store(float* p, V v) { *p = v; }
  static V add(V a, V b) { return a + b; }
  static V sub(V a, V b) { return a - b; }
  static V mul(V a, V b) { return a * b; }
  static V fma(V a, V b, V c) { return a * b + c; }  // no FMA in the x86-64 baseline
  static V max(V a, V b) { return a > b ? a : b; }
  static V pow2_bits(V t) { return TailLanes::flt(TailLanes::bits(t) << 23); }
  static V zero_below(V r, V x, V lim) { return x < lim ? 0.0f : r; }  // NaN x keeps r
  static V finite_or_zero(V x) { return x != -__builtin_inff() ? x : 0.0f; }
};
#endif
