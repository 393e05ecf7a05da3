// One CTA computes a kBM × kBN tile of out = x · wᵀ (+ bias): w's rows are
// the MMA's A operand (the sparse one for mma.sp), x's rows its B operand,
// so the accumulator holds outᵀ and the epilogue transposes it through
// shared memory for coalesced stores. K moves in 64-wide tiles through a
// cp.async pipeline; each 32-wide step is one mma.sp.m16n8k32 (2:4 weight)
// or two mma.m16n8k16 (dense weight) per 16 × 8 accumulator.
#pragma once
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <stdint.h>

#include "../common.cuh"
#include "../tile/copy.cuh"
#include "../tile/mma.cuh"
#include "../tile/smem_tile.cuh"
#include "fragments.h"
#include "linear_params.h"

namespace sk::cuda::linear {

template <class T, bool kSparse, class Cfg>
struct LinearKernel {
  static constexpr int kStages = kSparse ? 3 : 2;  // dense: 2 keeps the big tile under sm_89's 99 KB
  static constexpr int kWCols = kSparse ? kBK / 2 : kBK;
  using WTile = tile::SmemTile<T, Cfg::kBN, kWCols>;
  using XTile = tile::SmemTile<T, Cfg::kBM, kBK>;
  using OutTile = tile::SmemTile<T, Cfg::kBM, Cfg::kBN>;
  static constexpr int kMetaWords = kSparse ? Cfg::kBN / 16 * 2 * sp24::kMetaWordsPerStep : 0;
  static constexpr size_t kStageBytes = WTile::kBytes + XTile::kBytes + kMetaWords * 4;
  static constexpr size_t kPipeBytes = kStageBytes * kStages;
  static constexpr size_t kSmemBytes = kPipeBytes > OutTile::kBytes ? kPipeBytes : OutTile::kBytes;
  static_assert(WTile::kBytes % 16 == 0 && XTile::kBytes % 16 == 0, "stage parts stay 16-byte aligned");
};

template <class T, bool kSparse, class Cfg>
__global__ void __launch_bounds__(Cfg::kThreads) linear_kernel(const LinearParams p) {
  using K = LinearKernel<T, kSparse, Cfg>;
  extern __shared__ __align__(16) unsigned char smem[];
  const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;
  const int wn = warp % Cfg::kWarpsN, wm = warp / Cfg::kWarpsN;
  const int g = lane >> 2, t = lane & 3;
  const int64_t m0 = int64_t(blockIdx.x) * Cfg::kBM, n0 = int64_t(blockIdx.y) * Cfg::kBN;
  const T* x = static_cast<const T*>(p.x);
  const T* w = static_cast<const T*>(p.w);
  const int x_rows = static_cast<int>(p.m - m0 < Cfg::kBM ? p.m - m0 : Cfg::kBM);
  const int w_rows = static_cast<int>(p.n - n0 < Cfg::kBN ? p.n - n0 : Cfg::kBN);

  auto w_tile = [&](int s) { return typename K::WTile{reinterpret_cast<T*>(smem + s * K::kStageBytes)}; };
  auto x_tile = [&](int s) {
    return typename K::XTile{reinterpret_cast<T*>(smem + s * K::kStageBytes + K::WTile::kBytes)};
  };
  auto meta_tile = [&](int s) {
    return reinterpret_cast<uint32_t*>(smem + s * K::kStageBytes + K::WTile::kBytes + K::XTile::kBytes);
  };

  const int64_t k_tiles = (p.k_pad + kBK - 1) / kBK;
  auto load_stage = [&](int s, int64_t kt) {
    const int64_t k0 = kt * kBK;
    const int x_cols = static_cast<int>(p.k - k0 < kBK ? p.k - k0 : kBK);
    typename K::XTile xs = x_tile(s);
    tile::load_tile<Cfg::kThreads>(xs, x + m0 * p.k + k0, p.k, x_rows, x_cols, p.x_vec);
    typename K::WTile ws = w_tile(s);
    if constexpr (kSparse) {
      // Padded layout: every row and column of the tile exists.
      tile::load_tile<Cfg::kThreads>(ws, w + n0 * p.w_stride + k0 / 2, p.w_stride, Cfg::kBN, kBK / 2, true);
      uint32_t* ms = meta_tile(s);
      const int64_t k_steps = p.k_pad / 32;
      for (int c = tid; c < K::kMetaWords / 4; c += Cfg::kThreads)
        tile::cp_async_16(ms + sp24::meta_chunk_dst_word(c), p.meta + sp24::meta_chunk_src_word(n0, c, kt, k_steps),
                          true);
    } else {
      tile::load_tile<Cfg::kThreads>(ws, w + n0 * p.w_stride + k0, p.w_stride, w_rows, x_cols, p.w_vec);
    }
  };

  float acc[Cfg::kMI][Cfg::kNI][4];
#pragma unroll
  for (int i = 0; i < Cfg::kMI; ++i)
#pragma unroll
    for (int j = 0; j < Cfg::kNI; ++j)
#pragma unroll
      for (int r = 0; r < 4; ++r) acc[i][j][r] = 0.f;

#pragma unroll
  for (int s = 0; s < K::kStages - 1; ++s) {
    if (s < k_tiles) load_stage(s, s);
    tile::cp_async_commit();
  }

#pragma unroll 1
  for (int64_t kt = 0; kt < k_tiles; ++kt) {
    tile::cp_async_wait<K::kStages - 2>();
    __syncthreads();  // stage kt is in; everyone is done with the stage refilled next
    const int64_t next = kt + K::kStages - 1;
    if (next < k_tiles) load_stage(static_cast<int>(next % K::kStages), next);
    tile::cp_async_commit();

    const int s = static_cast<int>(kt % K::kStages);
    typename K::WTile ws = w_tile(s);
    typename K::XTile xs = x_tile(s);
    const uint32_t* ms = meta_tile(s);
#pragma unroll
    for (int step = 0; step < 2; ++step) {
      uint32_t b[Cfg::kNI][4];
#pragma unroll
      for (int ni = 0; ni < Cfg::kNI; ++ni)
        tile::ldmatrix_x4(b[ni],
                          xs.at(wm * Cfg::kWarpM + ni * 8 + sp24::b_ldm_row(lane), step * 32 + sp24::b_ldm_col(lane)));
#pragma unroll
      for (int mi = 0; mi < Cfg::kMI; ++mi) {
        const int row = wn * Cfg::kWarpN + mi * 16;
        if constexpr (kSparse) {
          uint32_t a[4];
          tile::ldmatrix_x4(a, ws.at(row + sp24::a_ldm_row(lane), step * 16 + sp24::a_ldm_col(lane)));
          const uint32_t e = ms[sp24::meta_smem_word(row, step, g, t)];
#pragma unroll
          for (int ni = 0; ni < Cfg::kNI; ++ni) tile::mma_sp_16x8x32<T>(acc[mi][ni], a, b[ni], e);
        } else {
          uint32_t a0[4], a1[4];
          tile::ldmatrix_x4(a0, ws.at(row + sp24::a_ldm_row(lane), step * 32 + sp24::a_ldm_col(lane)));
          tile::ldmatrix_x4(a1, ws.at(row + sp24::a_ldm_row(lane), step * 32 + 16 + sp24::a_ldm_col(lane)));
#pragma unroll
          for (int ni = 0; ni < Cfg::kNI; ++ni) tile::mma_16x8x32<T>(acc[mi][ni], a0, a1, b[ni]);
        }
      }
    }
  }
  tile::cp_async_wait<0>();
  __syncthreads();  // the pipeline's shared memory becomes the output tile

  typename K::OutTile os{reinterpret_cast<T*>(smem)};
  auto bias_at = [&](int64_t col) -> float {
    if (p.bias == nullptr || col >= p.n) return 0.f;
    return p.bias_f32 ? static_cast<const float*>(p.bias)[col] : static_cast<float>(static_cast<const T*>(p.bias)[col]);
  };
#pragma unroll
  for (int mi = 0; mi < Cfg::kMI; ++mi)
#pragma unroll
    for (int ni = 0; ni < Cfg::kNI; ++ni)
#pragma unroll
      for (int r = 0; r < 4; ++r) {
        const int col = wn * Cfg::kWarpN + mi * 16 + sp24::d_frag_row(lane, r);  // w row = out column
        const int row = wm * Cfg::kWarpM + ni * 8 + sp24::d_frag_col(lane, r);   // x row = out row
        *os.at(row, col) = T(acc[mi][ni][r] + bias_at(n0 + col));
      }
  __syncthreads();
  tile::store_tile<Cfg::kThreads>(static_cast<T*>(p.out) + m0 * p.n + n0, p.n, os, x_rows, w_rows, p.out_vec);
}

// Host launcher of one instance (defined per inst/*.cu).
template <class T, bool kSparse, class Cfg>
void run_linear(const LinearParams& p, cudaStream_t stream) {
  using K = LinearKernel<T, kSparse, Cfg>;
  auto kernel = &linear_kernel<T, kSparse, Cfg>;
  SK_CUDA_CHECK(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, int(K::kSmemBytes)));
  const dim3 grid(static_cast<unsigned>((p.m + Cfg::kBM - 1) / Cfg::kBM),
                  static_cast<unsigned>((p.n + Cfg::kBN - 1) / Cfg::kBN));
  kernel<<<grid, Cfg::kThreads, K::kSmemBytes, stream>>>(p);
  SK_CUDA_CHECK(cudaGetLastError());
}

}  // namespace sk::cuda::linear
