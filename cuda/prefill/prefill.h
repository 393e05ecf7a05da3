// Dynamic sparse prefill on CUDA (float16 / bfloat16 inputs, float32
// accumulation and scores): the block scores of sk_block_scores_params
// (XAttention's antidiagonal scores and key importance on mma.sync tiles,
// mean-pooled scores on CUDA cores) and the row gather of
// sk_gather_rows_params. The definitions are those of csrc/cpu/prefill.
#pragma once
#include <cuda_runtime_api.h>
#include <stddef.h>

#include "../../csrc/core/params.h"

namespace sk::cuda {

// Device scratch the scores need (bytes, 0 for none): XAttention keeps one
// log-sum-exp per (super-row, key block); key importance one (max, sum) per
// (query, 64-key chunk) and one log-sum-exp per query; mean pooling the
// pooled q and k. Host only: needs no device.
size_t block_scores_scratch_bytes(const sk_block_scores_params& p);
// The CUDA blocks each launch would use, largest launch (for the pick answer and the 2^31 − 1 grid limit).
int64_t block_scores_grid(const sk_block_scores_params& p);
// "sk_bf16_xattn_scores_mma" and the like.
const char* block_scores_kernel_name(const sk_block_scores_params& p);
// p was checked by the binding; scratch holds block_scores_scratch_bytes(p).
// Throws CudaFailure (ERR_SK_UNSUPPORTED below compute capability 8.0).
void block_scores_forward(const sk_block_scores_params& p, void* scratch, cudaStream_t stream);

namespace prefill {
// Method 2 (cuda/prefill/pool.cu): pooled means into scratch, then one CTA per query-block row.
void meanpool_scores_forward(const sk_block_scores_params& p, float* scratch, cudaStream_t stream);
}  // namespace prefill

// p.idx is a device copy of indices the binding checked to lie in [0, seq).
void gather_rows_forward(const sk_gather_rows_params& p, cudaStream_t stream);

}  // namespace sk::cuda
