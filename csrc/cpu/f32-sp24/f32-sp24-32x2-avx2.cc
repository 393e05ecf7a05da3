// 2:4 linear kernels for the avx2 kernel set (sp24.inc): 32×2 SpMM tile
// (8 accumulators of 4 vectors each), and a gemv that permutes x into kept
// order with _mm256_permutevar8x32_ps.
#include "../f32-gemm/ops-avx2.h"

#define SK_ISA_NAMESPACE avx2
#include "f32-sp24-impl.h"
#include "sp24.h"

namespace sk::cpu::avx2 {

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
  // 16 elements of x (2 code bytes) → the 8 that meet the next 8 kept weights:
  // lanes 0-3 from the first 8 elements, lanes 4-7 from the second 8.
  static __m256 kept(const float* x, const uint8_t* meta) {
    const __m128i lo = _mm_load_si128(reinterpret_cast<const __m128i*>(kSp24Lanes.idx[meta[0]]));
    const __m128i hi = _mm_load_si128(reinterpret_cast<const __m128i*>(kSp24Lanes.idx[meta[1]]));
    const __m256i idx = _mm256_inserti128_si256(_mm256_castsi128_si256(lo), hi, 1);
    const __m256 a = _mm256_permutevar8x32_ps(_mm256_loadu_ps(x), idx);
    const __m256 b = _mm256_permutevar8x32_ps(_mm256_loadu_ps(x + 8), idx);
    return _mm256_blend_ps(a, b, 0xF0);
  }
};

}  // namespace sk::cpu::avx2

SK_DEFINE_SP24_UKERNELS(avx2, 32, 2, sk::cpu::avx2::Kept)
