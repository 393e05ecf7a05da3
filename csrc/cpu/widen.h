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
//   Widen::e5m2(p)       W float8e5m2 codes: each is the top byte of a float16
//                        (exact, Inf and NaN included)
#pragma once
#include <stdint.h>
#include <string.h>

#include "../core/cast_math.h"

constexpr float kE4m3Widen256 = 256.0f;  // what Widen::e4m3_256's results are to be multiplied by

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
  static __m512 e5m2(const uint8_t* p) {
    const __m256i w = _mm256_cvtepu8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
    return _mm512_cvtph_ps(_mm256_slli_epi16(w, 8));
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
  static __m256 e5m2(const uint8_t* p) {
    const __m128i w = _mm_cvtepu8_epi16(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(p)));
    return _mm256_cvtph_ps(_mm_slli_epi16(w, 8));
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
  static float32x4_t e5m2(const uint8_t* p) {
    uint32_t four;
    memcpy(&four, p, 4);
    const uint16x8_t w = vshlq_n_u16(vmovl_u8(vreinterpret_u8_u32(vdup_n_u32(four))), 8);
    return vcvt_f32_f16(vreinterpret_f16_u16(vget_low_u16(w)));
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
  static float e5m2(const uint8_t* p) { return ScalarLanes::flt(e5m2_to_f32<ScalarLanes>(*p)); }
};
#endif
