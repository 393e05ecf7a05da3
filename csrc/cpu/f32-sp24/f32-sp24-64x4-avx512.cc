// 2:4 linear kernels for the avx512 kernel set (sp24.inc): 64×4 SpMM tile
// (16 accumulators of 4 vectors each), and a gemv that picks the 16 kept
// elements out of 32 of x with one _mm512_permutex2var_ps.
#include "../f32-gemm/ops-avx512.h"

#define SK_ISA_NAMESPACE avx512
#include "f32-sp24-impl.h"
#include "sp24.h"

namespace sk::cpu::avx512 {

// Per code byte, the lanes (0..7) of its 4 kept values among its 8 elements of x.
struct Sp24Lanes {
  alignas(16) int32_t idx[256][4];
  constexpr Sp24Lanes() : idx{} {
    for (int b = 0; b < 256; ++b)
      for (int j = 0; j < 4; ++j) idx[b][j] = sk::sp24_lane(static_cast<uint32_t>(b), j);
  }
};
constexpr Sp24Lanes kSp24Lanes{};

struct Kept {
  // 32 elements of x (4 code bytes) → the 16 that meet the next 16 kept weights.
  static __m512 kept(const float* x, const uint8_t* meta) {
    const auto lanes = [&](int i) { return _mm_load_si128(reinterpret_cast<const __m128i*>(kSp24Lanes.idx[meta[i]])); };
    __m512i idx = _mm512_castsi128_si512(lanes(0));
    idx = _mm512_inserti32x4(idx, lanes(1), 1);
    idx = _mm512_inserti32x4(idx, lanes(2), 2);
    idx = _mm512_inserti32x4(idx, lanes(3), 3);
    // byte i's lanes index elements 8i..8i+7 of the 32
    idx = _mm512_add_epi32(idx, _mm512_setr_epi32(0, 0, 0, 0, 8, 8, 8, 8, 16, 16, 16, 16, 24, 24, 24, 24));
    return _mm512_permutex2var_ps(_mm512_loadu_ps(x), idx, _mm512_loadu_ps(x + 16));
  }
};

}  // namespace sk::cpu::avx512

SK_DEFINE_SP24_UKERNELS(avx512, 64, 4, sk::cpu::avx512::Kept)
