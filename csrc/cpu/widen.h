// Narrow types → float32 lanes in registers, one vector of SK_VEC_WIDTH
// elements per call, for kernels that read 16-bit or FP8 data in place (decode
// pages; FP8 prefill tiles) instead of converting it to a float32 copy first.
// Included inside an ISA's namespace (sk::cpu::<isa>) by a translation unit
// built with that ISA's flags, after its intrinsics header; the scalar set
// uses csrc/core/cast_math.h. Every function is exact, except that the FP8
// NaN codes (0x7F, 0xFF) read as ±1.875 (= ±480 / 256) on the vector paths:
// callers keep NaN out of FP8 codes (the decode cache puts it in a page's scale).
//
//   Widen::f32(p)        W floats
//   Widen::f16(p)        W float16 codes
//   Widen::bf16(p)       W bfloat16 codes
//   Widen::e4m3_256(p)   W float8e4m3fn codes, each as value / 256: the code's
//                        magnitude bits land in a float16 (exponent bias 15, not
//                        7), so the caller folds kE4m3Widen256 into its scale
//   Widen::e4m3_2m120(p) W float8e4m3fn codes, each as value · 2^-120 (exact; the
//                        smallest codes are float32 subnormals): the sign-extended
//                        byte shifted into a float32's top bits, its exponent field
//                        keeping e4m3's bias 7, not 127. One widening move, a shift
//                        and an and, against e4m3_256's four (no float16 convert)
//   Widen::e5m2(p)       W float8e5m2 codes: each is the top byte of a float16
//                        (exact, Inf and NaN included)
//   Widen::bf16x2(p, a, b)       2W bfloat16 codes (one load), as two vectors
//   Widen::bf16x2(p0, p1, a, b)  W bfloat16 codes at p0 and W at p1
//                        in a lane order of their own: a bfloat16 is the top
//                        half of a float32, so a mask and a shift per W codes
//                        widen them where they lie, with no move across lanes.
//                        Lane-wise math on a and b (FMAs with a broadcast)
//                        keeps that order; interleave puts results back
//   Widen::interleave(a, b, lo, hi)
//                        of vectors in bf16x2's order: lo in the order of the
//                        first W codes (p0's), hi of the next W (p1's)
#pragma once
#include <stdint.h>
#include <string.h>

#include "../core/cast_math.h"

constexpr float kE4m3Widen256 = 256.0f;      // what Widen::e4m3_256's results are to be multiplied by
constexpr float kE4m3Widen2p120 = 0x1p120f;  // … and Widen::e4m3_2m120's
constexpr int kE4m3Shift = 20, kE4m3Keep = static_cast<int>(0x87FFFFFFu);  // byte bits 6..0 → 26..20; sign: bit 31

