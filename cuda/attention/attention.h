// Block-sparse FlashAttention forward on a CUDA stream (f16 / bf16, sm_80+;
// FP8 q, k, v with their scales, sm_89+).
// attention_pick() says whether a call is supported and by which kernel, so
// the binding's checks, the grid and the dispatch cannot disagree.
#pragma once
#include <cuda_runtime_api.h>
#include <stdint.h>

#include "../../csrc/core/backend.h"
#include "../../csrc/core/params.h"
#include "fwd_params.h"

namespace sk::cuda {

struct AttentionKernel {
  const char* name;  // "attn_fwd_hdim128_bf16"
  int head_dim;      // the compiled head dim (>= the call's; the rest is zero padding)
  int block_m;       // query rows per thread block
  int block_n;       // keys per tile
  void (*run)(const attn::FwdParams&, cudaStream_t);
  bool fp8;  // an FP8 kernel (FP8 mma.sync: sm_89 or newer)
};

// The CUDA backend's answer for an attention call (csrc/core/backend.h): the
// instance for its dtype and head dim (the smallest compiled head dim that
// holds it), or a coded refusal: float32 (the kernels are tensor-core
// kernels), no instance for the head dim, or a grid too large. Needs no
// device (an FP8 call's device check is attention_forward's).
sk_pick<const AttentionKernel*> attention_pick(const sk_attention_params& p);

// What the kernel reads, built from the op's params for the picked instance:
// p's pointers, p.mask's arrays and p.fp8's scales are device memory, and the mask's rules
// struct (with its per-token arrays) sits at `mask_rules` in device memory.
// Host code: the binding calls it with or without a device.
attn::FwdParams fwd_params(const sk_attention_params& p, const AttentionKernel& kernel,
                           const sk_mask_rules* mask_rules);

// The grid's x extent (query tiles) of a launch.
int64_t fwd_grid_x(const attn::FwdParams& p, const AttentionKernel& kernel);

// Enqueues out = attention(q, k, v) as described by p (all pointers device
// memory, already validated by the binding). Throws CudaFailure, with
// SK_ERR_UNSUPPORTED on a device older than sm_80 (FP8: sm_89).
void attention_forward(const AttentionKernel& kernel, const attn::FwdParams& p, cudaStream_t stream);

}  // namespace sk::cuda
