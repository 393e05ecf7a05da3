// Test-only: AVX-512 intrinsics emulated by SIMDe (plus the few it lacks,
// written with plain arrays) so the AVX-512 kernels run on a CPU without it.
#pragma once
#include_next <immintrin.h>
#include <string.h>
#define SIMDE_ENABLE_NATIVE_ALIASES
#include <simde/x86/avx512.h>
static inline simde__m512 sk_t_maskz_loadu_ps(__mmask16 m, const void* p) {
  float a[16] = {0}; for (int i = 0; i < 16; ++i) if ((m >> i) & 1) a[i] = ((const float*)p)[i];
  return simde_mm512_loadu_ps(a);
}
static inline void sk_t_mask_storeu_ps(void* p, __mmask16 m, simde__m512 v) {
  float a[16]; simde_mm512_storeu_ps(a, v); for (int i = 0; i < 16; ++i) if ((m >> i) & 1) ((float*)p)[i] = a[i];
}
static inline simde__m512i sk_t_maskz_loadu_epi32(__mmask16 m, const void* p) {
  int a[16] = {0}; for (int i = 0; i < 16; ++i) if ((m >> i) & 1) a[i] = ((const int*)p)[i];
  return simde_mm512_loadu_si512(a);
}
static inline simde__m512 sk_t_mask_i32gather_ps(simde__m512 src, __mmask16 m, simde__m512i idx, const void* base, int scale) {
  float a[16]; int ix[16]; simde_mm512_storeu_ps(a, src); simde_mm512_storeu_si512(ix, idx);
  for (int i = 0; i < 16; ++i) if ((m >> i) & 1) memcpy(&a[i], (const char*)base + (long)ix[i] * scale, 4);
  return simde_mm512_loadu_ps(a);
}
static inline simde__m512 sk_t_i32gather_ps(simde__m512i idx, const void* base, int scale) {
  return sk_t_mask_i32gather_ps(simde_mm512_setzero_ps(), 0xFFFF, idx, base, scale);
}
static inline float sk_t_reduce_add_ps(simde__m512 v) { float a[16]; simde_mm512_storeu_ps(a, v); float s = 0; for (int i = 0; i < 16; ++i) s += a[i]; return s; }
static inline simde__m512 sk_t_cvtph_ps(simde__m256i h) {  // float16 → float32, 8 lanes at a time with F16C
  uint16_t a[16]; float f[16]; simde_mm256_storeu_si256(a, h);
  _mm256_storeu_ps(f, _mm256_cvtph_ps(_mm_loadu_si128((const __m128i*)a)));
  _mm256_storeu_ps(f + 8, _mm256_cvtph_ps(_mm_loadu_si128((const __m128i*)(a + 8))));
  return simde_mm512_loadu_ps(f);
}
static inline simde__m512i sk_t_cvtepu16_epi32(simde__m256i h) {
  uint16_t a[16]; uint32_t w[16]; simde_mm256_storeu_si256(a, h); for (int i = 0; i < 16; ++i) w[i] = a[i];
  return simde_mm512_loadu_si512(w);
}
static inline simde__m512 sk_t_permutevar_ps(simde__m512 v, simde__m512i c) {  // in-lane: lane l picks 4·(l/4) + (c[l] & 3)
  float a[16], o[16]; int ix[16]; simde_mm512_storeu_ps(a, v); simde_mm512_storeu_si512(ix, c);
  for (int l = 0; l < 16; ++l) o[l] = a[(l & ~3) + (ix[l] & 3)];
  return simde_mm512_loadu_ps(o);
}
#define _mm512_permutevar_ps sk_t_permutevar_ps
#define _mm512_cvtph_ps sk_t_cvtph_ps
#define _mm512_cvtepu16_epi32 sk_t_cvtepu16_epi32
#define _mm512_maskz_loadu_ps sk_t_maskz_loadu_ps
#define _mm512_mask_storeu_ps sk_t_mask_storeu_ps
#define _mm512_maskz_loadu_epi32 sk_t_maskz_loadu_epi32
#define _mm512_mask_i32gather_ps sk_t_mask_i32gather_ps
#define _mm512_i32gather_ps sk_t_i32gather_ps
#define _mm512_reduce_add_ps sk_t_reduce_add_ps