#if SK_VEC_WIDTH == 16
struct Widen {
  static __m512 f32(const float* p) { return _mm512_loadu_ps(p); }
  static __m512 f16(const uint16_t* p) {
    return _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
  }
  static __m512 bf16(const uint16_t* p) {
    const __m512i w = _mm512_cvtepu16_epi32(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
    return _mm512_castsi512_ps(_mm512_slli_epi32(w, 16));
  }
  // Sign-extending the byte puts the sign in bits 15..7; shifted left by 7 it
  // lands in bit 15 (and 14, cleared), the magnitude in bits 13..7.
  static __m512 e4m3_256(const uint8_t* p) {
    const __m256i w = _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
    return _mm512_cvtph_ps(_mm256_and_si256(_mm256_slli_epi16(w, 7), _mm256_set1_epi16(static_cast<short>(0xBFFF))));
  }
  static __m512 e4m3_2m120(const uint8_t* p) {
    const __m512i w = _mm512_cvtepi8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
    return _mm512_castsi512_ps(_mm512_and_si512(_mm512_slli_epi32(w, kE4m3Shift), _mm512_set1_epi32(kE4m3Keep)));
  }
  static __m512 e5m2(const uint8_t* p) {
    const __m256i w = _mm256_cvtepu8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
    return _mm512_cvtph_ps(_mm256_slli_epi16(w, 8));
  }
  static void bf16x2(__m512i w, __m512& a, __m512& b) {  // a: the even codes, b: the odd ones
    a = _mm512_castsi512_ps(_mm512_slli_epi32(w, 16));
    b = _mm512_castsi512_ps(_mm512_and_si512(w, _mm512_set1_epi32(static_cast<int>(0xFFFF0000u))));
  }
  static void bf16x2(const uint16_t* p, __m512& a, __m512& b) { bf16x2(_mm512_loadu_si512(p), a, b); }
  static void bf16x2(const uint16_t* p0, const uint16_t* p1, __m512& a, __m512& b) {
    const __m256i lo = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p0));
    bf16x2(_mm512_inserti64x4(_mm512_castsi256_si512(lo), _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p1)), 1),
           a, b);
  }
  static void interleave(__m512 a, __m512 b, __m512& lo, __m512& hi) {
    lo = _mm512_permutex2var_ps(a, _mm512_setr_epi32(0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23), b);
    hi = _mm512_permutex2var_ps(a, _mm512_setr_epi32(8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31), b);
  }
};
#elif SK_VEC_WIDTH == 8
struct Widen {
  static __m256 f32(const float* p) { return _mm256_loadu_ps(p); }
  static __m256 f16(const uint16_t* p) { return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p))); }
  static __m256 bf16(const uint16_t* p) {
    const __m256i w = _mm256_cvtepu16_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
    return _mm256_castsi256_ps(_mm256_slli_epi32(w, 16));
  }
  static __m256 e4m3_256(const uint8_t* p) {
    const __m128i w = _mm_cvtepi8_epi16(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(p)));
    return _mm256_cvtph_ps(_mm_and_si128(_mm_slli_epi16(w, 7), _mm_set1_epi16(static_cast<short>(0xBFFF))));
  }
  static __m256 e4m3_2m120(const uint8_t* p) {
    const __m256i w = _mm256_cvtepi8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(p)));
    return _mm256_castsi256_ps(_mm256_and_si256(_mm256_slli_epi32(w, kE4m3Shift), _mm256_set1_epi32(kE4m3Keep)));
  }
  static __m256 e5m2(const uint8_t* p) {
    const __m128i w = _mm_cvtepu8_epi16(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(p)));
    return _mm256_cvtph_ps(_mm_slli_epi16(w, 8));
  }
  static void bf16x2(__m256i w, __m256& a, __m256& b) {  // a: the even codes, b: the odd ones
    a = _mm256_castsi256_ps(_mm256_slli_epi32(w, 16));
    b = _mm256_castsi256_ps(_mm256_and_si256(w, _mm256_set1_epi32(static_cast<int>(0xFFFF0000u))));
  }
  static void bf16x2(const uint16_t* p, __m256& a, __m256& b) {
    bf16x2(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)), a, b);
  }
  static void bf16x2(const uint16_t* p0, const uint16_t* p1, __m256& a, __m256& b) {
    bf16x2(_mm256_loadu2_m128i(reinterpret_cast<const __m128i*>(p1), reinterpret_cast<const __m128i*>(p0)), a, b);
  }
  static void interleave(__m256 a, __m256 b, __m256& lo, __m256& hi) {
    const __m256 x = _mm256_unpacklo_ps(a, b), y = _mm256_unpackhi_ps(a, b);  // within each 128-bit half
    lo = _mm256_permute2f128_ps(x, y, 0x20);
    hi = _mm256_permute2f128_ps(x, y, 0x31);
  }
};
#elif SK_VEC_WIDTH == 4
struct Widen {
  static float32x4_t f32(const float* p) { return vld1q_f32(p); }
  static float32x4_t f16(const uint16_t* p) { return vcvt_f32_f16(vreinterpret_f16_u16(vld1_u16(p))); }
  static float32x4_t bf16(const uint16_t* p) { return vreinterpretq_f32_u32(vshll_n_u16(vld1_u16(p), 16)); }
  static float32x4_t e4m3_256(const uint8_t* p) {
    uint32_t four;
    memcpy(&four, p, 4);
    const int16x8_t w = vmovl_s8(vreinterpret_s8_u32(vdup_n_u32(four)));
    const int16x8_t h = vandq_s16(vshlq_n_s16(w, 7), vdupq_n_s16(static_cast<int16_t>(0xBFFF)));
    return vcvt_f32_f16(vreinterpret_f16_s16(vget_low_s16(h)));
  }
  static float32x4_t e4m3_2m120(const uint8_t* p) {
    uint32_t four;
    memcpy(&four, p, 4);
    const int32x4_t w = vmovl_s16(vget_low_s16(vmovl_s8(vreinterpret_s8_u32(vdup_n_u32(four)))));
    return vreinterpretq_f32_s32(vandq_s32(vshlq_n_s32(w, kE4m3Shift), vdupq_n_s32(kE4m3Keep)));
  }
  static float32x4_t e5m2(const uint8_t* p) {
    uint32_t four;
    memcpy(&four, p, 4);
    const uint16x8_t w = vshlq_n_u16(vmovl_u8(vreinterpret_u8_u32(vdup_n_u32(four))), 8);
    return vcvt_f32_f16(vreinterpret_f16_u16(vget_low_u16(w)));
  }
  static void bf16x2(uint16x8_t w, float32x4_t& a, float32x4_t& b) {  // a: the even codes, b: the odd ones
    a = vreinterpretq_f32_u32(vshlq_n_u32(vreinterpretq_u32_u16(w), 16));
    b = vreinterpretq_f32_u32(vandq_u32(vreinterpretq_u32_u16(w), vdupq_n_u32(0xFFFF0000u)));
  }
  static void bf16x2(const uint16_t* p, float32x4_t& a, float32x4_t& b) { bf16x2(vld1q_u16(p), a, b); }
  static void bf16x2(const uint16_t* p0, const uint16_t* p1, float32x4_t& a, float32x4_t& b) {
    bf16x2(vcombine_u16(vld1_u16(p0), vld1_u16(p1)), a, b);
  }
  static void interleave(float32x4_t a, float32x4_t b, float32x4_t& lo, float32x4_t& hi) {
    lo = vzip1q_f32(a, b);
    hi = vzip2q_f32(a, b);
  }
};
#else
struct Widen {
  static float f32(const float* p) { return *p; }
  static float f16(const uint16_t* p) { return ScalarLanes::flt(f16_to_f32<ScalarLanes>(*p)); }
  static float bf16(const uint16_t* p) { return ScalarLanes::flt(static_cast<uint32_t>(*p) << 16); }
  static float e4m3_256(const uint8_t* p) {
    return ScalarLanes::flt(e4m3fn_to_f32<ScalarLanes>(*p)) * (1.0f / kE4m3Widen256);
  }
  static float e4m3_2m120(const uint8_t* p) {
    return ScalarLanes::flt(e4m3fn_to_f32<ScalarLanes>(*p)) * (1.0f / kE4m3Widen2p120);
  }
  static float e5m2(const uint8_t* p) { return ScalarLanes::flt(e5m2_to_f32<ScalarLanes>(*p)); }
  static void bf16x2(const uint16_t* p, float& a, float& b) { bf16x2(p, p + 1, a, b); }
  static void bf16x2(const uint16_t* p0, const uint16_t* p1, float& a, float& b) {  // one lane: already in order
    a = bf16(p0);
    b = bf16(p1);
  }
  static void interleave(float a, float b, float& lo, float& hi) { lo = a, hi = b; }
};
#endif
