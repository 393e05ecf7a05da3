// The avx512 2:4 micro-kernel (sp24.inc): 8 rows of x × one panel. A group's
// 16 kept values (slot 0 of rows 0..7, then slot 1) are one contiguous
// 512-bit load, so one permute and one FMA serve both slots.
#include "../f32-gemm/ops-avx512.h"

#define SK_ISA_NAMESPACE avx512
#include "f32-sp24-impl.h"
#include "sp24.h"

namespace sk::cpu::avx512 {

struct Panel {
  using Acc = __m512;  // lanes 0..7: slot 0 of rows 0..7; lanes 8..15: slot 1
  struct Group {
    __m512 v;
    __m512i c;  // lane l: the position its value picks, in bits 0-1
  };
  static Acc zero() { return _mm512_setzero_ps(); }
  // vpermilps reads only bits 0-1 of each lane: shifting the code word is the whole decode.
  template <int WT>
  static Group load(const void* values, size_t q, uint32_t word) {
    const __m512i shifts = _mm512_setr_epi32(0, 4, 8, 12, 16, 20, 24, 28, 2, 6, 10, 14, 18, 22, 26, 30);
    return {load_w<LinOps, WT>(values, 16 * q), _mm512_srlv_epi32(_mm512_set1_epi32(static_cast<int>(word)), shifts)};
  }
  static Acc fma(Acc a, const Group& g, const float* xq) {
    const __m512 xb = _mm512_broadcast_f32x4(_mm_loadu_ps(xq));  // x's group in every 128-bit lane
    return _mm512_fmadd_ps(g.v, _mm512_permutevar_ps(xb, g.c), a);
  }
  static void store(Acc a, float* s) {
    const __m256 hi = _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(a), 1));
    _mm256_store_ps(s, _mm256_add_ps(_mm512_castps512_ps256(a), hi));
  }
};

}  // namespace sk::cpu::avx512

SK_DEFINE_SP24_UKERNEL(avx512, 8, 128, sk::cpu::avx512::Panel)
