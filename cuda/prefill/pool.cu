// Mean-pooled block scores (method 2) and the row gather, on CUDA cores:
// both are memory-bound (the pooling reads q and k once; the scores are
// nb² dot products of pooled rows), so tensor cores would not help.
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <math.h>

#include <algorithm>

#include "../common.cuh"
#include "prefill.h"

namespace sk::cuda {
namespace prefill {
namespace {

constexpr int kPoolThreads = 128;
constexpr float kNegInf = -__builtin_inff();

template <class T>
__device__ __forceinline__ float to_float(T v) {
  return static_cast<float>(v);
}

// pooled[(b·heads + h)·nb + blk][e] = mean over the block's tokens of x[b, h, s, e]; one CTA per (head, block).
template <class T>
__global__ void __launch_bounds__(kPoolThreads)
    pool_blocks_kernel(const T* x, int64_t heads, int64_t seq, int64_t d, int32_t block, int64_t sb, int64_t sh,
                       int64_t ss, float* pooled) {
  const int64_t nb = (seq + block - 1) / block, bh = blockIdx.x / nb, blk = blockIdx.x % nb;
  const int64_t s0 = blk * block, s1 = (seq < s0 + block ? seq : s0 + block);
  const T* base = x + (bh / heads) * sb + (bh % heads) * sh;
  for (int64_t e = threadIdx.x; e < d; e += kPoolThreads) {
    float acc = 0.0f;
    for (int64_t s = s0; s < s1; ++s) acc += to_float(base[s * ss + e]);
    pooled[blockIdx.x * d + e] = acc / static_cast<float>(s1 - s0);
  }
}

__device__ float block_reduce(float v, bool take_max, float* red) {
  for (int o = 16; o > 0; o >>= 1) {
    const float w = __shfl_xor_sync(0xffffffffu, v, o);
    v = take_max ? fmaxf(v, w) : v + w;
  }
  __syncthreads();  // red is reused between calls
  if (threadIdx.x % 32 == 0) red[threadIdx.x / 32] = v;
  __syncthreads();
  v = red[0];
  for (int w = 1; w < kPoolThreads / 32; ++w) v = take_max ? fmaxf(v, red[w]) : v + red[w];
  return v;
}

// One CTA per (batch, query head, query block): softmax over the candidate
// key blocks of scale · mean(q block) · mean(k block); out is its scratch row.
__global__ void __launch_bounds__(kPoolThreads)
    meanpool_scores_kernel(sk_block_scores_params p, const float* qm, const float* km) {
  __shared__ float red[kPoolThreads / 32];
  const int64_t nb = (p.seq + p.block - 1) / p.block, bh = blockIdx.x / nb, qb = blockIdx.x % nb;
  const int64_t b = bh / p.heads_q, g = (bh % p.heads_q) / (p.heads_q / p.heads_kv), d = p.head_dim;
  const float* qv = qm + blockIdx.x * d;
  const float* kv = km + (b * p.heads_kv + g) * nb * d;
  float* out = p.out + blockIdx.x * nb;
  float mx = kNegInf;
  for (int64_t kb = threadIdx.x; kb < nb; kb += kPoolThreads) {
    const bool cand =
        (!p.causal || kb <= qb) && (p.segment_blocks == 0 || kb / p.segment_blocks != qb / p.segment_blocks);
    float logit = kNegInf;
    if (cand) {
      float dot = 0.0f;
      for (int64_t e = 0; e < d; ++e) dot += qv[e] * kv[kb * d + e];
      logit = dot * p.scale;
    }
    out[kb] = logit;  // read back by this thread only
    mx = fmaxf(mx, logit);
  }
  mx = block_reduce(mx, true, red);
  float sum = 0.0f;
  if (mx != kNegInf)
    for (int64_t kb = threadIdx.x; kb < nb; kb += kPoolThreads)
      if (out[kb] != kNegInf) sum += expf(out[kb] - mx);
  sum = block_reduce(sum, false, red);
  for (int64_t kb = threadIdx.x; kb < nb; kb += kPoolThreads)
    out[kb] = out[kb] == kNegInf ? 0.0f : expf(out[kb] - mx) / sum;
}

template <class T>
void meanpool(const sk_block_scores_params& p, float* scratch, cudaStream_t s) {
  const int64_t nb = (p.seq + p.block - 1) / p.block;
  float* qm = scratch;
  float* km = scratch + p.batch * p.heads_q * nb * p.head_dim;
  pool_blocks_kernel<T><<<static_cast<unsigned>(p.batch * p.heads_q * nb), kPoolThreads, 0, s>>>(
      static_cast<const T*>(p.q), p.heads_q, p.seq, p.head_dim, p.block, p.q_stride_b, p.q_stride_h, p.q_stride_s, qm);
  pool_blocks_kernel<T><<<static_cast<unsigned>(p.batch * p.heads_kv * nb), kPoolThreads, 0, s>>>(
      static_cast<const T*>(p.k), p.heads_kv, p.seq, p.head_dim, p.block, p.k_stride_b, p.k_stride_h, p.k_stride_s, km);
  meanpool_scores_kernel<<<static_cast<unsigned>(p.batch * p.heads_q * nb), kPoolThreads, 0, s>>>(p, qm, km);
}

// dst row r = (b·heads + h)·seq + s gets src[b, h, idx[r]]; one thread per
// Unit (16 bytes when every row and stride allows it, else one element).
template <class Unit>
__global__ void gather_rows_kernel(sk_gather_rows_params p, int64_t units_per_row) {
  const int64_t total = p.batch * p.heads * p.seq * units_per_row;
  const int64_t scale = static_cast<int64_t>(p.elem_size);  // bytes per element
  for (int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; i < total; i += int64_t{gridDim.x} * blockDim.x) {
    const int64_t r = i / units_per_row, u = i % units_per_row, bh = r / p.seq;
    const int64_t from = (bh / p.heads) * p.src_stride_b + (bh % p.heads) * p.src_stride_h + p.idx[r] * p.src_stride_s;
    const char* src = static_cast<const char*>(p.src) + from * scale;
    char* dst = static_cast<char*>(p.dst) + r * p.row * scale;
    reinterpret_cast<Unit*>(dst)[u] = reinterpret_cast<const Unit*>(src)[u];
  }
}

}  // namespace

void meanpool_scores_forward(const sk_block_scores_params& p, float* scratch, cudaStream_t stream) {
  if (p.dtype == SK_BF16)
    meanpool<__nv_bfloat16>(p, scratch, stream);
  else
    meanpool<__half>(p, scratch, stream);
}

}  // namespace prefill

void gather_rows_forward(const sk_gather_rows_params& p, cudaStream_t stream) {
  const int64_t rows = p.batch * p.heads * p.seq, row_bytes = p.row * static_cast<int64_t>(p.elem_size);
  if (rows == 0) return;
  const int64_t es = static_cast<int64_t>(p.elem_size);
  const bool vec = row_bytes % 16 == 0 && (p.src_stride_b * es) % 16 == 0 && (p.src_stride_h * es) % 16 == 0 &&
                   (p.src_stride_s * es) % 16 == 0 && reinterpret_cast<uintptr_t>(p.src) % 16 == 0 &&
                   reinterpret_cast<uintptr_t>(p.dst) % 16 == 0;
  const int64_t units = vec ? row_bytes / 16 : p.row;
  const unsigned grid = static_cast<unsigned>(std::min<int64_t>((rows * units + 255) / 256, 65535));
  if (vec)
    prefill::gather_rows_kernel<uint4><<<grid, 256, 0, stream>>>(p, units);
  else if (es == 1)
    prefill::gather_rows_kernel<uint8_t><<<grid, 256, 0, stream>>>(p, units);
  else if (es == 2)
    prefill::gather_rows_kernel<uint16_t><<<grid, 256, 0, stream>>>(p, units);
  else if (es == 4)
    prefill::gather_rows_kernel<uint32_t><<<grid, 256, 0, stream>>>(p, units);
  else
    prefill::gather_rows_kernel<uint64_t><<<grid, 256, 0, stream>>>(p, units);
  SK_CUDA_CHECK(cudaGetLastError());
}

}  // namespace sk::cuda
