// Block-sparse FlashAttention-2 forward on FP8 q, k, v (docs/fp8.md) for
// sm_89 and newer: the 16-bit kernel's loop (fwd_kernel.cuh) on FP8 codes
// with their scales. Per key step (never wider than one quantisation tile):
//   S = Q·Kᵀ on the codes (mma m16n8k32, float32, a fresh accumulator per
//     k32 step added into S, so no long FP8-MMA accumulation chain), then
//     times q's row scales · k's tile scale · scale · log2(e), masked;
//   online softmax in float32 (tile/softmax.cuh);
//   P = 2^(s - max) in [0, 1], times kPScale, rounded to e4m3;
//   O += (P · V's codes) · V's channel scales / kPScale, one 16 × 8 slice of
//     O at a time, so the channel scales apply without a second O.
// k's smoothing mean is never added back (the softmax ignores it); the lse
// gets scale · q̂·mean, as on the CPU. Included only by the instance files.
#pragma once
#include <cuda_runtime.h>
#include <math.h>
#include <stdint.h>

#include "../../csrc/core/kv_walk.h"
#include "../../csrc/core/mask_rules.h"
#include "../common.cuh"
#include "../tile/copy.cuh"
#include "../tile/fragment.cuh"
#include "../tile/smem_tile.cuh"
#include "../tile/softmax.cuh"
#include "fp8_mma.cuh"
#include "fwd_params.h"
#include "launch.cuh"
#include "traits.h"

