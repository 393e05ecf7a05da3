// Split-KV paged decode (flash-decoding): after select.cu's packing and
// selection, one CTA per (split, KV head and row block, sequence) walks its run
// of selected pages in tiles of 128 tokens: a thread per token computes its
// scores against the CTA's query rows (keys channel-major, so a warp reads
// consecutive tokens of a channel), a warp per row runs the online softmax,
// and a thread per head-dim element accumulates P·V (values token-major: a
// warp reads consecutive elements of a token). Pages are widened in
// registers by cast_math's decoders (csrc/core/cast_math.h). A merge kernel
// combines the splits' softmax states into out and the LSE.
#include <math.h>

#include <algorithm>

#include "../../csrc/core/decode.h"
#include "../cast/codec.cuh"
#include "../common.cuh"
#include "decode.h"
#include "decode_kernels.cuh"

namespace sk::cuda {
namespace {

constexpr int kThreads = 128;  // tokens per tile; head-dim elements per pass of P·V
constexpr int kMaxRows = 16;   // query rows per CTA, at most (the CTA's rows: 4, 8 or 16, the fewest that hold them)
constexpr int kMaxDimPasses = kKvMaxHeadDim / kThreads;
constexpr float kNegInf = -__builtin_inff();
constexpr double kLn2 = 0.6931471805599453;

size_t align256(size_t n) { return (n + 255) / 256 * 256; }

template <int R>
struct RowsTag {
  static constexpr int value = R;
};

// The splits' states: [split][batch][kv_heads][rows] of (m, l, o[head_dim]).
__device__ __forceinline__ float* state_at(float* states, const sk_decode_params& p, int64_t split, int64_t b,
                                           int64_t g, int64_t rows, int64_t r) {
  return states + (((split * p.batch + b) * p.cache.kv_heads + g) * rows + r) * (p.cache.head_dim + 2);
}

// Rows a CTA takes: each costs registers and work in every tile, so the fewest that fit.
int64_t rows_per_cta(int64_t rows) { return rows <= 4 ? 4 : rows <= 8 ? 8 : kMaxRows; }

// Online softmax over one tile of scores: warp w takes rows w, w + 4, …; each
// row's probabilities are left in s_s times the token's V scale, and its
// running max, sum and rescale factor in m_s, l_s, alpha_s.
__device__ __forceinline__ void online_softmax(float (*s_s)[kThreads], const float* vscale_s, float* m_s, float* l_s,
                                               float* alpha_s, int64_t nr) {
  const int lane = threadIdx.x % 32;
  for (int64_t r = threadIdx.x / 32; r < nr; r += kThreads / 32) {
    float x[kThreads / 32], mx = kNegInf;
#pragma unroll
    for (int c = 0; c < kThreads / 32; ++c) x[c] = s_s[r][lane + 32 * c], mx = fmaxf(mx, x[c]);
    for (int off = 16; off > 0; off >>= 1) mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, off));
    const float m_new = fmaxf(m_s[r], mx);
    const float alpha = m_new == kNegInf ? 1.0f : exp2f(m_s[r] - m_new);
    float sum = 0.0f;
#pragma unroll
    for (int c = 0; c < kThreads / 32; ++c) {
      const float e = m_new == kNegInf ? 0.0f : exp2f(x[c] - m_new);
      sum += e;
      s_s[r][lane + 32 * c] = e * vscale_s[lane + 32 * c];
    }
    for (int off = 16; off > 0; off >>= 1) sum += __shfl_xor_sync(0xffffffffu, sum, off);
    if (lane == 0) l_s[r] = l_s[r] * alpha + sum, m_s[r] = m_new, alpha_s[r] = alpha;
  }
}

