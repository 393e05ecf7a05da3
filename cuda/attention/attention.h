// Block-sparse FlashAttention forward on a CUDA stream (fp16 / bf16,
// sm_80+). pick() says whether a call is supported and by which kernel, so
// the binding's checks, the grid and the dispatch cannot disagree.
#pragma once
#include <cuda_runtime_api.h>
#include <stdint.h>

#include "../../csrc/core/params.h"
#include "fwd_params.h"

namespace sk::cuda {

struct AttentionKernel {
  const char* name;  // "attn_fwd_hdim128_bf16"
  int head_dim;      // the compiled head dim (>= the call's; the rest is zero padding)
  int block_m;       // query rows per thread block
  int block_n;       // keys per tile
  void (*run)(const attn::FwdParams&, cudaStream_t);
};

// The kernel for (dtype, head_dim), or null: only float16 / bfloat16 and
// head dims up to attn::kMaxHeadDim have one.
const AttentionKernel* attention_pick(sk_dtype dtype, int64_t head_dim);

// Enqueues out = attention(q, k, v) as described by p (all pointers device
// memory, already validated by the binding). Throws CudaFailure, with
// SK_ERR_UNSUPPORTED on a device older than sm_80.
void attention_forward(const AttentionKernel& kernel, const attn::FwdParams& p, cudaStream_t stream);

}  // namespace sk::cuda
