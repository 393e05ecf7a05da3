// NEON decode: 4 lanes; tiles of 6 query rows × 4 vectors (24 accumulators
// of 32 q registers), vfmaq_f32. AArch64 baseline (binding.gyp, sk_cpu_neon).
#include <arm_neon.h>

#define SK_ISA_NAMESPACE neon
#define SK_VEC_WIDTH 4
#include "f32-decode-impl.h"
#include "f32-decode.h"

namespace sk::cpu::neon {

struct DecodeOps {
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
  static V zero_below(V r, V x, V lim) {
    return vreinterpretq_f32_u32(vandq_u32(vreinterpretq_u32_f32(r), vcgeq_f32(x, lim)));
  }
};

}  // namespace sk::cpu::neon

using sk::cpu::neon::DecodeOps;

void sk_f32_decode_ukernel__neon(const sk_decode_task* t, float* scratch) {
  sk::cpu::neon::decode_any<DecodeOps, 6, 4, 6, 4>(*t, scratch);
}
void sk_f32_quest_score_ukernel__neon(const float* bounds, const uint8_t* meta, const sk_kv_pages* c, float* score) {
  sk::cpu::neon::quest_any<DecodeOps>(bounds, meta, c, score);
}
void sk_widen_ukernel__neon(sk_dtype type, const void* src, size_t n, float* dst) {
  sk::cpu::neon::widen_row<DecodeOps>(type, src, n, dst);
}