template <sk_dtype T, int kRows>
__global__ void __launch_bounds__(kThreads) split_kernel(sk_decode_params p, KvPageLayout lay, const float* qp,
                                                         int64_t rows, int64_t row_blocks, int64_t pps, float* states) {
  using C = Codec<T>;
  using S = typename C::Storage;
  __shared__ float q_s[kRows][kKvMaxHeadDim];
  __shared__ float s_s[kRows][kThreads];  // scores, then p · the page's V scale
  __shared__ const S* v_s[kThreads];      // each token's value row
  __shared__ float vscale_s[kThreads];
  __shared__ float m_s[kRows], l_s[kRows], alpha_s[kRows];
  const int64_t heads = p.cache.kv_heads, D = p.cache.head_dim, P = p.cache.page_size;
  const int64_t b = blockIdx.z, g = blockIdx.y / row_blocks, r0 = (blockIdx.y % row_blocks) * kRows, bg = b * heads + g;
  const int64_t nr = rows - r0 < kRows ? rows - r0 : kRows;
  const int64_t count = p.sel_count[bg], first = blockIdx.x * pps, last = count < first + pps ? count : first + pps;
  const int64_t len = p.lengths[b], tokens = last > first ? (last - first) * P : 0;
  for (int64_t i = threadIdx.x; i < kRows * D; i += kThreads)
    q_s[i / D][i % D] = i / D < nr ? qp[(bg * rows + r0 + i / D) * D + i % D] : 0.0f;
  if (threadIdx.x < kRows) m_s[threadIdx.x] = kNegInf, l_s[threadIdx.x] = 0.0f;
  float o[kRows][kMaxDimPasses] = {};
  __syncthreads();
  for (int64_t t0 = 0; t0 < tokens; t0 += kThreads) {
    // Scores: thread i takes token t0 + i of the run.
    const int i = threadIdx.x;
    const int64_t ti = t0 + i;
    float acc[kRows] = {};
    int64_t j = len;  // the token's position; len: none
    float kscale = 0.0f;
    v_s[i] = nullptr, vscale_s[i] = 0.0f;
    if (ti < tokens) {
      const int64_t pg = p.sel_pages[bg * p.sel_stride + first + ti / P], slot = ti % P;
      const int64_t at = b * p.cache.table_stride + pg;
      const uint8_t* block = p.cache.kv[at] + g * p.cache.head_stride;
      const float* scales = reinterpret_cast<const float*>(p.cache.meta[at] + lay.scales);
      j = pg * P + slot;
      kscale = scales[g], vscale_s[i] = scales[heads + g];
      v_s[i] = reinterpret_cast<const S*>(block + lay.v) + slot * D;
      const S* k = reinterpret_cast<const S*>(block + lay.k) + slot;
      if (j < len)
        for (int64_t d = 0; d < D; ++d) {
          const float kv = C::decode(k[d * P]);
#pragma unroll
          for (int r = 0; r < kRows; ++r) acc[r] += q_s[r][d] * kv;
        }
    }
#pragma unroll
    for (int r = 0; r < kRows; ++r)
      s_s[r][i] = j < kv_visible_end(len, p.seq_q, (r0 + r) % p.seq_q) ? acc[r] * kscale : kNegInf;
    __syncthreads();
    online_softmax(s_s, vscale_s, m_s, l_s, alpha_s, nr);
    __syncthreads();
    // O = alpha ⊙ O + P·V: thread i takes head-dim elements i, i + 128.
    const int64_t n = tokens - t0 < kThreads ? tokens - t0 : kThreads;
#pragma unroll
    for (int pass = 0; pass < kMaxDimPasses; ++pass) {
      const int64_t d = threadIdx.x + pass * kThreads;
      if (d >= D) continue;
#pragma unroll
      for (int r = 0; r < kRows; ++r) o[r][pass] *= r < nr ? alpha_s[r] : 1.0f;
      for (int64_t t = 0; t < n; ++t) {
        const float v = C::decode(v_s[t][d]);
#pragma unroll
        for (int r = 0; r < kRows; ++r) o[r][pass] += s_s[r][t] * v;
      }
    }
    __syncthreads();  // s_s and v_s are rewritten by the next tile
  }
  for (int64_t r = 0; r < nr; ++r) {
    float* st = state_at(states, p, blockIdx.x, b, g, rows, r0 + r);
    if (threadIdx.x == 0) st[0] = m_s[r], st[1] = l_s[r];
#pragma unroll
    for (int pass = 0; pass < kMaxDimPasses; ++pass)
      if (threadIdx.x + pass * kThreads < D) st[2 + threadIdx.x + pass * kThreads] = o[r][pass];
  }
}

