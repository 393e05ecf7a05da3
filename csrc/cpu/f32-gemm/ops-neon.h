// NEON vector ops for the linear kernels (f32-gemm, f32-sp24): 4 float lanes,
// vfmaq_f32. AArch64 baseline (sk_cpu_neon).
#pragma once
#include <arm_neon.h>
#include <stddef.h>
#include <stdint.h>

namespace sk::cpu::neon {

// 4×4 transposes for packing weight panels.
struct Pack4 {
  static constexpr int kPack = 4;
  using P = float32x4_t;
  static P load(const float* p) { return vld1q_f32(p); }
  static P load_f16(const uint16_t* p) { return vcvt_f32_f16(vreinterpret_f16_u16(vld1_u16(p))); }
  static P load_bf16(const uint16_t* p) { return vreinterpretq_f32_u32(vshll_n_u16(vld1_u16(p), 16)); }
  static void transpose_store(P (&r)[4], float* dst, size_t ld) {
    const float32x4x2_t a = vtrnq_f32(r[0], r[1]), b = vtrnq_f32(r[2], r[3]);
    vst1q_f32(dst + 0 * ld, vcombine_f32(vget_low_f32(a.val[0]), vget_low_f32(b.val[0])));
    vst1q_f32(dst + 1 * ld, vcombine_f32(vget_low_f32(a.val[1]), vget_low_f32(b.val[1])));
    vst1q_f32(dst + 2 * ld, vcombine_f32(vget_high_f32(a.val[0]), vget_high_f32(b.val[0])));
    vst1q_f32(dst + 3 * ld, vcombine_f32(vget_high_f32(a.val[1]), vget_high_f32(b.val[1])));
  }
};

struct LinOps {
  using Pack = Pack4;  // weight-panel packing tiles
  using V = float32x4_t;
  static constexpr int W = 4;
  static V zero() { return vdupq_n_f32(0.0f); }
  static V set1(float x) { return vdupq_n_f32(x); }
  static V load(const float* p) { return vld1q_f32(p); }
  static void store(float* p, V v) { vst1q_f32(p, v); }
  static V add(V a, V b) { return vaddq_f32(a, b); }
  static V fma(V a, V b, V c) { return vfmaq_f32(c, a, b); }
  static float hsum(V v) { return vaddvq_f32(v); }
  static V load_f16(const uint16_t* p) { return vcvt_f32_f16(vreinterpret_f16_u16(vld1_u16(p))); }
  static V load_bf16(const uint16_t* p) { return vreinterpretq_f32_u32(vshll_n_u16(vld1_u16(p), 16)); }
  static float f16(uint16_t h) { return vgetq_lane_f32(vcvt_f32_f16(vreinterpret_f16_u16(vdup_n_u16(h))), 0); }
};

}  // namespace sk::cpu::neon
