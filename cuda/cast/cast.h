// Element-wise dtype conversion on a CUDA stream, bit-exact with the CPU
// kernels (csrc/cpu/cast): both run the conversions in csrc/core/cast_math.h.
#pragma once
#include <cuda_runtime_api.h>

#include "../../csrc/core/params.h"

namespace sk::cuda {

// Enqueues dst[i] = convert(src[i]) on `stream`. src and dst are device
// pointers aligned to 16 bytes (allocator blocks are); they may be the same
// buffer only when both types have the same size. Throws CudaFailure.
void cast(const sk_cast_params& p, cudaStream_t stream);

}  // namespace sk::cuda