// One CTA per query row (batch, query head, token): merges the splits' states.
template <class Q>
__global__ void __launch_bounds__(kThreads)
    merge_kernel(sk_decode_params p, int64_t rows, int64_t splits, const float* states) {
  const int64_t tq = p.seq_q, heads = p.cache.kv_heads, group = p.heads_q / heads, D = p.cache.head_dim;
  const int64_t b = blockIdx.x / (p.heads_q * tq), h = (blockIdx.x / tq) % p.heads_q, i = blockIdx.x % tq;
  const int64_t g = h / group, r = (h % group) * tq + i;
  float m = kNegInf, l = 0.0f, o[kMaxDimPasses] = {};
  for (int64_t sp = 0; sp < splits; ++sp) {
    const float* st = state_at(const_cast<float*>(states), p, sp, b, g, rows, r);
    const SoftmaxMerge w = softmax_merge(m, l, st[0], st[1]);
#pragma unroll
    for (int pass = 0; pass < kMaxDimPasses; ++pass) {
      const int64_t d = threadIdx.x + pass * kThreads;
      if (d < D) o[pass] = o[pass] * w.a + st[2 + d] * w.b;
    }
    m = w.m, l = w.l;
  }
  const float inv = l > 0.0f ? 1.0f / l : l == l ? 0.0f : l;
  auto* out = static_cast<typename Q::Storage*>(p.out) + b * p.out_stride_b + h * p.out_stride_h + i * p.out_stride_s;
#pragma unroll
  for (int pass = 0; pass < kMaxDimPasses; ++pass) {
    const int64_t d = threadIdx.x + pass * kThreads;
    if (d < D) out[d] = Q::encode(o[pass] * inv, true);
  }
  if (p.lse && threadIdx.x == 0)
    p.lse[(b * p.heads_q + h) * tq + i] = l > 0.0f ? static_cast<float>(m * kLn2 + log(static_cast<double>(l)))
                                          : l == l ? kNegInf
                                                   : l;
}

}  // namespace

DecodeShape decode_shape(const sk_decode_params& p, int multiprocessors) {
  DecodeShape s{};
  const int64_t P = p.cache.page_size, heads = p.cache.kv_heads;
  s.rows = p.heads_q / heads * p.seq_q;
  s.row_blocks = (s.rows + rows_per_cta(s.rows) - 1) / rows_per_cta(s.rows);
  for (int64_t b = 0; b < p.batch; ++b) s.most_pages = std::max(s.most_pages, kv_pages_for(p.lengths[b], P));
  // The most pages a (batch, KV head) can select, for the grid: every page, or the forced ones and the budget.
  const int64_t tq = p.seq_q;
  auto forced = [&](int64_t sink, int64_t recent) {
    return kv_pages_for(sink, P) + kv_pages_for(std::max(recent, tq), P) + 1;
  };
  int64_t most = p.method == SK_DECODE_DENSE ? s.most_pages : p.budget + forced(p.sink, p.recent);
  if (p.streaming) most = std::max(most, forced(p.streaming_sink, p.streaming_recent));
  most = std::max<int64_t>(1, std::min(most, s.most_pages));
  // Enough CTAs to fill the device four times over, each with at least 256 tokens to read.
  const int64_t work = most * p.batch * heads * s.row_blocks, want = 4 * std::max(multiprocessors, 1);
  s.pages_per_split = std::max({int64_t{1}, 256 / P, (work + want - 1) / want});
  s.splits = (most + s.pages_per_split - 1) / s.pages_per_split;
  return s;
}

