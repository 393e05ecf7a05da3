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

  // bfloat16, two groups a step (f32-sp24-impl.h), as the avx512 kernel: a
  // 256-bit load per group holds its 16 values; the low halves of the 32-bit
  // lanes (rows 0, 2, 4, 6) widen by a shift, the high halves (rows 1, 3, 5,
  // 7) by a mask; lanes 0-3 hold slot 0, lanes 4-7 slot 1. Each group's
  // code word is broadcast straight from memory (a load, no shuffle).
  static constexpr int kSplitGroups = 2;
  struct SplitAcc {
    __m256 even, odd;
  };
  struct SplitHalf {
    __m256 even, odd;
    __m256i ce, co;
  };
  struct SplitGroup {
    SplitHalf g0, g1;
  };
  struct SplitX {
    __m256 x0, x1;  // x of group q / q + 1 in both 128-bit halves
  };
  // The codes of 8 groups (32 bytes) checked at once: sk::sp24_bad_nibbles on 256-bit lanes.
  static constexpr size_t kCheckGroups = 8;
  using Check = __m256i;
  static Check check_zero() { return _mm256_setzero_si256(); }
  static Check check(Check bad, const uint8_t* codes) {
    const __m256i w = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(codes));
    const __m256i k1 = _mm256_set1_epi32(0x11111111), k3 = _mm256_set1_epi32(0x33333333);
    const __m256i k4 = _mm256_set1_epi32(0x44444444);
    const __m256i d =
        _mm256_sub_epi32(_mm256_or_si256(_mm256_and_si256(_mm256_srli_epi32(w, 2), k3), k4), _mm256_and_si256(w, k3));
    const __m256i e = _mm256_slli_epi32(_mm256_and_si256(_mm256_or_si256(d, _mm256_srli_epi32(d, 1)), k1), 2);
    return _mm256_or_si256(bad, _mm256_andnot_si256(_mm256_and_si256(d, e), k4));
  }
  static bool check_ok(Check bad) { return _mm256_testz_si256(bad, bad) != 0; }
  static SplitAcc split_zero() { return {_mm256_setzero_ps(), _mm256_setzero_ps()}; }
  static SplitX split_x(const float* xq) {
    return {_mm256_broadcast_ps(reinterpret_cast<const __m128*>(xq)),
            _mm256_broadcast_ps(reinterpret_cast<const __m128*>(xq + 4))};
  }
  static SplitHalf split_half(const uint16_t* values, const uint8_t* code) {
    const __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(values));
    int32_t word;
    memcpy(&word, code, 4);
    const __m256i words = _mm256_set1_epi32(word);
    // Odd rows' codes sit 4 bits above the even rows': one constant less (16 registers).
    const __m256i ce = _mm256_srlv_epi32(words, _mm256_setr_epi32(0, 8, 16, 24, 2, 10, 18, 26));
    return {_mm256_castsi256_ps(_mm256_slli_epi32(v, 16)),
            _mm256_castsi256_ps(_mm256_and_si256(v, _mm256_set1_epi32(-65536))), ce, _mm256_srli_epi32(ce, 4)};
  }
  static SplitGroup split_load(const uint16_t* values, size_t q, const uint8_t* codes) {
    return {split_half(values + 16 * q, codes), split_half(values + 16 * q + 16, codes + 4)};
  }
  static SplitAcc split_fma(SplitAcc a, const SplitGroup& g, SplitX x) {
    a.even = _mm256_fmadd_ps(g.g0.even, _mm256_permutevar_ps(x.x0, g.g0.ce), a.even);
    a.odd = _mm256_fmadd_ps(g.g0.odd, _mm256_permutevar_ps(x.x0, g.g0.co), a.odd);
    a.even = _mm256_fmadd_ps(g.g1.even, _mm256_permutevar_ps(x.x1, g.g1.ce), a.even);
    a.odd = _mm256_fmadd_ps(g.g1.odd, _mm256_permutevar_ps(x.x1, g.g1.co), a.odd);
    return a;
  }
  static void split_store(SplitAcc a, float* s) {  // halves summed: rows 0, 2, 4, 6 and 1, 3, 5, 7, interleaved
    const __m128 e = _mm_add_ps(_mm256_castps256_ps128(a.even), _mm256_extractf128_ps(a.even, 1));
    const __m128 o = _mm_add_ps(_mm256_castps256_ps128(a.odd), _mm256_extractf128_ps(a.odd, 1));
    _mm_store_ps(s, _mm_unpacklo_ps(e, o));
    _mm_store_ps(s + 4, _mm_unpackhi_ps(e, o));
  }
};

}  // namespace sk::cpu::avx2

SK_DEFINE_SP24_UKERNEL(avx2, 4, 64, sk::cpu::avx2::Panel)
