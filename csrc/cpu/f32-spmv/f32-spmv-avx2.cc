// sk_f32_spmv{,16}_ukernel_1x{1,2,4}__avx2 (contract: f32-spmv.h). One-channel
// rows take 16 x values per step into two 8-lane sums.
//
// x is fetched with scalar loads inserted into a vector, not vgatherdps: on
// Zen 3 the gather costs more than eight loads and seven inserts
// (bench/results/tuning-notes.md).
#include "../x86-intrinsics.h"
#define SK_ISA_NAMESPACE avx2
#include "f32-spmv-impl.h"
#include "f32-spmv-x86.h"
#include "f32-spmv.h"

namespace sk::cpu::avx2 {

template <class Col>
static inline __m256 load8(const float* x, const Col* c) {
  return _mm256_insertf128_ps(_mm256_castps128_ps256(load4(x, c)), load4(x, c + 4), 1);
}

template <class Col>
static inline float insert_dot(uint32_t count, const float* x, const float*& w, const Col*& cols) {
  __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps();
  uint32_t i = 0;
  for (; i + 16 <= count; i += 16) {
    // The weights and columns stream from memory: asking 256 non-zeros ahead
    // keeps more of their misses in flight.
    _mm_prefetch(reinterpret_cast<const char*>(w + i + 256), _MM_HINT_T0);
    _mm_prefetch(reinterpret_cast<const char*>(cols + i + 256), _MM_HINT_T0);
    a0 = _mm256_fmadd_ps(_mm256_loadu_ps(w + i), load8(x, cols + i), a0);
    a1 = _mm256_fmadd_ps(_mm256_loadu_ps(w + i + 8), load8(x, cols + i + 8), a1);
  }
  for (; i + 8 <= count; i += 8) a0 = _mm256_fmadd_ps(_mm256_loadu_ps(w + i), load8(x, cols + i), a0);
  a0 = _mm256_add_ps(a0, a1);
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(a0), _mm256_extractf128_ps(a0, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  float sum = _mm_cvtss_f32(s);
  for (; i < count; ++i) sum += w[i] * x[cols[i]];
  w += count, cols += count;
  return sum;
}

}  // namespace sk::cpu::avx2

SK_DEFINE_SPMV_UKERNEL(avx2, 1, sk::cpu::avx2::insert_dot)
SK_DEFINE_SPMV_UKERNEL(avx2, 2, sk::cpu::avx2::insert_dot)
SK_DEFINE_SPMV_UKERNEL(avx2, 4, sk::cpu::avx2::insert_dot)
