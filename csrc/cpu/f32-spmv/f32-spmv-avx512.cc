// sk_f32_spmv_ukernel_1x{1,2,4}__avx512 (contract: f32-spmv.h). One-channel
// rows gather 16 x values per step; the tail uses a masked gather.
#include <immintrin.h>
#define SK_ISA_NAMESPACE avx512
#include "f32-spmv-impl.h"
#include "f32-spmv.h"

namespace sk::cpu::avx512 {

static inline float gather_dot(uint32_t count, const float* x, const float*& w, const int32_t*& cols) {
  __m512 a0 = _mm512_setzero_ps(), a1 = _mm512_setzero_ps();
  uint32_t i = 0;
  for (; i + 32 <= count; i += 32) {
    const __m512i i0 = _mm512_loadu_si512(cols + i), i1 = _mm512_loadu_si512(cols + i + 16);
    a0 = _mm512_fmadd_ps(_mm512_loadu_ps(w + i), _mm512_i32gather_ps(i0, x, 4), a0);
    a1 = _mm512_fmadd_ps(_mm512_loadu_ps(w + i + 16), _mm512_i32gather_ps(i1, x, 4), a1);
  }
  for (; i < count; i += 16) {
    const uint32_t left = count - i;
    const __mmask16 m = left >= 16 ? static_cast<__mmask16>(0xFFFF) : static_cast<__mmask16>((1u << left) - 1);
    const __m512i idx = _mm512_maskz_loadu_epi32(m, cols + i);
    const __m512 g = _mm512_mask_i32gather_ps(_mm512_setzero_ps(), m, idx, x, 4);
    a0 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, w + i), g, a0);
  }
  const float sum = _mm512_reduce_add_ps(_mm512_add_ps(a0, a1));
  w += count, cols += count;
  return sum;
}

}  // namespace sk::cpu::avx512

SK_DEFINE_SPMV_UKERNEL(avx512, 1, sk::cpu::avx512::gather_dot)
SK_DEFINE_SPMV_UKERNEL(avx512, 2, sk::cpu::avx512::gather_dot)
SK_DEFINE_SPMV_UKERNEL(avx512, 4, sk::cpu::avx512::gather_dot)