DecodeScratch decode_scratch(const sk_decode_params& p, const DecodeShape& s) {
  DecodeScratch d{};
  const size_t pairs = static_cast<size_t>(p.batch * p.cache.kv_heads), D = static_cast<size_t>(p.cache.head_dim);
  size_t at = 0;
  auto part = [&](size_t bytes) {
    const size_t here = at;
    at += align256(bytes);
    return here;
  };
  d.qp = part(pairs * s.rows * D * sizeof(float));
  const bool quest = p.method == SK_DECODE_QUEST;
  d.bounds = part(quest ? pairs * 2 * D * sizeof(float) : 0);
  d.scores = part(quest ? static_cast<size_t>(p.batch * s.most_pages) * p.cache.kv_heads * sizeof(float) : 0);
  d.sel_count = part(pairs * sizeof(int32_t));
  d.sel_pages = part(pairs * static_cast<size_t>(p.sel_stride) * sizeof(int32_t));
  d.states = part(static_cast<size_t>(s.splits) * pairs * s.rows * (D + 2) * sizeof(float));
  d.bytes = at;
  return d;
}

const char* decode_kernel_name(const sk_decode_params& p) {
  switch (p.cache.type) {
    case SK_F32: return "sk_cuda_decode_split_f32";
    case SK_F16: return "sk_cuda_decode_split_f16";
    case SK_BF16: return "sk_cuda_decode_split_bf16";
    default: return "sk_cuda_decode_split_e4m3";
  }
}

void decode_forward(sk_decode_params p, const DecodeShape& s, void* scratch, cudaStream_t stream) {
  const DecodeScratch d = decode_scratch(p, s);
  auto* base = static_cast<unsigned char*>(scratch);
  float* qp = reinterpret_cast<float*>(base + d.qp);
  float* bounds = reinterpret_cast<float*>(base + d.bounds);
  float* scores = reinterpret_cast<float*>(base + d.scores);
  float* states = reinterpret_cast<float*>(base + d.states);
  p.sel_count = reinterpret_cast<int32_t*>(base + d.sel_count);
  p.sel_pages = reinterpret_cast<int32_t*>(base + d.sel_pages);
  decode::select_pages(p, s.rows, s.most_pages, qp, bounds, scores, stream);
  const KvPageLayout lay = kv_page_layout(static_cast<int64_t>(sk_dtype_size(p.cache.type)), p.cache.kv_heads,
                                          p.cache.head_dim, p.cache.page_size);
  const dim3 grid(static_cast<unsigned>(s.splits), static_cast<unsigned>(p.cache.kv_heads * s.row_blocks),
                  static_cast<unsigned>(p.batch));
  auto launch = [&](auto rows_tag) {
    constexpr int R = decltype(rows_tag)::value;
    switch (p.cache.type) {
      case SK_F32:
        split_kernel<SK_F32, R>
            <<<grid, kThreads, 0, stream>>>(p, lay, qp, s.rows, s.row_blocks, s.pages_per_split, states);
        break;
      case SK_F16:
        split_kernel<SK_F16, R>
            <<<grid, kThreads, 0, stream>>>(p, lay, qp, s.rows, s.row_blocks, s.pages_per_split, states);
        break;
      case SK_BF16:
        split_kernel<SK_BF16, R>
            <<<grid, kThreads, 0, stream>>>(p, lay, qp, s.rows, s.row_blocks, s.pages_per_split, states);
        break;
      default:
        split_kernel<SK_F8E4M3FN, R>
            <<<grid, kThreads, 0, stream>>>(p, lay, qp, s.rows, s.row_blocks, s.pages_per_split, states);
        break;
    }
  };
  const int64_t per_cta = rows_per_cta(s.rows);
  if (per_cta == 4)
    launch(RowsTag<4>{});
  else if (per_cta == 8)
    launch(RowsTag<8>{});
  else
    launch(RowsTag<kMaxRows>{});
  const unsigned rows_out = static_cast<unsigned>(p.batch * p.heads_q * p.seq_q);
  switch (p.q_type) {
    case SK_F32: merge_kernel<Codec<SK_F32>><<<rows_out, kThreads, 0, stream>>>(p, s.rows, s.splits, states); break;
    case SK_F16: merge_kernel<Codec<SK_F16>><<<rows_out, kThreads, 0, stream>>>(p, s.rows, s.splits, states); break;
    default: merge_kernel<Codec<SK_BF16>><<<rows_out, kThreads, 0, stream>>>(p, s.rows, s.splits, states); break;
  }
  SK_CUDA_CHECK(cudaGetLastError());
}

}  // namespace sk::cuda
