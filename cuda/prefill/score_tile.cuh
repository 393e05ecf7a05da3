// One warp's tile of strided scores on tensor cores, shared by the XAttention
// and key-importance kernels:
//   acc[n][c] = Σ_f A[n][f] · B[c][f],  f < stride · D
//   A[n][t·D + e] = q[(r0 + n)·stride + stride − 1 − t][e]   (a super-row: stride queries, reversed)
//   B[c][t·D + e] = k[(c0 + c)·stride + t][e]                 (a super-column: stride keys)
// for 16 super-rows × up to 64 super-columns. Tokens at or past seq read as 0
// (the CPU pads the same way). With stride 1 this is a plain q·kᵀ tile.
// Operands are copied as raw 16-bit words (no conversion) into the warp's own
// padded shared tiles, then fed through ldmatrix to mma.m16n8k16 with float32
// accumulation; the fragment layouts are those of cuda/tile/mma.cuh.
#pragma once
#include <stdint.h>

#include "../tile/mma.cuh"

namespace sk::cuda::prefill {

constexpr int kTileRows = 16;  // super-rows per warp tile (the MMA's M)
constexpr int kTileCols = 64;  // super-columns per warp tile (8 n-tiles)
constexpr int kTileK = 64;     // features per shared-memory step
constexpr int kWarps = 4;
constexpr int kThreads = kWarps * 32;
constexpr int kPadK = kTileK + 8;  // one 16-byte pad per row: ldmatrix rows in distinct bank groups

struct WarpTiles {
  uint16_t a[kTileRows][kPadK];
  uint16_t b[kTileCols][kPadK];
};

// Where one (batch, head) pair's q and k rows live.
struct TileSource {
  const uint16_t* q;               // q[b, h] (element 0 of token 0)
  const uint16_t* k;               // k[b, h / group]
  int64_t q_stride_s, k_stride_s;  // elements between tokens
  int64_t seq;
  int32_t head_dim, stride;
  bool vec;  // 8-element chunks are 16-byte aligned and never cross a token (D, strides, bases multiples of 8)
};

// Copies features [f0, f0 + kTileK) of the first `rows` rows of dst; row n's
// token for feature chunk t is token(n, t). Zero outside the tensor.
template <class TokenOf>
__device__ __forceinline__ void load_rows(uint16_t (*dst)[kPadK], const uint16_t* base, int64_t stride_s,
                                          const TileSource& src, int rows, int64_t f0, TokenOf token) {
  const int lane = threadIdx.x % 32;
  const int64_t kc = int64_t{src.stride} * src.head_dim;
  if (src.vec) {
    for (int c = lane; c < rows * (kTileK / 8); c += 32) {
      const int n = c / (kTileK / 8), col = (c % (kTileK / 8)) * 8;
      const int64_t f = f0 + col;
      uint4 v = make_uint4(0, 0, 0, 0);
      if (f < kc) {
        const int64_t t = f / src.head_dim, e = f % src.head_dim, i = token(n, t);
        if (i < src.seq) v = *reinterpret_cast<const uint4*>(base + i * stride_s + e);
      }
      *reinterpret_cast<uint4*>(&dst[n][col]) = v;
    }
  } else {
    for (int c = lane; c < rows * kTileK; c += 32) {
      const int n = c / kTileK, col = c % kTileK;
      const int64_t f = f0 + col;
      uint16_t v = 0;
      if (f < kc) {
        const int64_t t = f / src.head_dim, e = f % src.head_dim, i = token(n, t);
        if (i < src.seq) v = base[i * stride_s + e];
      }
      dst[n][col] = v;
    }
  }
}

// acc = the 16 × kTileCols tile at super-row r0, super-column c0; only the
// first ncols (≤ 64) columns are computed, the rest of acc stays 0.
// acc[j][0..1]: row lane/4, columns 8j + 2(lane%4) + {0, 1}; acc[j][2..3]: row lane/4 + 8.
template <class T>
__device__ __forceinline__ void score_tile(WarpTiles& sm, const TileSource& src, int64_t r0, int64_t c0, int ncols,
                                           float (&acc)[kTileCols / 8][4]) {
  const int lane = threadIdx.x % 32;
#pragma unroll
  for (int j = 0; j < kTileCols / 8; ++j)
#pragma unroll
    for (int e = 0; e < 4; ++e) acc[j][e] = 0.0f;
  const int64_t S = src.stride, kc = S * src.head_dim;
  const int a_row = lane % 16, a_col = (lane / 16) * 8;
  const int b_row = lane % 8 + (lane / 16) * 8, b_col = ((lane / 8) % 2) * 8;
  const int pairs = (ncols + 15) / 16;
  for (int64_t f0 = 0; f0 < kc; f0 += kTileK) {
    __syncwarp();  // the previous step's ldmatrix reads are done
    load_rows(sm.a, src.q, src.q_stride_s, src, kTileRows, f0,
              [&](int n, int64_t t) { return (r0 + n) * S + S - 1 - t; });
    load_rows(sm.b, src.k, src.k_stride_s, src, pairs * 16, f0, [&](int c, int64_t t) { return (c0 + c) * S + t; });
    __syncwarp();
#pragma unroll
    for (int ks = 0; ks < kTileK / 16; ++ks) {
      uint32_t a[4];
      tile::ldmatrix_x4(a, &sm.a[a_row][ks * 16 + a_col]);
#pragma unroll
      for (int np = 0; np < kTileCols / 16; ++np) {
        if (np >= pairs) break;
        uint32_t b[4];
        tile::ldmatrix_x4(b, &sm.b[np * 16 + b_row][ks * 16 + b_col]);
        tile::mma_16x8x16<T>(acc[2 * np], a, b[0], b[1]);
        tile::mma_16x8x16<T>(acc[2 * np + 1], a, b[2], b[3]);
      }
    }
  }
}

// Max and sum over the four lanes of a quad (the lanes that share a row).
__device__ __forceinline__ float quad_max(float v) {
  v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, 1));
  return fmaxf(v, __shfl_xor_sync(0xffffffffu, v, 2));
}
__device__ __forceinline__ float quad_sum(float v) {
  v += __shfl_xor_sync(0xffffffffu, v, 1);
  return v + __shfl_xor_sync(0xffffffffu, v, 2);
}

}  // namespace sk::cuda::prefill
