// The scalar 2:4 micro-kernel (sp24.inc): 2 rows of x × one panel, indexing
// x with each row's two positions. The reference the vector kernels are
// tested against, and the fallback on any CPU.
#include "../f32-gemm/ops-scalar.h"

#define SK_ISA_NAMESPACE scalar
#include "f32-sp24-impl.h"
#include "sp24.h"

namespace sk::cpu::scalar {

struct Panel {
  struct Acc {
    float s[8];
  };
  struct Group {
    float v[16];      // slot 0 of rows 0..7, then slot 1
    uint8_t pos[16];  // the element of x's group each meets
  };
  static Acc zero() { return {}; }
  template <int WT>
  static Group load(const void* values, size_t q, uint32_t word) {
    Group g;
    for (int r = 0; r < 8; ++r) {
      const uint32_t code = (word >> (4 * r)) & 15u;
      g.pos[r] = static_cast<uint8_t>(code & 3u);
      g.pos[8 + r] = static_cast<uint8_t>(code >> 2);
    }
    for (int l = 0; l < 16; ++l) g.v[l] = scalar_w<LinOps, WT>(values, 16 * q + l);
    return g;
  }
  static Acc fma(Acc a, const Group& g, const float* xq) {
    for (int r = 0; r < 8; ++r) a.s[r] += g.v[r] * xq[g.pos[r]] + g.v[8 + r] * xq[g.pos[8 + r]];
    return a;
  }
  static void store(const Acc& a, float* s) { memcpy(s, a.s, sizeof a.s); }
};

}  // namespace sk::cpu::scalar

SK_DEFINE_SP24_UKERNEL(scalar, 2, 8, sk::cpu::scalar::Panel)
