// NEON attention: 4 lanes, 4×16 register tiles (16 accumulators of 32 q
// registers), vfmaq_f32. AArch64 baseline (binding.gyp, sk_cpu_neon).
#include <arm_neon.h>

#define SK_ISA_NAMESPACE neon
#define SK_VEC_WIDTH 4
#include "f32-attn-impl.h"
#include "f32-attn.h"

namespace sk::cpu::neon {

struct Ops {
  using V = float32x4_t;
  static constexpr int W = 4;
  static V set1(float x) { return vdupq_n_f32(x); }
  static V load(const float* p) { return vld1q_f32(p); }
  static void store(float* p, V v) { vst1q_f32(p, v); }
  static V add(V a, V b) { return vaddq_f32(a, b); }
  static V sub(V a, V b) { return vsubq_f32(a, b); }
  static V mul(V a, V b) { return vmulq_f32(a, b); }
  static V fma(V a, V b, V c) { return vfmaq_f32(c, a, b); }
  static V max(V a, V b) { return vmaxq_f32(a, b); }
  static V pow2_bits(V t) { return vreinterpretq_f32_u32(vshlq_n_u32(vreinterpretq_u32_f32(t), 23)); }
  static V zero_below(V r, V x, V lim) {  // NaN x keeps r
    return vreinterpretq_f32_u32(vbicq_u32(vreinterpretq_u32_f32(r), vcltq_f32(x, lim)));
  }
  static V finite_or_zero(V x) {
    return vreinterpretq_f32_u32(vbicq_u32(vreinterpretq_u32_f32(x), vceqq_f32(x, set1(kNegInf))));
  }
};

static_assert(Ops::W == 4, "attention.inc lists neon with 4 lanes");

}  // namespace sk::cpu::neon

using sk::cpu::neon::Ops;

void sk_f32_attn_ukernel_4x16__neon(const sk_attention_params* p, const sk_attention_tiling* t,
                                    const sk_attention_item* item, void* scratch) {
  sk::cpu::neon::flash<Ops, 4, 16>(*p, *t, *item, scratch);
}
void sk_f32_attn_qk_ukernel_4x16__neon(size_t mr, size_t nc, size_t kc, const float* k, size_t k_stride,
                                       const float* qt, size_t qt_stride, float* st, size_t st_stride) {
  sk::cpu::neon::qk<Ops, 4, 16>(mr, nc, kc, k, k_stride, qt, qt_stride, st, st_stride);
}
void sk_f32_attn_pv_ukernel_4x16__neon(size_t mr, size_t nc, size_t kc, const float* v, size_t v_stride,
                                       const float* pt, size_t pt_stride, const float* alpha, float* ot,
                                       size_t ot_stride) {
  sk::cpu::neon::pv<Ops, 4, 16>(mr, nc, kc, v, v_stride, pt, pt_stride, alpha, ot, ot_stride);
}
void sk_f32_vexp2_ukernel__neon(size_t n, const float* x, float* y) { sk::cpu::neon::vexp2<Ops>(n, x, y); }
