// Block scores on tensor cores: XAttention's antidiagonal scores (method 1),
// PBS key importance (method 3) and the vertical and slash lines (method 4),
// and the launcher for every method.
// Softmaxes are in base 2 (logits pre-scaled by log2 e), as on the CPU.
#include <math.h>

#include <algorithm>
#include <string>

#include "../common.cuh"
#include "prefill.h"
#include "score_tile.cuh"

namespace sk::cuda {
namespace prefill {
namespace {

constexpr float kLog2e = 1.4426950408889634f;
constexpr float kNegInf = -__builtin_inff();

int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }
__device__ __forceinline__ int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }
__device__ __forceinline__ int64_t max64(int64_t a, int64_t b) { return a > b ? a : b; }

__device__ __forceinline__ TileSource source_of(const sk_block_scores_params& p, int64_t bh) {
  const int64_t b = bh / p.heads_q, h = bh % p.heads_q, g = h / (p.heads_q / p.heads_kv);
  TileSource s;
  s.q = static_cast<const uint16_t*>(p.q) + b * p.q_stride_b + h * p.q_stride_h;
  s.k = static_cast<const uint16_t*>(p.k) + b * p.k_stride_b + g * p.k_stride_h;
  s.q_stride_s = p.q_stride_s, s.k_stride_s = p.k_stride_s;
  s.seq = p.seq, s.head_dim = static_cast<int32_t>(p.head_dim), s.stride = p.stride;
  s.vec = p.head_dim % 8 == 0 && p.q_stride_s % 8 == 0 && p.k_stride_s % 8 == 0 && p.q_stride_h % 8 == 0 &&
          p.k_stride_h % 8 == 0 && p.q_stride_b % 8 == 0 && p.k_stride_b % 8 == 0 &&
          reinterpret_cast<uintptr_t>(p.q) % 16 == 0 && reinterpret_cast<uintptr_t>(p.k) % 16 == 0;
  return s;
}

// One CTA per (batch, query head, query block), the last query blocks (the
// most key columns under causality) first. Warps take (16-row tile, key block)
// units and write the base-2 log-sum-exp of each super-row over the key
// block's super-columns to scratch [per_block][nb]; then the CTA turns them
// into softmax mass per key block: out[kb] = Σ_n 2^(lse[n][kb] − LSE[n]).
template <class T>
__global__ void __launch_bounds__(kThreads) xattn_scores_kernel(sk_block_scores_params p, float* scratch) {
  __shared__ WarpTiles tiles[kWarps];
  __shared__ float row_lse[256];
  const int64_t S = p.stride, per_block = p.block / S, nb = (p.seq + p.block - 1) / p.block;
  const int64_t n_super = (p.seq + S - 1) / S, heads = p.batch * p.heads_q;
  const int64_t bh = blockIdx.x % heads, qb = nb - 1 - blockIdx.x / heads;
  const int64_t r0 = qb * per_block, r1 = min64(n_super, r0 + per_block);
  const int rows = static_cast<int>(r1 - r0);
  const int64_t cols = p.causal ? r1 : n_super, nkb = (cols + per_block - 1) / per_block;
  const int row_tiles = (rows + kTileRows - 1) / kTileRows;
  float* lse = scratch + (bh * nb + qb) * per_block * nb;  // [n][kb]
  const TileSource src = source_of(p, bh);
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32, grp = lane / 4, quad = lane % 4;
  const float qscale = p.scale / static_cast<float>(S) * kLog2e;
  for (int64_t u = warp; u < row_tiles * nkb; u += kWarps) {
    const int rt = static_cast<int>(u / nkb);
    const int64_t kb = u % nkb, c_end = min64(cols, (kb + 1) * per_block);
    float m[2] = {kNegInf, kNegInf}, l[2] = {0.0f, 0.0f};
    for (int64_t c0 = kb * per_block; c0 < c_end; c0 += kTileCols) {
      const int ncols = static_cast<int>(min64(kTileCols, c_end - c0));
      float acc[kTileCols / 8][4];
      score_tile<T>(tiles[warp], src, r0 + rt * kTileRows, c0, ncols, acc);
#pragma unroll
      for (int hr = 0; hr < 2; ++hr) {
        const int64_t r = r0 + rt * kTileRows + grp + hr * 8;  // this lane's super-row
        float v[kTileCols / 8][2], mx = kNegInf;
#pragma unroll
        for (int j = 0; j < kTileCols / 8; ++j)
#pragma unroll
          for (int e = 0; e < 2; ++e) {
            const int c = j * 8 + 2 * quad + e;
            const bool ok = c < ncols && (!p.causal || c0 + c <= r);  // the diagonal super-cell stays
            v[j][e] = ok ? acc[j][2 * hr + e] * qscale : kNegInf;
            mx = fmaxf(mx, v[j][e]);
          }
        const float m_new = fmaxf(m[hr], quad_max(mx));
        float sum = 0.0f;
        if (m_new != kNegInf)
#pragma unroll
          for (int j = 0; j < kTileCols / 8; ++j)
#pragma unroll
            for (int e = 0; e < 2; ++e) sum += v[j][e] == kNegInf ? 0.0f : exp2f(v[j][e] - m_new);
        sum = quad_sum(sum);
        l[hr] = (m[hr] == kNegInf ? 0.0f : l[hr] * exp2f(m[hr] - m_new)) + sum;
        m[hr] = m_new;
      }
    }
#pragma unroll
    for (int hr = 0; hr < 2; ++hr) {
      const int n = rt * kTileRows + grp + hr * 8;
      if (quad == 0 && n < rows) lse[n * nb + kb] = l[hr] > 0.0f ? m[hr] + log2f(l[hr]) : kNegInf;
    }
  }
  __syncthreads();  // scratch writes of every warp are visible to the CTA
  for (int n = threadIdx.x; n < rows; n += kThreads) {
    float mx = kNegInf, sum = 0.0f;
    for (int64_t kb = 0; kb < nkb; ++kb) mx = fmaxf(mx, lse[n * nb + kb]);
    for (int64_t kb = 0; kb < nkb; ++kb) sum += lse[n * nb + kb] == kNegInf ? 0.0f : exp2f(lse[n * nb + kb] - mx);
    row_lse[n] = mx + log2f(sum);  // finite: every super-row sees its diagonal super-cell
  }
  __syncthreads();
  float* out = p.out + (bh * nb + qb) * nb;
  for (int64_t kb = threadIdx.x; kb < nb; kb += kThreads) {
    float acc = 0.0f;
    if (kb < nkb)
      for (int n = 0; n < rows; ++n) {
        const float x = lse[n * nb + kb];
        acc += x == kNegInf ? 0.0f : exp2f(x - row_lse[n]);
      }
    out[kb] = acc;
  }
}

// Keys the scored queries attend to: [0, key_count) for key importance, all
// of them for the vertical and slash lines (which are causal).
__host__ __device__ __forceinline__ int64_t scored_keys(const sk_block_scores_params& p) {
  return p.method == SK_SCORE_VERTICAL_SLASH ? p.seq : p.key_count;
}

// Whether scored query q0 + n sees key c: every key for key importance, keys
// up to the query for the lines.
__device__ __forceinline__ bool sees(const sk_block_scores_params& p, int64_t q0, int n, int64_t c) {
  return p.method != SK_SCORE_VERTICAL_SLASH || c <= q0 + n;
}

// Key importance and lines, pass 1: per (batch, query head) and 64-key chunk
// (one per warp), each scored query's (max, Σ 2^(s − max)) over the chunk's
// keys it sees; (-inf, 0) when it sees none (a chunk after a query).
template <class T>
__global__ void __launch_bounds__(kThreads)
    importance_partial_kernel(sk_block_scores_params p, float2* part, int64_t chunks, int64_t ctas_per_head) {
  __shared__ WarpTiles tiles[kWarps];
  const int64_t bh = blockIdx.x / ctas_per_head, chunk = (blockIdx.x % ctas_per_head) * kWarps + threadIdx.x / 32;
  if (chunk >= chunks) return;  // no CTA-wide barrier below
  const int64_t q0 = max64(0, p.seq - p.block), c0 = chunk * kTileCols;
  const int rows = static_cast<int>(p.seq - q0), ncols = static_cast<int>(min64(kTileCols, scored_keys(p) - c0));
  const TileSource src = source_of(p, bh);
  const int lane = threadIdx.x % 32, grp = lane / 4, quad = lane % 4;
  const float qscale = p.scale * kLog2e;
  for (int rt = 0; rt * kTileRows < rows; ++rt) {
    float acc[kTileCols / 8][4];
    score_tile<T>(tiles[threadIdx.x / 32], src, q0 + rt * kTileRows, c0, ncols, acc);
#pragma unroll
    for (int hr = 0; hr < 2; ++hr) {
      const int n = rt * kTileRows + grp + hr * 8;
      float mx = kNegInf, sum = 0.0f;
#pragma unroll
      for (int j = 0; j < kTileCols / 8; ++j)
#pragma unroll
        for (int e = 0; e < 2; ++e) {
          const int c = j * 8 + 2 * quad + e;
          if (c < ncols && sees(p, q0, n, c0 + c)) mx = fmaxf(mx, acc[j][2 * hr + e] * qscale);
        }
      mx = quad_max(mx);
#pragma unroll
      for (int j = 0; j < kTileCols / 8; ++j)
#pragma unroll
        for (int e = 0; e < 2; ++e) {
          const int c = j * 8 + 2 * quad + e;
          if (c < ncols && sees(p, q0, n, c0 + c)) sum += exp2f(acc[j][2 * hr + e] * qscale - mx);
        }
      sum = quad_sum(sum);
      if (quad == 0 && n < rows) part[(bh * chunks + chunk) * p.block + n] = make_float2(mx, sum);
    }
  }
}

// Pass 2: each scored query's base-2 log-sum-exp over all chunks.
__global__ void __launch_bounds__(kThreads)
    importance_lse_kernel(sk_block_scores_params p, const float2* part, float* lse, int64_t chunks) {
  const int64_t bh = blockIdx.x, rows = p.seq - max64(0, p.seq - p.block);
  for (int64_t n = threadIdx.x; n < rows; n += kThreads) {
    float mx = kNegInf, sum = 0.0f;
    for (int64_t c = 0; c < chunks; ++c) mx = fmaxf(mx, part[(bh * chunks + c) * p.block + n].x);
    for (int64_t c = 0; c < chunks; ++c) {
      const float2 ml = part[(bh * chunks + c) * p.block + n];
      sum += ml.y == 0.0f ? 0.0f : ml.y * exp2f(ml.x - mx);  // a chunk the query does not see adds nothing
    }
    lse[bh * p.block + n] = mx + log2f(sum);
  }
}

// Pass 3: the scores again, turned into probabilities and averaged over the
// scored queries per key: out[j] = Σ_n 2^(s[n][j] − LSE[n]) / rows; 0 from
// key_count on. For the lines out is [2][seq]: that, causal, then the slash
// line at each distance q0 + n − j, summed with atomics (the caller zeroes it).
template <class T>
__global__ void __launch_bounds__(kThreads)
    importance_out_kernel(sk_block_scores_params p, const float* lse, int64_t chunks, int64_t ctas_per_head) {
  __shared__ WarpTiles tiles[kWarps];
  const int64_t bh = blockIdx.x / ctas_per_head, chunk = (blockIdx.x % ctas_per_head) * kWarps + threadIdx.x / 32;
  if (chunk >= chunks) return;
  const bool lines = p.method == SK_SCORE_VERTICAL_SLASH;
  const int64_t q0 = max64(0, p.seq - p.block), c0 = chunk * kTileCols;
  const int rows = static_cast<int>(p.seq - q0);
  const int ncols = static_cast<int>(max64(0, min64(kTileCols, scored_keys(p) - c0)));
  const int lane = threadIdx.x % 32, grp = lane / 4, quad = lane % 4;
  float* out = p.out + bh * p.seq * (lines ? 2 : 1);
  float* slash = out + p.seq;
  float col[kTileCols / 8][2] = {};
  if (ncols > 0) {
    const TileSource src = source_of(p, bh);
    const float qscale = p.scale * kLog2e;
    for (int rt = 0; rt * kTileRows < rows; ++rt) {
      float acc[kTileCols / 8][4];
      score_tile<T>(tiles[threadIdx.x / 32], src, q0 + rt * kTileRows, c0, ncols, acc);
#pragma unroll
      for (int hr = 0; hr < 2; ++hr) {
        const int n = rt * kTileRows + grp + hr * 8;
        if (n >= rows) continue;
        const float row_lse = lse[bh * p.block + n];
#pragma unroll
        for (int j = 0; j < kTileCols / 8; ++j)
#pragma unroll
          for (int e = 0; e < 2; ++e) {
            const int c = j * 8 + 2 * quad + e;
            const float pr = sees(p, q0, n, c0 + c) ? exp2f(acc[j][2 * hr + e] * qscale - row_lse) : 0.0f;
            col[j][e] += pr;
            if (lines && c < ncols && pr > 0.0f) atomicAdd(slash + (q0 + n - c0 - c), pr / static_cast<float>(rows));
          }
      }
    }
  }
#pragma unroll
  for (int j = 0; j < kTileCols / 8; ++j)
#pragma unroll
    for (int e = 0; e < 2; ++e) {
      float v = col[j][e];  // summed over the 8 row groups of the warp
      v += __shfl_xor_sync(0xffffffffu, v, 4);
      v += __shfl_xor_sync(0xffffffffu, v, 8);
      v += __shfl_xor_sync(0xffffffffu, v, 16);
      const int c = j * 8 + 2 * quad + e;
      if (grp == 0 && c0 + c < p.seq) out[c0 + c] = c < ncols ? v / static_cast<float>(rows) : 0.0f;
    }
}

// Scratch layout of key importance and lines: part [heads][chunks][block] float2, then lse [heads][block] float.
int64_t importance_chunks(const sk_block_scores_params& p) { return ceil_div(scored_keys(p), kTileCols); }

template <class T>
void launch(const sk_block_scores_params& p, void* scratch, cudaStream_t s) {
  const int64_t heads = p.batch * p.heads_q, nb = ceil_div(p.seq, p.block);
  if (p.method == SK_SCORE_XATTENTION) {
    xattn_scores_kernel<T><<<static_cast<unsigned>(heads * nb), kThreads, 0, s>>>(p, static_cast<float*>(scratch));
  } else if (p.method == SK_SCORE_KEY_IMPORTANCE || p.method == SK_SCORE_VERTICAL_SLASH) {
    if (p.method == SK_SCORE_VERTICAL_SLASH)  // the slash lines are sums of atomics
      SK_CUDA_CHECK(cudaMemsetAsync(p.out, 0, static_cast<size_t>(heads * 2 * p.seq) * sizeof(float), s));
    const int64_t chunks = importance_chunks(p), out_chunks = ceil_div(p.seq, kTileCols);
    float2* part = static_cast<float2*>(scratch);
    float* lse = reinterpret_cast<float*>(part + heads * chunks * p.block);
    const int64_t per_head = ceil_div(chunks, kWarps), out_per_head = ceil_div(out_chunks, kWarps);
    importance_partial_kernel<T>
        <<<static_cast<unsigned>(heads * per_head), kThreads, 0, s>>>(p, part, chunks, per_head);
    importance_lse_kernel<<<static_cast<unsigned>(heads), kThreads, 0, s>>>(p, part, lse, chunks);
    importance_out_kernel<T>
        <<<static_cast<unsigned>(heads * out_per_head), kThreads, 0, s>>>(p, lse, out_chunks, out_per_head);
  } else {
    meanpool_scores_forward(p, static_cast<float*>(scratch), s);
  }
  SK_CUDA_CHECK(cudaGetLastError());
}

}  // namespace
}  // namespace prefill

