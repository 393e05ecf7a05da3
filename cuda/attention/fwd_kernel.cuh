// FlashAttention-2 forward for sm_80 and newer: one block per (query tile,
// query head, batch), 4 warps of 16 query rows each. Per key tile:
//   S = Q·Kᵀ (mma.sync m16n8k16, fp32), scaled into base 2, masked;
//   online softmax in registers (row max and sum per quad);
//   O += P·V with P repacked from the S accumulators as the A operand.
// K and V tiles are single-buffered with cp.async: V_j loads while S_j is
// computed, K_{j+1} while P_j·V_j is. Included only by the instance files.
#pragma once
#include <cuda_bf16.h>
#include <cuda_fp16.h>
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
#include "fwd_params.h"
#include "launch.cuh"
#include "traits.h"

namespace sk::cuda::attn {

constexpr float kLn2 = 0.6931471805599453f;  // lse back to the natural log

template <sk_dtype>
struct Storage;
template <>
struct Storage<SK_F16> {
  using type = __half;
};
template <>
struct Storage<SK_BF16> {
  using type = __nv_bfloat16;
};

template <class Tr>
__global__ void __launch_bounds__(Tr::kThreads, 1) attention_fwd_kernel(const FwdParams p) {
  using T = typename Tr::Elem;
  constexpr int kThreads = Tr::kThreads, kBlockM = Tr::kBlockM, kBlockN = Tr::kBlockN, kHeadDim = Tr::kHeadDim;
  constexpr int kDSteps = kHeadDim / 16;  // k-steps of Q·Kᵀ
  constexpr int kNSteps = kBlockN / 16;   // k-steps of P·V
  using QTile = tile::SmemTile<T, kBlockM, kHeadDim>;
  using KVTile = tile::SmemTile<T, kBlockN, kHeadDim>;

  extern __shared__ __align__(16) unsigned char smem[];
  QTile sQ{reinterpret_cast<T*>(smem)};  // also stages O for the store
  KVTile sK{reinterpret_cast<T*>(smem + QTile::kBytes)};
  KVTile sV{reinterpret_cast<T*>(smem + QTile::kBytes + KVTile::kBytes)};

  // Heavy tiles first: under causality the last query tiles see the most keys.
  const int64_t tile_id = gridDim.x - 1 - blockIdx.x;
  const int64_t h = blockIdx.y, b = blockIdx.z;
  int64_t row0, row_end;
  sk::KvWalk<kBlockN> walk;
  if (p.has_mask) {
    // A query tile never straddles two mask rows: it is cut at the block's end.
    const int64_t qb = tile_id / p.q_tiles_per_block;
    row0 = qb * p.q_block + (tile_id % p.q_tiles_per_block) * kBlockM;
    row_end = min(min(row0 + kBlockM, (qb + 1) * p.q_block), p.seq_q);
    const int64_t mb = p.mask_batch == 1 ? 0 : b, mh = p.mask_heads == 1 ? 0 : h;
    const int64_t mrow = (mb * p.mask_heads + mh) * p.n_q_blocks + qb;
    // What KvWalk::row() and rows() set, assigned field by field in the order
    // scripts/cuda-sass-diff.sh showed keeps the kernel's code as it was.
    walk.full_num = p.full_num[mrow];
    walk.partial_num = p.partial_num[mrow];
    walk.full_idx = p.full_idx + mrow * p.n_kv_blocks;
    walk.partial_idx = p.partial_idx + mrow * p.n_kv_blocks;
    walk.kv_block = p.kv_block;
    walk.has_rules = p.rules->n_terms > 0;
  } else {
    row0 = tile_id * kBlockM;
    row_end = min(row0 + kBlockM, p.seq_q);
    walk.dense(p.seq_kv);
  }
  if (row0 >= row_end) return;  // the short tail of a mask row: uniform across the block
  const int rows = static_cast<int>(row_end - row0);
  const int head_dim = static_cast<int>(p.head_dim);
  // Bottom-right causality: query i sees keys j <= i + offset.
  walk.causal = p.causal;
  walk.key_end = p.causal ? min(p.seq_kv, row_end + p.causal_offset) : p.seq_kv;
  walk.first_diag = row0 + p.causal_offset;

  const int64_t hk = h / p.group;
  const T* q = static_cast<const T*>(p.q) + b * p.q_stride_b + h * p.q_stride_h + row0 * p.q_stride_s;
  const T* k = static_cast<const T*>(p.k) + b * p.k_stride_b + hk * p.k_stride_h;
  const T* v = static_cast<const T*>(p.v) + b * p.v_stride_b + hk * p.v_stride_h;
  T* out = static_cast<T*>(p.out) + b * p.out_stride_b + h * p.out_stride_h + row0 * p.out_stride_s;

  tile::load_tile<kThreads>(sQ, q, p.q_stride_s, rows, head_dim, p.vec);
  sk::KvTile cur;
  bool have = walk.step(cur);
  if (have) tile::load_tile<kThreads>(sK, k + cur.start * p.k_stride_s, p.k_stride_s, cur.count, head_dim, p.vec);
  tile::cp_async_commit();

  const int lane = threadIdx.x % 32;
  const int group = lane / 4, quad = lane % 4;
  const int wrow = (threadIdx.x / 32) * 16;  // the warp's first row in the tile
  // ldmatrix row addresses per lane (see tile/mma.cuh for the fragment layouts).
  const int a_row = wrow + lane % 16, a_col = (lane / 16) * 8;                 // A = Q, row-major
  const int k_row = lane % 8 + (lane / 16) * 8, k_col = ((lane / 8) % 2) * 8;  // B = Kᵀ: two n-tiles
  const int v_row = lane % 8 + ((lane / 8) % 2) * 8, v_col = (lane / 16) * 8;  // B = V, transposed

  tile::Acc<kHeadDim> o = {};
  float m[2] = {-INFINITY, -INFINITY};  // running row max, base-2 scaled units
  float l[2] = {0.f, 0.f};              // running row sum of this lane's columns
  uint32_t qf[Tr::kQInRegs ? kDSteps : 1][4];
  bool first = true;

  while (have) {
    tile::cp_async_wait_all();
    __syncthreads();  // K_j (and Q) landed; every warp is done with V_{j-1}
    if constexpr (Tr::kQInRegs) {
      if (first) {
#pragma unroll
        for (int ks = 0; ks < kDSteps; ++ks) tile::load_a(qf[ks], sQ, a_row, a_col, ks);
      }
    }
    first = false;
    tile::load_tile<kThreads>(sV, v + cur.start * p.v_stride_s, p.v_stride_s, cur.count, head_dim, p.vec);
    tile::cp_async_commit();

    // S = Q·Kᵀ
    tile::Acc<kBlockN> s = {};
#pragma unroll
    for (int ks = 0; ks < kDSteps; ++ks) {
      uint32_t a[4];
      if constexpr (Tr::kQInRegs) {
#pragma unroll
        for (int r = 0; r < 4; ++r) a[r] = qf[ks][r];
      } else {
        tile::load_a(a, sQ, a_row, a_col, ks);
      }
      uint32_t bk[4];
      tile::mma_abt<T>(s, a, sK, k_row, k_col, ks, bk);
    }

    // Scale first, so a negative or zero scale still takes the true maximum.
    tile::mul(s, p.scale_log2);
    if (cur.count < kBlockN || cur.causal_test || cur.rule_test) {
#pragma unroll
      for (int nt = 0; nt < kBlockN / 8; ++nt) {
#pragma unroll
        for (int e = 0; e < 4; ++e) {  // element e of fragment nt: key col, query row group + row8 of the warp
          const int col = tile::acc_col(nt, e, quad);
          const int64_t i = row0 + wrow + group + tile::acc_row8(e), j = cur.start + col;
          bool visible = col < cur.count;
          if (cur.causal_test) visible = visible && j <= i + p.causal_offset;
          // i < seq_q: the rules index per-token arrays; padding rows must not reach them.
          if (cur.rule_test)
            visible = visible && i < p.seq_q && sk::rules_visible(*p.rules, b, h, i, j, p.causal_offset);
          if (!visible) s[nt][e] = -INFINITY;
        }
      }
    }
    tile::online_softmax(s, o, m, l);

    tile::cp_async_wait_all();
    __syncthreads();  // V_j landed; every warp is done with K_j
    sk::KvTile nxt;
    have = walk.step(nxt);
    if (have) tile::load_tile<kThreads>(sK, k + nxt.start * p.k_stride_s, p.k_stride_s, nxt.count, head_dim, p.vec);
    tile::cp_async_commit();

    // O += P·V
#pragma unroll
    for (int ks = 0; ks < kNSteps; ++ks) {
      uint32_t a[4];
      tile::to_a<T>(a, s, ks);
      uint32_t bv[4];
      tile::mma_ab<T>(o, a, sV, v_row, v_col, ks, bv);
    }
    cur = nxt;
  }

  // Epilogue: normalize, stage O in this warp's own rows of sQ, store.
  tile::cp_async_wait_all();  // Q, when no key tile was visited
  __syncthreads();
#pragma unroll
  for (int r = 0; r < 2; ++r) {
    l[r] = tile::quad_sum(l[r]);
    const float inv = l[r] > 0.f ? 1.f / l[r] : 0.f;  // no visible key: zeros
    const int row = wrow + group + 8 * r;
    tile::store_row<T>(sQ, row, o, r, quad, inv);
    if (p.lse != nullptr && quad == 0 && row < rows)
      p.lse[(b * p.heads_q + h) * p.seq_q + row0 + row] = l[r] > 0.f ? m[r] * kLn2 + logf(l[r]) : -INFINITY;
  }
  __syncthreads();
  tile::store_tile<kThreads>(out, p.out_stride_s, sQ, rows, head_dim, p.vec);
}

template <class Tr>
constexpr size_t fwd_smem_bytes() {
  return tile::SmemTile<typename Tr::Elem, Tr::kBlockM, Tr::kHeadDim>::kBytes +
         2 * tile::SmemTile<typename Tr::Elem, Tr::kBlockN, Tr::kHeadDim>::kBytes;
}

// Enqueues the kernel for one (head dim, dtype) instance. The caller
// (attention.cc) has checked the shapes, the grid limits and the device.
template <int kHeadDim, sk_dtype kType>
void run_fwd(const FwdParams& p, cudaStream_t stream) {
  using Tr = FwdTraits<kHeadDim, typename Storage<kType>::type>;
  launch_fwd<Tr::kBlockM, Tr::kThreads>(attention_fwd_kernel<Tr>, fwd_smem_bytes<Tr>(), p, stream);
}

}  // namespace sk::cuda::attn
