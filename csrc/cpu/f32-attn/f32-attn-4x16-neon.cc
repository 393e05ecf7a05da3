// NEON attention: 4 lanes, 4×16 register tiles (16 accumulators of 32 q
// registers), vfmaq_f32. AArch64 baseline (binding.gyp, sk_cpu_neon).
#include <arm_neon.h>

#define SK_ISA_NAMESPACE neon
#define SK_VEC_WIDTH 4
#include "f32-attn-impl.h"
#include "f32-attn.h"

namespace sk::cpu::neon {

using Ops = VecOps;  // csrc/cpu/vec-ops.h

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
