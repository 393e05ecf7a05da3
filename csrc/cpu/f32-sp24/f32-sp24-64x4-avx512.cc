// 2:4 linear kernels for the avx512 kernel set (sp24.inc): 64×4 SpMM tile
// (16 accumulators of 4 vectors each), and a gemv that picks the 16 kept
// elements out of 32 of x with one _mm512_permutex2var_ps, its indices
// shifted straight out of 4 code bytes.
#include "../f32-gemm/ops-avx512.h"

#define SK_ISA_NAMESPACE avx512
#include "f32-sp24-impl.h"
#include "sp24.h"

namespace sk::cpu::avx512 {

struct Kept {
  // acc + w · (the 16 elements of x[0..32) that the 16 kept weights w meet).
  // Kept value l belongs to group l / 2 and sits at position (codes >> 2l) & 3
  // in it: index 4·(l / 2) + that position, over 32 elements of x.
  static __m512 fma_kept(__m512 acc, __m512 w, const float* x, const uint8_t* meta) {
    uint32_t codes;
    memcpy(&codes, meta, 4);
    const __m512i shifts = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
    const __m512i base = _mm512_setr_epi32(0, 0, 4, 4, 8, 8, 12, 12, 16, 16, 20, 20, 24, 24, 28, 28);
    const __m512i pos = _mm512_and_si512(_mm512_srlv_epi32(_mm512_set1_epi32(static_cast<int>(codes)), shifts), _mm512_set1_epi32(3));
    const __m512i idx = _mm512_or_si512(pos, base);
    return _mm512_fmadd_ps(w, _mm512_permutex2var_ps(_mm512_loadu_ps(x), idx, _mm512_loadu_ps(x + 16)), acc);
  }
  static void fma_kept2(__m512& a0, __m512& a1, __m512 w0, __m512 w1, const float* x, const uint8_t* meta) {
    a0 = fma_kept(a0, w0, x, meta);
    a1 = fma_kept(a1, w1, x + 32, meta + 4);
  }
};

}  // namespace sk::cpu::avx512

SK_DEFINE_SP24_GEMM(avx512, 64, 4)
SK_DEFINE_SP24_GEMM(avx512, 16, 8)  // for a few rows of x
SK_DEFINE_SP24_GEMV(avx512, sk::cpu::avx512::Kept)
