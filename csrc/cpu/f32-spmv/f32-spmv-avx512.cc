// sk_f32_spmv{,16}_ukernel_1x{1,2,4}__avx512 (contract: f32-spmv.h). One-channel
// rows take 32 x values per step into two 16-lane sums, the AVX2 kernel's
// loop at twice the width. x is fetched with scalar loads inserted into a
// vector, not vgatherdps: on Zen 4 the 16-lane gather took 1.6× the time of
// the inserts (bench/results/tuning-notes.md).
#include "../x86-intrinsics.h"
#define SK_ISA_NAMESPACE avx512
#include "f32-spmv-impl.h"
#include "f32-spmv-x86.h"
#include "f32-spmv.h"

namespace sk::cpu::avx512 {

template <class Col>
static inline __m512 load16(const float* x, const Col* c) {
  const __m256 lo = _mm256_insertf128_ps(_mm256_castps128_ps256(load4(x, c)), load4(x, c + 4), 1);
  const __m256 hi = _mm256_insertf128_ps(_mm256_castps128_ps256(load4(x, c + 8)), load4(x, c + 12), 1);
  // vinsertf64x4 (AVX-512F), not vinsertf32x8 (DQ, which the dispatch does not require).
  return _mm512_castpd_ps(_mm512_insertf64x4(_mm512_castps_pd(_mm512_castps256_ps512(lo)), _mm256_castps_pd(hi), 1));
}

template <class Col>
static inline float insert_dot(uint32_t count, const float* x, const float*& w, const Col*& cols) {
  __m512 a0 = _mm512_setzero_ps(), a1 = _mm512_setzero_ps();
  uint32_t i = 0;
  for (; i + 32 <= count; i += 32) {
    // As in the AVX2 kernel: the weights and columns stream from memory, and
    // asking 256 non-zeros ahead keeps more of their misses in flight.
    _mm_prefetch(reinterpret_cast<const char*>(w + i + 256), _MM_HINT_T0);
    _mm_prefetch(reinterpret_cast<const char*>(w + i + 256 + 16), _MM_HINT_T0);
    _mm_prefetch(reinterpret_cast<const char*>(cols + i + 256), _MM_HINT_T0);
    a0 = _mm512_fmadd_ps(_mm512_loadu_ps(w + i), load16(x, cols + i), a0);
    a1 = _mm512_fmadd_ps(_mm512_loadu_ps(w + i + 16), load16(x, cols + i + 16), a1);
  }
  for (; i + 16 <= count; i += 16) a0 = _mm512_fmadd_ps(_mm512_loadu_ps(w + i), load16(x, cols + i), a0);
  float sum = _mm512_reduce_add_ps(_mm512_add_ps(a0, a1));
  for (; i < count; ++i) sum += w[i] * x[cols[i]];
  w += count, cols += count;
  return sum;
}

}  // namespace sk::cpu::avx512

SK_DEFINE_SPMV_UKERNEL(avx512, 1, sk::cpu::avx512::insert_dot)
SK_DEFINE_SPMV_UKERNEL(avx512, 2, sk::cpu::avx512::insert_dot)
SK_DEFINE_SPMV_UKERNEL(avx512, 4, sk::cpu::avx512::insert_dot)
