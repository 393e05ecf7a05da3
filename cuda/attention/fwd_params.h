// What the forward kernel reads, built on the host from sk_attention_params
// (csrc/core/params.h) by attention.cc. Plain C++: the binding and the host
// dispatch include it without CUDA types. Passed to the kernel by value.
#pragma once
#include <stdint.h>

#include "../../csrc/core/params.h"

namespace sk::cuda::attn {

struct FwdParams {
  const void* q;  // device pointers
  const void* k;
  const void* v;
  void* out;
  float* lse;  // [batch, heads_q, seq_q] or null
  int64_t batch, heads_q, seq_q, seq_kv, head_dim;
  int64_t group;                                     // heads_q / heads_kv: query heads per key/value head (GQA)
  int64_t q_stride_b, q_stride_h, q_stride_s;        // elements
  int64_t k_stride_b, k_stride_h, k_stride_s;        // elements
  int64_t v_stride_b, v_stride_h, v_stride_s;        // elements
  int64_t out_stride_b, out_stride_h, out_stride_s;  // elements
  float scale_log2;                                  // scale · log2(e): scores go straight into exp2
  int64_t causal_offset;                             // seq_kv - seq_q: bottom-right alignment
  bool causal;
  // Every row start is 16-byte aligned and head_dim a multiple of 8, so tiles
  // move as 16-byte chunks; otherwise element by element.
  bool vec;
  bool has_mask;
  // The block mask (has_mask): geometry and lists as in sk_block_mask, the
  // arrays and the rules (with their segment arrays) in device memory.
  int32_t mask_batch, mask_heads;  // 1 broadcasts
  int32_t q_block, kv_block;       // tokens
  int32_t n_q_blocks, n_kv_blocks;
  int32_t q_tiles_per_block;  // query tiles of the kernel per mask query block
  const int32_t* full_num;
  const int32_t* full_idx;
  const int32_t* partial_num;
  const int32_t* partial_idx;
  const sk_mask_rules* rules;  // n_terms == 0: partial blocks keep every token
  // FP8 q, k, v (docs/fp8.md; the FP8 kernel only): device copies of the
  // scales, q and k per (batch, head, tile), v per (batch, KV head, tile,
  // channel), and k's channel mean when it was smoothed (else null).
  const float* q_scale;
  const float* k_scale;
  const float* v_scale;
  const float* k_mean;
  int32_t fp8_tile;  // tokens per quantisation tile
  // Keys per step of the FP8 walk: a key tile never spans two quantisation
  // tiles, so one K scale and one row of V scales serve the whole step.
  int32_t kv_chunk;
};

}  // namespace sk::cuda::attn