namespace sk::cuda::attn {

// P's static scale. P lies in [0, 1] after the running-max subtraction, so
// 256 · P stays below e4m3's 448 (no saturation) while P down to 2^-14
// keeps e4m3's full 3-bit mantissa (relative rounding error <= 2^-4) and
// P below 2^-17 rounds to 0, where its weight is lost in float32's sum
// anyway next to the row's maximum, whose P is 1. A power of two, so
// dividing it back out is exact.
constexpr float kPScale = 256.f;
constexpr float kLn2Fp8 = 0.6931471805599453f;  // lse back to the natural log

// Where one block of the grid works: query rows [row0, row_end) of head h, batch b.
struct Fp8Rows {
  int64_t row0, row_end;
};

template <class Tr>
__device__ __forceinline__ Fp8Rows fp8_rows(const FwdParams& p, int64_t tile_id, int64_t b, int64_t h,
                                            sk::KvWalk<0>& walk) {
  int64_t row0, row_end;
  if (p.has_mask) {
    // A query tile never straddles two mask rows: it is cut at the block's end.
    const int64_t qb = tile_id / p.q_tiles_per_block;
    row0 = qb * p.q_block + (tile_id % p.q_tiles_per_block) * Tr::kBlockM;
    row_end = min(min(row0 + Tr::kBlockM, (qb + 1) * p.q_block), p.seq_q);
    const int64_t mb = p.mask_batch == 1 ? 0 : b, mh = p.mask_heads == 1 ? 0 : h;
    walk.row(p.full_num, p.full_idx, p.partial_num, p.partial_idx, (mb * p.mask_heads + mh) * p.n_q_blocks + qb,
             p.n_kv_blocks, p.kv_block, p.rules->n_terms > 0);
  } else {
    row0 = tile_id * Tr::kBlockM;
    row_end = min(row0 + Tr::kBlockM, p.seq_q);
    walk.dense(p.seq_kv);
  }
  walk.tile = p.kv_chunk;
  // Bottom-right causality: query i sees keys j <= i + offset.
  walk.rows(row0, row_end, p.seq_kv, p.causal_offset, p.causal);
  return {row0, row_end};
}

// s = Q·Kᵀ over the codes of one key tile; (a_row, a_col), (k_row, k_col):
// this lane's ldmatrix addresses in sQ and sK (fp8_mma.cuh).
template <class Tr, class QTile, class KTile>
__device__ __forceinline__ void fp8_scores(float (&s)[Tr::kBlockN / 8][4], const QTile& sQ, const KTile& sK, int a_row,
                                           int a_col, int k_row, int k_col) {
#pragma unroll
  for (int ks = 0; ks < Tr::kHeadDim / 32; ++ks) {
    uint32_t a[4];
    tile::ldmatrix_x4(a, sQ.at(a_row, ks * 32 + a_col));
#pragma unroll
    for (int np = 0; np < Tr::kBlockN / 16; ++np) {
      uint32_t bk[4];  // two n-tiles of 8 keys: b[0..1] the first, b[2..3] the second
      tile::ldmatrix_x4(bk, sK.at(np * 16 + k_row, ks * 32 + k_col));
      float c0[4] = {}, c1[4] = {};
      mma_f8_16x8x32<Tr::kType, Tr::kType>(c0, a, bk[0], bk[1]);
      mma_f8_16x8x32<Tr::kType, Tr::kType>(c1, a, bk[2], bk[3]);
#pragma unroll
      for (int e = 0; e < 4; ++e) s[2 * np][e] += c0[e], s[2 * np + 1][e] += c1[e];
    }
  }
}

// Hides the keys of `t` that row i of the lane may not see: past the tile's
// count, past the causal diagonal, or dropped by the mask's token rules.
template <int N>
__device__ __forceinline__ void fp8_mask(float (&s)[N][4], const FwdParams& p, const sk::KvTile& t, int64_t b,
                                         int64_t h, int64_t row_base, int quad) {
  if (t.count == N * 8 && !t.causal_test && !t.rule_test) return;
#pragma unroll
  for (int nt = 0; nt < N; ++nt) {
#pragma unroll
    for (int e = 0; e < 4; ++e) {
      const int col = tile::acc_col(nt, e, quad);
      const int64_t i = row_base + tile::acc_row8(e), j = t.start + col;
      bool visible = col < t.count;
      if (t.causal_test) visible = visible && j <= i + p.causal_offset;
      // i < seq_q: the rules index per-token arrays; padding rows must not reach them.
      if (t.rule_test) visible = visible && i < p.seq_q && sk::rules_visible(*p.rules, b, h, i, j, p.causal_offset);
      if (!visible) s[nt][e] = -INFINITY;
    }
  }
}

// o += (P · Vᵀ-codes) · vs[channel] / kPScale, P = s in [0, 1]. Each 16-channel
// pair of n-tiles sums over the step's keys in fresh registers first, so
// the channel scales (one row per quantisation tile) apply once per step.
template <class Tr, class VtTile>
__device__ __forceinline__ void fp8_pv(float (&o)[Tr::kHeadDim / 8][4], const float (&s)[Tr::kBlockN / 8][4],
                                       const VtTile& sVt, const float* vs, int head_dim, int k_row, int k_col,
                                       int quad) {
  constexpr int kNSteps = Tr::kBlockN / 32;
  uint32_t pa[kNSteps][4];
#pragma unroll
  for (int ks = 0; ks < kNSteps; ++ks) p_to_a(pa[ks], s, ks, kPScale);
#pragma unroll
  for (int np = 0; np < Tr::kHeadDim / 16; ++np) {
    float c[2][4] = {};
#pragma unroll
    for (int ks = 0; ks < kNSteps; ++ks) {
      uint32_t bv[4];
      tile::ldmatrix_x4(bv, sVt.at(np * 16 + k_row, ks * 32 + k_col));
      mma_f8_16x8x32<SK_F8E4M3FN, Tr::kType>(c[0], pa[ks], bv[0], bv[1]);
      mma_f8_16x8x32<SK_F8E4M3FN, Tr::kType>(c[1], pa[ks], bv[2], bv[3]);
    }
#pragma unroll
    for (int half = 0; half < 2; ++half) {
      const int nt = 2 * np + half, col = nt * 8 + 2 * quad;
      // Channels past the head dim are zero padding: their scale index would run off the row.
      const float v0 = col < head_dim ? vs[col] * (1.f / kPScale) : 0.f;
      const float v1 = col + 1 < head_dim ? vs[col + 1] * (1.f / kPScale) : 0.f;
      o[nt][0] += c[half][0] * v0, o[nt][1] += c[half][1] * v1;
      o[nt][2] += c[half][2] * v0, o[nt][3] += c[half][3] * v1;
    }
  }
}

// q̂·mean of query row `row` of sQ (codes times the row's scale qs), summed
// over the quad; every lane of the warp calls it (the sum shuffles).
template <class Tr, class QTile>
__device__ __forceinline__ float fp8_q_dot_mean(const QTile& sQ, int row, const float* mean, int head_dim, int quad,
                                                float qs) {
  float dot = 0.f;
  for (int d = quad; d < head_dim; d += 4) dot += fp8_value<Tr::kType>(*sQ.at(row, d)) * mean[d];
  return tile::quad_sum(dot) * qs;
}

// Normalises O and writes it (float32) and the lse of the lane's two rows.
template <class Tr, class QTile>
__device__ __forceinline__ void fp8_epilogue(const FwdParams& p, const QTile& sQ, const float (&o)[Tr::kHeadDim / 8][4],
                                             const float (&m)[2], float (&l)[2], const float (&qs)[2], int64_t b,
                                             int64_t h, int64_t row0, int rows, int wrow, int group, int quad) {
  const int head_dim = static_cast<int>(p.head_dim);
  float* out = static_cast<float*>(p.out) + b * p.out_stride_b + h * p.out_stride_h;
  const float* mean = p.k_mean ? p.k_mean + (b * (p.heads_q / p.group) + h / p.group) * p.head_dim : nullptr;
#pragma unroll
  for (int r = 0; r < 2; ++r) {
    l[r] = tile::quad_sum(l[r]);
    const float inv = l[r] > 0.f ? 1.f / l[r] : 0.f;  // no visible key: zeros
    const int row = wrow + group + 8 * r;
    const float shift = mean ? fp8_q_dot_mean<Tr>(sQ, row, mean, head_dim, quad, qs[r]) * p.scale_log2 : 0.f;
    if (row >= rows) continue;
    float* dst = out + (row0 + row) * p.out_stride_s;
#pragma unroll
    for (int nt = 0; nt < Tr::kHeadDim / 8; ++nt) {
      const int col = nt * 8 + 2 * quad;
      if (col < head_dim) dst[col] = o[nt][2 * r] * inv;
      if (col + 1 < head_dim) dst[col + 1] = o[nt][2 * r + 1] * inv;
    }
    if (p.lse != nullptr && quad == 0)
      p.lse[(b * p.heads_q + h) * p.seq_q + row0 + row] =
          l[r] > 0.f ? (m[r] + shift) * kLn2Fp8 + logf(l[r]) : -INFINITY;
  }
}

template <class Tr>
__device__ __forceinline__ void fwd_fp8(const FwdParams& p) {
  constexpr int kThreads = Tr::kThreads, kBlockN = Tr::kBlockN, kHeadDim = Tr::kHeadDim;
  using QTile = tile::SmemTile<uint8_t, Tr::kBlockM, kHeadDim>;
  using KVTile = tile::SmemTile<uint8_t, kBlockN, kHeadDim>;
  using VtTile = tile::SmemTile<uint8_t, kHeadDim, kBlockN>;
  extern __shared__ __align__(16) unsigned char smem[];
  QTile sQ{smem};
  KVTile sK{smem + QTile::kBytes}, sV{smem + QTile::kBytes + KVTile::kBytes};
  VtTile sVt{smem + QTile::kBytes + 2 * KVTile::kBytes};

  // Heavy tiles first: under causality the last query tiles see the most keys.
  const int64_t h = blockIdx.y, b = blockIdx.z;
  sk::KvWalk<0> walk;
  const Fp8Rows span = fp8_rows<Tr>(p, gridDim.x - 1 - blockIdx.x, b, h, walk);
  if (span.row0 >= span.row_end) return;  // the short tail of a mask row: uniform across the block
  const int64_t row0 = span.row0;
  const int rows = static_cast<int>(span.row_end - row0), head_dim = static_cast<int>(p.head_dim);
  const int64_t hk = h / p.group, heads_kv = p.heads_q / p.group;
  const int64_t kv_tiles = (p.seq_kv + p.fp8_tile - 1) / p.fp8_tile;
  const float* k_scale = p.k_scale + (b * heads_kv + hk) * kv_tiles;
  const float* v_scale = p.v_scale + (b * heads_kv + hk) * kv_tiles * p.head_dim;
  const auto* q = static_cast<const uint8_t*>(p.q) + b * p.q_stride_b + h * p.q_stride_h + row0 * p.q_stride_s;
  const auto* k = static_cast<const uint8_t*>(p.k) + b * p.k_stride_b + hk * p.k_stride_h;
  const auto* v = static_cast<const uint8_t*>(p.v) + b * p.v_stride_b + hk * p.v_stride_h;

  tile::load_tile<kThreads>(sQ, q, p.q_stride_s, rows, head_dim, p.vec);
  sk::KvTile cur;
  bool have = walk.step(cur);
  if (have) tile::load_tile<kThreads>(sK, k + cur.start * p.k_stride_s, p.k_stride_s, cur.count, head_dim, p.vec);
  tile::cp_async_commit();

  const int lane = threadIdx.x % 32, group = lane / 4, quad = lane % 4;
  const int wrow = (threadIdx.x / 32) * 16;  // the warp's first row in the tile
  // ldmatrix row addresses per lane (fp8_mma.cuh): A = Q, and B = K or Vᵀ, two n-tiles per load.
  const int a_row = wrow + lane % 16, a_col = (lane / 16) * 16;
  const int k_row = lane % 8 + (lane / 16) * 8, k_col = ((lane / 8) % 2) * 16;
  // q's scale of the lane's two rows (0 past the tile: those rows are never stored).
  float qs[2];
  const int64_t q_tiles = (p.seq_q + p.fp8_tile - 1) / p.fp8_tile;
  for (int r = 0; r < 2; ++r) {
    const int64_t i = row0 + wrow + group + 8 * r;
    qs[r] = i < span.row_end ? p.q_scale[(b * p.heads_q + h) * q_tiles + i / p.fp8_tile] : 0.f;
  }

  tile::Acc<kHeadDim> o = {};
  float m[2] = {-INFINITY, -INFINITY};  // running row max, base-2 scaled units
  float l[2] = {0.f, 0.f};              // running row sum of this lane's columns
  while (have) {
    tile::cp_async_wait_all();
    __syncthreads();  // K_j (and Q) landed; every warp is done with Vᵀ_{j-1}
    tile::load_tile<kThreads>(sV, v + cur.start * p.v_stride_s, p.v_stride_s, cur.count, head_dim, p.vec);
    tile::cp_async_commit();

    tile::Acc<kBlockN> s = {};
    fp8_scores<Tr>(s, sQ, sK, a_row, a_col, k_row, k_col);
    const int64_t t = cur.start / p.fp8_tile;  // the step's quantisation tile
    for (int r = 0; r < 2; ++r) tile::mul_row(s, r, qs[r] * k_scale[t] * p.scale_log2);
    fp8_mask(s, p, cur, b, h, row0 + wrow + group, quad);
    tile::online_softmax(s, o, m, l);

    tile::cp_async_wait_all();
    __syncthreads();  // V_j landed; every warp is done with K_j
    sk::KvTile nxt;
    have = walk.step(nxt);
    if (have) tile::load_tile<kThreads>(sK, k + nxt.start * p.k_stride_s, p.k_stride_s, nxt.count, head_dim, p.vec);
    tile::cp_async_commit();
    transpose_v<kThreads>(sVt, sV);
    __syncthreads();  // Vᵀ_j is whole
    fp8_pv<Tr>(o, s, sVt, v_scale + t * p.head_dim, head_dim, k_row, k_col, quad);
    cur = nxt;
  }
  tile::cp_async_wait_all();  // Q, when no key tile was visited
  __syncthreads();
  fp8_epilogue<Tr>(p, sQ, o, m, l, qs, b, h, row0, rows, wrow, group, quad);
}

template <class Tr>
__global__ void __launch_bounds__(Tr::kThreads, 1) attention_fwd_fp8_kernel(const FwdParams p) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 890
  fwd_fp8<Tr>(p);
#else
  __trap();  // run_fwd_fp8 refuses a device or an image below sm_89 before launching
#endif
}