size_t block_scores_scratch_bytes(const sk_block_scores_params& p) {
  const int64_t heads = p.batch * p.heads_q, nb = prefill::ceil_div(p.seq, p.block);
  switch (p.method) {
    case SK_SCORE_XATTENTION: return static_cast<size_t>(heads * nb * (p.block / p.stride) * nb) * sizeof(float);
    case SK_SCORE_KEY_IMPORTANCE:
    case SK_SCORE_VERTICAL_SLASH:
      return static_cast<size_t>(heads * prefill::importance_chunks(p) * p.block) * sizeof(float2) +
             static_cast<size_t>(heads * p.block) * sizeof(float);
    default: return static_cast<size_t>((p.batch * (p.heads_q + p.heads_kv)) * nb * p.head_dim) * sizeof(float);
  }
}

int64_t block_scores_grid(const sk_block_scores_params& p) {
  const int64_t heads = p.batch * p.heads_q, nb = prefill::ceil_div(p.seq, p.block);
  if (p.method == SK_SCORE_XATTENTION || p.method == SK_SCORE_MEANPOOL) return heads * nb;
  return heads * prefill::ceil_div(prefill::ceil_div(p.seq, prefill::kTileCols), prefill::kWarps);
}

const char* block_scores_kernel_name(const sk_block_scores_params& p) {
  const bool bf = p.dtype == SK_BF16;
  switch (p.method) {
    case SK_SCORE_XATTENTION: return bf ? "sk_bf16_xattn_scores_mma" : "sk_f16_xattn_scores_mma";
    case SK_SCORE_KEY_IMPORTANCE: return bf ? "sk_bf16_key_importance_mma" : "sk_f16_key_importance_mma";
    case SK_SCORE_VERTICAL_SLASH: return bf ? "sk_bf16_vslash_lines_mma" : "sk_f16_vslash_lines_mma";
    default: return bf ? "sk_bf16_meanpool_scores" : "sk_f16_meanpool_scores";
  }
}

void block_scores_forward(const sk_block_scores_params& p, void* scratch, cudaStream_t stream) {
  require_sm80("CUDA block scores need", "mma.sync on float16 / bfloat16");
  if (p.dtype == SK_BF16)
    prefill::launch<__nv_bfloat16>(p, scratch, stream);
  else
    prefill::launch<__half>(p, scratch, stream);
}

}  // namespace sk::cuda
