// The decode launches decode_forward (decode.cu) strings together; select.cu
// holds the first ones.
#pragma once
#include <cuda_runtime_api.h>
#include <stdint.h>

#include "../../csrc/core/params.h"

namespace sk::cuda::decode {

// Packs q into qp [batch][kv_heads][rows][head_dim] (scaled by scale · log2 e);
// when a fresh Quest selection is due, the rows' positive and negative sums
// into bounds [batch][kv_heads][2][head_dim] and Quest's page bounds into
// scores [batch][most][kv_heads]; writes p.sel_count / p.sel_pages (and, fresh,
// p.top_count / p.top_pages).
void select_pages(const sk_decode_params& p, int64_t rows, int64_t most, float* qp, float* bounds, float* scores,
                  cudaStream_t s);

}  // namespace sk::cuda::decode
