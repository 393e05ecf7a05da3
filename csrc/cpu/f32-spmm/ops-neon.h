// NEON vectors of 4 floats with fused multiply-add (AArch64 baseline: sk_cpu_neon).
#pragma once
#include <arm_neon.h>
#define SK_ISA_NAMESPACE neon
#include "f32-spmm-impl.h"

namespace sk::cpu::neon {
struct Ops {
  using V = float32x4_t;
  static constexpr int W = 4;
  static constexpr int kRegisters = 32;   // vector registers
  static constexpr bool kMasked = false;  // no masked loads: halved tiles, then single rows
  static V set1(float x) { return vdupq_n_f32(x); }
  static V load(const float* p) { return vld1q_f32(p); }
  static void store(float* p, V v) { vst1q_f32(p, v); }
  static V fma(V a, V b, V c) { return vfmaq_f32(c, a, b); }
  static V add(V a, V b) { return vaddq_f32(a, b); }
  // fmax / fmin propagate NaN.
  static V clamp(V x, V lo, V hi) { return vminq_f32(hi, vmaxq_f32(lo, x)); }
};
}  // namespace sk::cpu::neon
