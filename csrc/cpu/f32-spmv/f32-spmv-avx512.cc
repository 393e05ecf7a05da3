// sk_f32_spmv{,16}_ukernel_1x{1,2,4}__avx512 (contract: f32-spmv.h). One-channel
// rows gather 32 x values per step into two 16-lane sums (unmeasured here:
// no AVX-512 CPU; Intel's gathers, unlike Zen 3's, beat scalar inserts).
#include "../x86-intrinsics.h"
#define SK_ISA_NAMESPACE avx512
#include "f32-spmv-impl.h"
#include "f32-spmv.h"

namespace sk::cpu::avx512 {

static inline __m512i load_cols(const int32_t* c) { return _mm512_loadu_si512(c); }
static inline __m512i load_cols(const uint16_t* c) {
  return _mm512_cvtepu16_epi32(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(c)));
}

template <class Col>
static inline float gather_dot(uint32_t count, const float* x, const float*& w, const Col*& cols) {
  __m512 a0 = _mm512_setzero_ps(), a1 = _mm512_setzero_ps();
  uint32_t i = 0;
  for (; i + 32 <= count; i += 32) {
    a0 = _mm512_fmadd_ps(_mm512_loadu_ps(w + i), _mm512_i32gather_ps(load_cols(cols + i), x, 4), a0);
    a1 = _mm512_fmadd_ps(_mm512_loadu_ps(w + i + 16), _mm512_i32gather_ps(load_cols(cols + i + 16), x, 4), a1);
  }
  if (i + 16 <= count) {
    a0 = _mm512_fmadd_ps(_mm512_loadu_ps(w + i), _mm512_i32gather_ps(load_cols(cols + i), x, 4), a0);
    i += 16;
  }
  float sum = _mm512_reduce_add_ps(_mm512_add_ps(a0, a1));
  for (; i < count; ++i) sum += w[i] * x[cols[i]];
  w += count, cols += count;
  return sum;
}

}  // namespace sk::cpu::avx512

SK_DEFINE_SPMV_UKERNEL(avx512, 1, sk::cpu::avx512::gather_dot)
SK_DEFINE_SPMV_UKERNEL(avx512, 2, sk::cpu::avx512::gather_dot)
SK_DEFINE_SPMV_UKERNEL(avx512, 4, sk::cpu::avx512::gather_dot)
