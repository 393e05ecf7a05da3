// AVX2 attention: 8 lanes, 6×16 register tiles (12 accumulators of 16 ymm).
// Built with -mavx2 -mfma -mf16c (binding.gyp, sk_cpu_avx2).
#include "../x86-intrinsics.h"

#define SK_ISA_NAMESPACE avx2
#define SK_VEC_WIDTH 8
#include "f32-attn-impl.h"
#include "f32-attn.h"

namespace sk::cpu::avx2 {

using Ops = VecOps;  // csrc/cpu/vec-ops.h

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
