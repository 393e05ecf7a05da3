// AVX-512 decode: 16 lanes (a page row of 16 tokens per vector); tiles of 6
// query rows × 4 vectors (24 accumulators of 32 zmm). Built with -mavx512f
// -mavx512bw -mavx512vl … (binding.gyp, sk_cpu_avx512).
#include "../x86-intrinsics.h"

#define SK_ISA_NAMESPACE avx512
#define SK_VEC_WIDTH 16
#include "f32-decode-impl.h"
#include "f32-decode.h"

namespace sk::cpu::avx512 {

struct DecodeOps {
  using V = __m512;
  static constexpr int W = 16;
  static V set1(float x) { return _mm512_set1_ps(x); }
  static V load(const float* p) { return _mm512_loadu_ps(p); }
  static void store(float* p, V v) { _mm512_storeu_ps(p, v); }
  static V add(V a, V b) { return _mm512_add_ps(a, b); }
  static V sub(V a, V b) { return _mm512_sub_ps(a, b); }
  static V mul(V a, V b) { return _mm512_mul_ps(a, b); }
  static V fma(V a, V b, V c) { return _mm512_fmadd_ps(a, b, c); }
  static V max(V a, V b) { return _mm512_max_ps(a, b); }
  static V pow2_bits(V t) { return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_castps_si512(t), 23)); }
  static V zero_below(V r, V x, V lim) { return _mm512_maskz_mov_ps(_mm512_cmp_ps_mask(x, lim, _CMP_GE_OQ), r); }
};

}  // namespace sk::cpu::avx512

using sk::cpu::avx512::DecodeOps;

void sk_f32_decode_ukernel__avx512(const sk_decode_task* t, float* scratch) {
  sk::cpu::avx512::decode_any<DecodeOps, 6, 4, 6, 4>(*t, scratch);
}
void sk_f32_quest_score_ukernel__avx512(const float* bounds, const uint8_t* meta, const sk_kv_pages* c, float* score) {
  sk::cpu::avx512::quest_any<DecodeOps>(bounds, meta, c, score);
}
void sk_widen_ukernel__avx512(sk_dtype type, const void* src, size_t n, float* dst) {
  sk::cpu::avx512::widen_row<DecodeOps>(type, src, n, dst);
}
