// AVX2 attention: 8 lanes, 6×16 register tiles (12 accumulators of 16 ymm).
// Built with -mavx2 -mfma -mf16c (binding.gyp, sk_cpu_avx2).
#include "../x86-intrinsics.h"

#define SK_ISA_NAMESPACE avx2
#define SK_VEC_WIDTH 8
#include "f32-attn-impl.h"
#include "f32-attn.h"

namespace sk::cpu::avx2 {

struct Ops {
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
  static V finite_or_zero(V x) { return _mm256_and_ps(x, _mm256_cmp_ps(x, set1(kNegInf), _CMP_NEQ_OQ)); }
};

static_assert(Ops::W == 8, "attention.inc lists avx2 with 8 lanes");

}  // namespace sk::cpu::avx2

using sk::cpu::avx2::Ops;

void sk_f32_attn_ukernel_6x16__avx2(const sk_attention_params* p, const sk_attention_tiling* t,
                                    const sk_attention_item* item, void* scratch) {
  sk::cpu::avx2::flash<Ops, 6, 16>(*p, *t, *item, scratch);
}
void sk_f32_attn_qk_ukernel_6x16__avx2(size_t mr, size_t nc, size_t kc, const float* k, size_t k_stride,
                                       const float* qt, size_t qt_stride, float* st, size_t st_stride) {
  sk::cpu::avx2::qk<Ops, 6, 16>(mr, nc, kc, k, k_stride, qt, qt_stride, st, st_stride);
}
void sk_f32_attn_pv_ukernel_6x16__avx2(size_t mr, size_t nc, size_t kc, const float* v, size_t v_stride,
                                       const float* pt, size_t pt_stride, const float* alpha, float* ot,
                                       size_t ot_stride) {
  sk::cpu::avx2::pv<Ops, 6, 16>(mr, nc, kc, v, v_stride, pt, pt_stride, alpha, ot, ot_stride);
}
void sk_f32_vexp2_ukernel__avx2(size_t n, const float* x, float* y) { sk::cpu::avx2::vexp2<Ops>(n, x, y); }
