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

  // bfloat16, two groups a step (f32-sp24-impl.h): one 512-bit load holds
  // both groups' 32 values; the low halves of its 32-bit lanes (rows 0, 2,
  // 4, 6) widen by a shift, the high halves (rows 1, 3, 5, 7) by a mask. In
  // each: lanes 0-3 slot 0 and 4-7 slot 1 of group q, lanes 8-15 group q + 1,
  // so each 128-bit lane permutes one group's x, as one group does above.
  static constexpr int kSplitGroups = 2;
  struct SplitAcc {
    __m512 even, odd;
  };
  struct SplitGroup {
    __m512 even, odd;
    __m512i ce, co;
  };
  using SplitX = __m512;
  // The codes of 16 groups (64 bytes) checked at once: sk::sp24_bad_nibbles on 512-bit lanes.
  static constexpr size_t kCheckGroups = 16;
  using Check = __m512i;
  static Check check_zero() { return _mm512_setzero_si512(); }
  static Check check(Check bad, const uint8_t* codes) {
    const __m512i w = _mm512_loadu_si512(codes);
    const __m512i k1 = _mm512_set1_epi32(0x11111111), k3 = _mm512_set1_epi32(0x33333333);
    const __m512i k4 = _mm512_set1_epi32(0x44444444);
    const __m512i d =
        _mm512_sub_epi32(_mm512_or_si512(_mm512_and_si512(_mm512_srli_epi32(w, 2), k3), k4), _mm512_and_si512(w, k3));
    const __m512i e = _mm512_slli_epi32(_mm512_and_si512(_mm512_or_si512(d, _mm512_srli_epi32(d, 1)), k1), 2);
    return _mm512_or_si512(bad, _mm512_andnot_si512(_mm512_and_si512(d, e), k4));
  }
  static bool check_ok(Check bad) { return _mm512_test_epi32_mask(bad, bad) == 0; }
  static SplitAcc split_zero() { return {_mm512_setzero_ps(), _mm512_setzero_ps()}; }
  static SplitX split_x(const float* xq) {  // x of group q in 128-bit lanes 0-1, of group q + 1 in 2-3
    const __m512i pick = _mm512_setr_epi32(0, 1, 2, 3, 0, 1, 2, 3, 4, 5, 6, 7, 4, 5, 6, 7);
    return _mm512_permutexvar_ps(pick, _mm512_castps256_ps512(_mm256_loadu_ps(xq)));
  }
  static SplitGroup split_load(const uint16_t* values, size_t q, const uint8_t* codes) {
    const __m512i v = _mm512_loadu_si512(values + 16 * q);
    const __m512i words =
        _mm512_permutexvar_epi32(_mm512_setr_epi32(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1),
                                 _mm512_castsi128_si512(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(codes))));
    const __m512i even_shifts = _mm512_setr_epi32(0, 8, 16, 24, 2, 10, 18, 26, 0, 8, 16, 24, 2, 10, 18, 26);
    return {_mm512_castsi512_ps(_mm512_slli_epi32(v, 16)),
            _mm512_castsi512_ps(_mm512_and_si512(v, _mm512_set1_epi32(-65536))), _mm512_srlv_epi32(words, even_shifts),
            _mm512_srlv_epi32(words, _mm512_add_epi32(even_shifts, _mm512_set1_epi32(4)))};
  }
  static SplitAcc split_fma(SplitAcc a, const SplitGroup& g, SplitX x) {
    return {_mm512_fmadd_ps(g.even, _mm512_permutevar_ps(x, g.ce), a.even),
            _mm512_fmadd_ps(g.odd, _mm512_permutevar_ps(x, g.co), a.odd)};
  }
  static void split_store(SplitAcc a, float* s) {  // 128-bit lanes summed: rows 0, 2, 4, 6 and 1, 3, 5, 7, interleaved
    const __m128 e = lanes_sum(a.even), o = lanes_sum(a.odd);
    _mm_store_ps(s, _mm_unpacklo_ps(e, o));
    _mm_store_ps(s + 4, _mm_unpackhi_ps(e, o));
  }
  static __m128 lanes_sum(__m512 a) {
    const __m256 h =
        _mm256_add_ps(_mm512_castps512_ps256(a), _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(a), 1)));
    return _mm_add_ps(_mm256_castps256_ps128(h), _mm256_extractf128_ps(h, 1));
  }
};

}  // namespace sk::cpu::avx512

SK_DEFINE_SP24_UKERNEL(avx512, 8, 128, sk::cpu::avx512::Panel)