template <class Tr>
constexpr size_t fwd_fp8_smem_bytes() {
  return tile::SmemTile<uint8_t, Tr::kBlockM, Tr::kHeadDim>::kBytes +
         2 * tile::SmemTile<uint8_t, Tr::kBlockN, Tr::kHeadDim>::kBytes +
         tile::SmemTile<uint8_t, Tr::kHeadDim, Tr::kBlockN>::kBytes;
}

// Enqueues the FP8 kernel for one (head dim, FP8 type) instance. The caller
// (attention.cc) has checked the shapes, the grid limits and that the device
// is sm_89+; this checks that the loaded image is too (a build without 89 or
// 90a runs sm_80 code on an sm_89 GPU, where this kernel is a trap).
template <int kHeadDim, sk_dtype kType>
void run_fwd_fp8(const FwdParams& p, cudaStream_t stream) {
  using Tr = FwdFp8Traits<kHeadDim, kType>;
  auto kernel = attention_fwd_fp8_kernel<Tr>;
  cudaFuncAttributes attr{};
  SK_CUDA_CHECK(cudaFuncGetAttributes(&attr, kernel));
  if (attr.binaryVersion < 89)
    throw CudaFailure(SK_ERR_UNSUPPORTED, "FP8 attention needs code for sm_89 or newer, but this build runs sm_" +
                                              std::to_string(attr.binaryVersion) +
                                              " code on this GPU: rebuild with SPARSEKIT_CUDA_ARCHS naming 89 or 90a");
  launch_fwd<Tr::kBlockM, Tr::kThreads>(kernel, fwd_fp8_smem_bytes<Tr>(), p, stream);
}

}  // namespace sk::cuda::attn
