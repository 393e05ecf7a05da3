// Scalar attention: one float per "vector", 4×4 register tiles. Built for the
// baseline (sk_core); the fallback every CPU runs.
#define SK_ISA_NAMESPACE scalar
#define SK_VEC_WIDTH 1
#include "f32-attn-impl.h"
#include "f32-attn.h"

namespace sk::cpu::scalar {

using Ops = VecOps;  // csrc/cpu/vec-ops.h

static_assert(Ops::W == 1, "attention.inc lists scalar with 1 lane");

}  // namespace sk::cpu::scalar

using sk::cpu::scalar::Ops;

void sk_f32_attn_ukernel_4x4__scalar(const sk_attention_params* p, const sk_attention_tiling* t,
                                     const sk_attention_item* item, void* scratch) {
  sk::cpu::scalar::flash<Ops, 4, 4>(*p, *t, *item, scratch);
}
void sk_f32_attn_qk_ukernel_4x4__scalar(size_t mr, size_t nc, size_t kc, const float* k, size_t k_stride,
                                        const float* qt, size_t qt_stride, float* st, size_t st_stride) {
  sk::cpu::scalar::qk<Ops, 4, 4>(mr, nc, kc, k, k_stride, qt, qt_stride, st, st_stride);
}
void sk_f32_attn_pv_ukernel_4x4__scalar(size_t mr, size_t nc, size_t kc, const float* v, size_t v_stride,
                                        const float* pt, size_t pt_stride, const float* alpha, float* ot,
                                        size_t ot_stride) {
  sk::cpu::scalar::pv<Ops, 4, 4>(mr, nc, kc, v, v_stride, pt, pt_stride, alpha, ot, ot_stride);
}
void sk_f32_vexp2_ukernel__scalar(size_t n, const float* x, float* y) { sk::cpu::scalar::vexp2<Ops>(n, x, y); }
