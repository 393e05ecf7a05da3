// The neon 2:4 micro-kernel (sp24.inc): 4 rows of x × one panel, as two
// halves of 4 weight rows. The code word becomes byte indices for vqtbl1q
// once per group (4 · position + byte), shared by every row of x.
#include "../f32-gemm/ops-neon.h"

#define SK_ISA_NAMESPACE neon
#include "f32-sp24-impl.h"
#include "sp24.h"

namespace sk::cpu::neon {

struct Panel {
  struct Acc {
    float32x4_t lo, hi;  // rows 0..3, rows 4..7
  };
  struct Group {
    float32x4_t v[4];   // slot 0 rows 0..3, 4..7; slot 1 rows 0..3, 4..7
    uint8x16_t idx[4];  // the bytes of x's group each value meets
  };
  static Acc zero() { return {vdupq_n_f32(0.0f), vdupq_n_f32(0.0f)}; }
  template <int WT>
  static Group load(const void* values, size_t q, uint32_t word) {
    static const int32_t kShift[2][4] = {{0, -4, -8, -12}, {-16, -20, -24, -28}};  // vshlq: negative is right
    const uint32x4_t w = vdupq_n_u32(word), three = vdupq_n_u32(3), bytes = vdupq_n_u32(0x03020100u);
    Group g;
    for (int h = 0; h < 2; ++h) {
      const uint32x4_t c = vshlq_u32(w, vld1q_s32(kShift[h]));
      const uint32x4_t pos[2] = {vandq_u32(c, three), vandq_u32(vshrq_n_u32(c, 2), three)};
      for (int s = 0; s < 2; ++s) {
        g.idx[2 * s + h] = vreinterpretq_u8_u32(vmlaq_n_u32(bytes, pos[s], 0x04040404u));
        g.v[2 * s + h] = load_w<LinOps, WT>(values, 16 * q + 8 * s + 4 * h);
      }
    }
    return g;
  }
  static Acc fma(Acc a, const Group& g, const float* xq) {
    const uint8x16_t xb = vreinterpretq_u8_f32(vld1q_f32(xq));
    const auto pick = [&](int j) { return vreinterpretq_f32_u8(vqtbl1q_u8(xb, g.idx[j])); };
    a.lo = vfmaq_f32(vfmaq_f32(a.lo, g.v[0], pick(0)), g.v[2], pick(2));
    a.hi = vfmaq_f32(vfmaq_f32(a.hi, g.v[1], pick(1)), g.v[3], pick(3));
    return a;
  }
  static void store(Acc a, float* s) {
    vst1q_f32(s, a.lo);
    vst1q_f32(s + 4, a.hi);
  }
};

}  // namespace sk::cpu::neon

SK_DEFINE_SP24_UKERNEL(neon, 4, 32, sk::cpu::neon::Panel)
