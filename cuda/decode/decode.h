// Decode over a paged KV cache on CUDA (float16, bfloat16 and FP8 pages, and
// float32; float32 accumulation): the append kernel, and decode as
// flash-decoding does it: the queries packed, the pages selected on the
// device (dense, Quest's bounds and top pages, streaming heads), a split-KV
// kernel over runs of each (batch, KV head)'s selected pages, and a merge of
// the runs' softmax states. The page layout and every rule are
// csrc/core/decode.h's, shared with the CPU, whose tests cover them.
#pragma once
#include <cuda_runtime_api.h>
#include <stddef.h>
#include <stdint.h>

#include "../../csrc/core/params.h"

namespace sk::cuda {

// p.cache.table, p.start and p.count are device arrays; the pages' memory is zeroed before first use.
void kv_append_forward(const sk_kv_append_params& p, cudaStream_t stream);

// How a decode call is cut up: pages per split, splits, query rows per CTA.
struct DecodeShape {
  int64_t rows;        // (heads_q / kv_heads) · seq_q
  int64_t row_blocks;  // CTAs per (split, batch, KV head) along the rows
  int64_t most_pages;  // pages of the longest sequence
  int64_t pages_per_split, splits;
};
// Host only (p.lengths a host array here): needs no device. `multiprocessors` sizes the grid.
DecodeShape decode_shape(const sk_decode_params& p, int multiprocessors);

// A call's device scratch, byte offsets of each part: packed queries, their
// sums for Quest, Quest's page bounds, the selection (what the binding copies back when asked), the
// splits' softmax states.
struct DecodeScratch {
  size_t qp, bounds, scores, sel_count, sel_pages, states, bytes;
};
DecodeScratch decode_scratch(const sk_decode_params& p, const DecodeShape& s);
// The kernel the call runs, e.g. "sk_cuda_decode_split_bf16".
const char* decode_kernel_name(const sk_decode_params& p);

// p's q, out, lse, lengths, cache.table, streaming, top_* are device
// pointers; sel_count and sel_pages are set here, into scratch (what the
// binding copies back when asked). Throws CudaFailure.
void decode_forward(sk_decode_params p, const DecodeShape& s, void* scratch, cudaStream_t stream);

}  // namespace sk::cuda
