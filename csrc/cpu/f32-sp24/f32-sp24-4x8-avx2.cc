// The avx2 2:4 micro-kernel (sp24.inc): 4 rows of x × one panel, two
// accumulators per row (one per kept slot, two FMA chains for a lone row).
#include "../f32-gemm/ops-avx2.h"

#define SK_ISA_NAMESPACE avx2
#include "f32-sp24-impl.h"
#include "sp24.h"

namespace sk::cpu::avx2 {

struct Panel {
  struct Acc {
    __m256 s0, s1;
  };
  struct Group {
    __m256 v0, v1;   // slot 0 / slot 1 of rows 0..7
    __m256i c0, c1;  // lane r: row r's i0 / i1 in bits 0-1
  };
  static Acc zero() { return {_mm256_setzero_ps(), _mm256_setzero_ps()}; }
  // vpermilps reads only bits 0-1 of each lane, so shifting row r's code
  // down by 4r is the whole decode of i0, and 2 bits more of i1.
  template <int WT>
  static Group load(const void* values, size_t q, uint32_t word) {
    const __m256i shifts = _mm256_setr_epi32(0, 4, 8, 12, 16, 20, 24, 28);
    const __m256i c0 = _mm256_srlv_epi32(_mm256_set1_epi32(static_cast<int>(word)), shifts);
    return {load_w<LinOps, WT>(values, 16 * q), load_w<LinOps, WT>(values, 16 * q + 8), c0, _mm256_srli_epi32(c0, 2)};
  }
  // x's group in both 128-bit halves: the in-lane permute picks per row.
  static Acc fma(Acc a, const Group& g, const float* xq) {
    const __m256 xb = _mm256_broadcast_ps(reinterpret_cast<const __m128*>(xq));
    return {_mm256_fmadd_ps(g.v0, _mm256_permutevar_ps(xb, g.c0), a.s0),
            _mm256_fmadd_ps(g.v1, _mm256_permutevar_ps(xb, g.c1), a.s1)};
  }
  static void store(Acc a, float* s) { _mm256_store_ps(s, _mm256_add_ps(a.s0, a.s1)); }
};

}  // namespace sk::cpu::avx2

SK_DEFINE_SP24_UKERNEL(avx2, 4, 64, sk::cpu::avx2::Panel)
