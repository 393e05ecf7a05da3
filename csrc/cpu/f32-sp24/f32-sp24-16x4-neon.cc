// 2:4 linear kernels for the neon kernel set (sp24.inc): 16×4 SpMM tile
// (16 accumulators of 4 vectors each), and a gemv that gathers x into kept
// order with one vqtbl2q_u8 byte lookup per code byte.
#include "../f32-gemm/ops-neon.h"

#define SK_ISA_NAMESPACE neon
#include "f32-sp24-impl.h"
#include "sp24.h"

namespace sk::cpu::neon {

// Per code byte, the bytes (0..31) of its 4 kept floats within 8 floats of x.
struct Sp24Bytes {
  alignas(16) uint8_t idx[256][16];
  constexpr Sp24Bytes() : idx{} {
    for (int b = 0; b < 256; ++b)
      for (int j = 0; j < 4; ++j)
        for (int t = 0; t < 4; ++t) idx[b][4 * j + t] = static_cast<uint8_t>(4 * sk::sp24_lane(static_cast<uint32_t>(b), j) + t);
  }
};
constexpr Sp24Bytes kSp24Bytes{};

struct Kept {
  // acc + w · (the 4 elements of x[0..8) that the 4 kept weights w meet; 1 code byte).
  static float32x4_t fma_kept(float32x4_t acc, float32x4_t w, const float* x, const uint8_t* meta) {
    uint8x16x2_t table;
    table.val[0] = vreinterpretq_u8_f32(vld1q_f32(x));
    table.val[1] = vreinterpretq_u8_f32(vld1q_f32(x + 4));
    return vfmaq_f32(acc, w, vreinterpretq_f32_u8(vqtbl2q_u8(table, vld1q_u8(kSp24Bytes.idx[meta[0]]))));
  }
  static void fma_kept2(float32x4_t& a0, float32x4_t& a1, float32x4_t w0, float32x4_t w1, const float* x, const uint8_t* meta) {
    a0 = fma_kept(a0, w0, x, meta);
    a1 = fma_kept(a1, w1, x + 8, meta + 1);
  }
};

}  // namespace sk::cpu::neon

SK_DEFINE_SP24_GEMM(neon, 16, 4)
SK_DEFINE_SP24_GEMV(neon, sk::cpu::neon::Kept)
