// Page selection on CUDA, the rules of the CPU driver (csrc/cpu/f32-decode/
// driver.cc) with csrc/core/decode.h's ranges: the queries packed as the
// kernels read them, Quest's page bounds, and per (batch, KV head) the
// increasing list of pages to read: every page (dense), the sink and recent
// pages (streaming heads), or those plus the highest bounds up to the budget
// (Quest; ties go to the lower page; a reused selection's top pages filtered
// to the candidates of the current length).
#include <math.h>

#include "../../csrc/core/decode.h"
#include "../cast/codec.cuh"
#include "../common.cuh"
#include "decode_kernels.cuh"

namespace sk::cuda::decode {
namespace {

constexpr int kSelectThreads = 256;
constexpr float kLog2e = 1.4426950408889634f;

// An exclusive prefix sum over the block (kSelectThreads threads) and the total.
__device__ int block_scan(int x, int* total) {
  __shared__ int warp_sums[kSelectThreads / 32];
  const int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
  int incl = x;
  for (int o = 1; o < 32; o <<= 1) {
    const int y = __shfl_up_sync(0xffffffffu, incl, o);
    if (lane >= o) incl += y;
  }
  if (lane == 31) warp_sums[warp] = incl;
  __syncthreads();
  int before = 0, all = 0;
  for (int w = 0; w < kSelectThreads / 32; ++w) {
    before += w < warp ? warp_sums[w] : 0;
    all += warp_sums[w];
  }
  __syncthreads();  // warp_sums is reused by the next call
  *total = all;
  return before + incl - x;
}

// Orders floats as unsigned integers; NaN (a page that saw a non-finite value) ranks first.
__device__ uint32_t rank_key(float x) {
  if (x != x) return 0xFFFFFFFFu;
  const uint32_t u = __float_as_uint(x);
  return (u & 0x80000000u) ? ~u : (u | 0x80000000u);
}

template <class Q>
__global__ void pack_kernel(sk_decode_params p, int64_t rows, float* qp) {
  const int64_t tq = p.seq_q, heads = p.cache.kv_heads, group = p.heads_q / heads, D = p.cache.head_dim;
  const int64_t b = blockIdx.x / (p.heads_q * tq), h = (blockIdx.x / tq) % p.heads_q, i = blockIdx.x % tq;
  const auto* q = static_cast<const typename Q::Storage*>(p.q) + b * p.q_stride_b + h * p.q_stride_h + i * p.q_stride_s;
  float* dst = qp + ((b * heads + h / group) * rows + (h % group) * tq + i) * D;
  for (int64_t d = threadIdx.x; d < D; d += blockDim.x) dst[d] = Q::decode(q[d]) * (p.scale * kLog2e);
}

// bounds[(b · heads + g) · 2 + 0 / 1][d]: Σ over the KV head's rows of max(q, 0) and of min(q, 0),
// so a page's Quest bound Σ_r Σ_d max(q·min, q·max) is Σ_d (pos·max + neg·min) (min ≤ max).
__global__ void bounds_kernel(const float* qp, int64_t rows, int64_t D, float* bounds) {
  const float* q = qp + blockIdx.x * rows * D;
  for (int64_t d = threadIdx.x; d < D; d += blockDim.x) {
    float pos = 0.0f, neg = 0.0f;
    for (int64_t r = 0; r < rows; ++r) pos += fmaxf(q[r * D + d], 0.0f), neg += fminf(q[r * D + d], 0.0f);
    bounds[blockIdx.x * 2 * D + d] = pos, bounds[(blockIdx.x * 2 + 1) * D + d] = neg;
  }
}

// scores[(b · most + page) · heads + g], one CTA per (page, sequence), a warp per KV head.
template <sk_dtype T>
__global__ void quest_kernel(sk_decode_params p, KvPageLayout lay, const float* bounds, int64_t most, float* scores) {
  using C = Codec<T>;
  const int64_t b = blockIdx.y, pg = blockIdx.x, heads = p.cache.kv_heads, D = p.cache.head_dim;
  if (pg >= kv_pages_for(p.lengths[b], p.cache.page_size)) return;
  const uint8_t* block = p.cache.meta[b * p.cache.table_stride + pg];
  const float* scales = reinterpret_cast<const float*>(block + lay.scales);
  const int lane = threadIdx.x % 32;
  for (int64_t g = threadIdx.x / 32; g < heads; g += blockDim.x / 32) {
    const auto* meta = reinterpret_cast<const typename C::Storage*>(block + lay.meta + g * lay.meta_head);
    const float* pos = bounds + (b * heads + g) * 2 * D;
    float acc = 0.0f;
    for (int64_t d = lane; d < D; d += 32) acc += pos[d] * C::decode(meta[D + d]) + pos[D + d] * C::decode(meta[d]);
    for (int o = 16; o > 0; o >>= 1) acc += __shfl_xor_sync(0xffffffffu, acc, o);
    if (lane == 0) scores[(b * most + pg) * heads + g] = acc * scales[g];
  }
}

// Quest's top `keep` pages among [lo, hi) into out (increasing), by a radix
// select of the keep-th largest bound, then the pages above it and the lowest
// ones equal to it.
__device__ int top_pages(const float* scores, int64_t heads, int64_t g, int64_t lo, int64_t hi, int64_t keep,
                         int32_t* out) {
  int total;
  uint32_t cut = 0;  // the largest key with at least `keep` keys ≥ it
  for (int bit = 31; bit >= 0; --bit) {
    const uint32_t trial = cut | (1u << bit);
    int n = 0;
    for (int64_t pg = lo + threadIdx.x; pg < hi; pg += kSelectThreads) n += rank_key(scores[pg * heads + g]) >= trial;
    block_scan(n, &total);
    if (total >= keep) cut = trial;
  }
  int above = 0;
  for (int64_t pg = lo + threadIdx.x; pg < hi; pg += kSelectThreads) above += rank_key(scores[pg * heads + g]) > cut;
  block_scan(above, &total);
  const int64_t ties_wanted = keep - total;
  int written = 0, ties = 0;
  for (int64_t c0 = lo; c0 < hi; c0 += kSelectThreads) {
    const int64_t pg = c0 + threadIdx.x;
    const uint32_t key = pg < hi ? rank_key(scores[pg * heads + g]) : 0;
    int tie_total, sel_total;
    const int tie_rank = ties + block_scan(pg < hi && key == cut, &tie_total);
    const bool take = pg < hi && (key > cut || (key == cut && tie_rank < ties_wanted));
    const int at = written + block_scan(take, &sel_total);
    if (take) out[at] = static_cast<int32_t>(pg);
    written += sel_total, ties += tie_total;
  }
  return written;
}

__global__ void __launch_bounds__(kSelectThreads) select_kernel(sk_decode_params p, const float* scores, int64_t most) {
  __shared__ int reused;
  const int64_t heads = p.cache.kv_heads, bg = blockIdx.x, b = bg / heads, g = bg % heads, P = p.cache.page_size;
  const int64_t len = p.lengths[b], n = kv_pages_for(len, P);
  int32_t* out = p.sel_pages + bg * p.sel_stride;
  const bool streaming = p.streaming && p.streaming[g];
  auto range = [&](int64_t from, int64_t to, int64_t at) {
    for (int64_t i = from + threadIdx.x; i < to; i += kSelectThreads) out[at + i - from] = static_cast<int32_t>(i);
  };
  if (!streaming && p.method == SK_DECODE_DENSE) {
    range(0, n, 0);
    if (threadIdx.x == 0) p.sel_count[bg] = static_cast<int32_t>(n);
    return;
  }
  const int64_t sink_end = kv_sink_end(streaming ? p.streaming_sink : p.sink, P, n);
  int64_t recent_begin = kv_recent_begin(len, streaming ? p.streaming_recent : p.recent, p.seq_q, P);
  recent_begin = recent_begin > sink_end ? recent_begin : sink_end;
  range(0, sink_end, 0);
  int64_t count = sink_end;
  if (!streaming) {
    int32_t* top = p.top_pages + bg * p.top_stride;
    if (p.reuse_top) {
      if (threadIdx.x == 0) {
        int c = 0;
        for (int32_t i = 0; i < p.top_count[bg]; ++i)
          if (top[i] >= sink_end && top[i] < recent_begin) out[sink_end + c++] = top[i];
        reused = c;
      }
      __syncthreads();
      count += reused;
    } else {
      const int64_t keep = p.budget - sink_end - (n - recent_begin), cand = recent_begin - sink_end;
      int got = 0;
      if (keep > 0 && cand <= keep) {
        range(sink_end, recent_begin, sink_end);
        got = static_cast<int>(cand);
      } else if (keep > 0) {
        got = top_pages(scores + b * most * heads, heads, g, sink_end, recent_begin, keep, out + sink_end);
      }
      __syncthreads();  // out[sink_end …] is written
      for (int i = threadIdx.x; i < got; i += kSelectThreads) top[i] = out[sink_end + i];
      if (threadIdx.x == 0) p.top_count[bg] = got;
      count += got;
    }
  }
  range(recent_begin, n, count);
  if (threadIdx.x == 0) p.sel_count[bg] = static_cast<int32_t>(count + n - recent_begin);
}

}  // namespace

void select_pages(const sk_decode_params& p, int64_t rows, int64_t most, float* qp, float* bounds, float* scores,
                  cudaStream_t s) {
  const KvPageLayout lay = kv_page_layout(static_cast<int64_t>(sk_dtype_size(p.cache.type)), p.cache.kv_heads,
                                          p.cache.head_dim, p.cache.page_size);
  const unsigned qrows = static_cast<unsigned>(p.batch * p.heads_q * p.seq_q);
  switch (p.q_type) {
    case SK_F32: pack_kernel<Codec<SK_F32>><<<qrows, 128, 0, s>>>(p, rows, qp); break;
    case SK_F16: pack_kernel<Codec<SK_F16>><<<qrows, 128, 0, s>>>(p, rows, qp); break;
    default: pack_kernel<Codec<SK_BF16>><<<qrows, 128, 0, s>>>(p, rows, qp); break;
  }
  if (p.method == SK_DECODE_QUEST && !p.reuse_top) {
    bounds_kernel<<<static_cast<unsigned>(p.batch * p.cache.kv_heads), 128, 0, s>>>(qp, rows, p.cache.head_dim, bounds);
    const dim3 grid(static_cast<unsigned>(most), static_cast<unsigned>(p.batch));
    switch (p.cache.type) {
      case SK_F32: quest_kernel<SK_F32><<<grid, 128, 0, s>>>(p, lay, bounds, most, scores); break;
      case SK_F16: quest_kernel<SK_F16><<<grid, 128, 0, s>>>(p, lay, bounds, most, scores); break;
      case SK_BF16: quest_kernel<SK_BF16><<<grid, 128, 0, s>>>(p, lay, bounds, most, scores); break;
      default: quest_kernel<SK_F8E4M3FN><<<grid, 128, 0, s>>>(p, lay, bounds, most, scores); break;
    }
  }
  select_kernel<<<static_cast<unsigned>(p.batch * p.cache.kv_heads), kSelectThreads, 0, s>>>(p, scores, most);
  SK_CUDA_CHECK(cudaGetLastError());
}

}  // namespace sk::cuda::decode
