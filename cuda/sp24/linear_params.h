// What the linear kernels read (out = x · wᵀ + bias, float32 accumulation),
// built on the host by the binding (cuda/binding/linear_args.cc). Plain C++:
// no CUDA types, so the binding's checks compile and run without a device.
// Passed to the kernel by value.
#pragma once
#include <stdint.h>

namespace sk::cuda::linear {

struct LinearParams {
  const void* x;         // [m, k] row-major, the dtype (float16 / bfloat16)
  const void* w;         // sparse: CUDA-layout values [n_pad, k_pad/2]; dense: [n, k] row-major
  const uint32_t* meta;  // sparse: CUDA-layout metadata words [n_pad/16][k_pad/32][16]; dense: null
  const void* bias;      // [n] in the dtype or float32 (bias_f32), or null
  void* out;             // [m, n] row-major, the dtype
  int64_t m, n, k;       // elements
  int64_t w_stride;      // elements between rows of w: k_pad / 2 (sparse) or k (dense)
  int64_t k_pad;         // sparse: K padded to the 64-wide tile; dense: k
  bool bias_f32;
  // Rows of x / w / out start on 16-byte boundaries (pointer and stride), so
  // tiles move as 16-byte chunks; otherwise element by element.
  bool x_vec, w_vec, out_vec;
};

// The CTA tile: kBN weight rows (out columns) × kBM rows of x, kWarpsN ×
// kWarpsM warps, each with kMI 16-row A tiles and kNI 8-row B tiles. Plain
// C++ so the native tests emulate the same tiling.
template <int BN, int BM, int WarpsN, int WarpsM>
struct TileConfig {
  static constexpr int kBN = BN, kBM = BM, kWarpsN = WarpsN, kWarpsM = WarpsM;
  static constexpr int kThreads = 32 * WarpsN * WarpsM;
  static constexpr int kWarpN = BN / WarpsN, kWarpM = BM / WarpsM;  // rows per warp
  static constexpr int kMI = kWarpN / 16;
  static constexpr int kNI = kWarpM / 8;
};
using BigTile = TileConfig<128, 128, 2, 4>;  // 8 warps, 64 × 32 per warp
using SmallTile = TileConfig<64, 32, 2, 2>;  // 4 warps, 32 × 16 per warp: few rows of x (decode)
constexpr int kBK = 64;                      // dense K per pipeline stage

}  // namespace sk::cuda::linear
