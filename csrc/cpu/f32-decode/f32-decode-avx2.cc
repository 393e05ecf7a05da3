// AVX2 decode: 8 lanes; tiles of 4 query rows × 2 vectors (8 accumulators
// of 16 ymm). Built with -mavx2 -mfma -mf16c (binding.gyp, sk_cpu_avx2).
#include "../x86-intrinsics.h"

#define SK_ISA_NAMESPACE avx2
#define SK_VEC_WIDTH 8
#include "f32-decode-impl.h"
#include "f32-decode.h"

namespace sk::cpu::avx2 {

struct DecodeOps {
  using V = __m256;
  static constexpr int W = 8;
  static V set1(float x) { return _mm256_set1_ps(x); }
  static V load(const float* p) { return _mm256_loadu_ps(p); }
  static void store(float* p, V v) { _mm256_storeu_ps(p, v); }
  static V add(V a, V b) { return _mm256_add_ps(a, b); }
  static V sub(V a, V b) { return _mm256_sub_ps(a, b); }
  static V mul(V a, V b) { return _mm256_mul_ps(a, b); }
  static V fma(V a, V b, V c) { return _mm256_fmadd_ps(a, b, c); }
  static V max(V a, V b) { return _mm256_max_ps(a, b); }
  static V pow2_bits(V t) { return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_castps_si256(t), 23)); }
  static V zero_below(V r, V x, V lim) { return _mm256_and_ps(r, _mm256_cmp_ps(x, lim, _CMP_GE_OQ)); }
};

}  // namespace sk::cpu::avx2

using sk::cpu::avx2::DecodeOps;

void sk_f32_decode_ukernel__avx2(const sk_decode_task* t, float* scratch) {
  sk::cpu::avx2::decode_any<DecodeOps, 4, 2, 4, 2>(*t, scratch);
}
void sk_f32_quest_score_ukernel__avx2(const float* bounds, const uint8_t* meta, const sk_kv_pages* c, float* score) {
  sk::cpu::avx2::quest_any<DecodeOps>(bounds, meta, c, score);
}
void sk_widen_ukernel__avx2(sk_dtype type, const void* src, size_t n, float* dst) {
  sk::cpu::avx2::widen_row<DecodeOps>(type, src, n, dst);
}
