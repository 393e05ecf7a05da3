// AVX-512 attention: 16 lanes, 8×32 register tiles (16 accumulators of 32 zmm).
// Built with -mavx512f -mavx512bw -mavx512vl … (binding.gyp, sk_cpu_avx512).
// GCC 12 warns that _mm512_undefined_ps() is uninitialized inside its own
// intrinsics (GCC PR105593, fixed in 13); the intrinsics are fine.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include "../x86-intrinsics.h"
#pragma GCC diagnostic pop

#define SK_ISA_NAMESPACE avx512
#define SK_VEC_WIDTH 16
#include "f32-attn-impl.h"
#include "f32-attn.h"

namespace sk::cpu::avx512 {

using Ops = VecOps;  // csrc/cpu/vec-ops.h

static_assert(Ops::W == 16, "attention.inc lists avx512 with 16 lanes");

}  // namespace sk::cpu::avx512

using sk::cpu::avx512::Ops;

void sk_f32_attn_ukernel_8x32__avx512(const sk_attention_params* p, const sk_attention_tiling* t,
                                      const sk_attention_item* item, void* scratch) {
  sk::cpu::avx512::flash<Ops, 8, 32>(*p, *t, *item, scratch);
}
void sk_f32_attn_qk_ukernel_8x32__avx512(size_t mr, size_t nc, size_t kc, const float* k, size_t k_stride,
                                         const float* qt, size_t qt_stride, float* st, size_t st_stride) {
  sk::cpu::avx512::qk<Ops, 8, 32>(mr, nc, kc, k, k_stride, qt, qt_stride, st, st_stride);
}
void sk_f32_attn_pv_ukernel_8x32__avx512(size_t mr, size_t nc, size_t kc, const float* v, size_t v_stride,
                                         const float* pt, size_t pt_stride, const float* alpha, float* ot,
                                         size_t ot_stride) {
  sk::cpu::avx512::pv<Ops, 8, 32>(mr, nc, kc, v, v_stride, pt, pt_stride, alpha, ot, ot_stride);
}
void sk_f32_vexp2_ukernel__avx512(size_t n, const float* x, float* y) { sk::cpu::avx512::vexp2<Ops>(n, x, y); }
