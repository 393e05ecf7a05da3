// out = x · wᵀ + bias on a CUDA stream, fp16 / bf16, float32 accumulation:
// the 2:4 kernel (mma.sp, CUDA layout of layout.h) or the dense one
// (mma.sync). linear_pick() chooses the instance from the shapes alone, so
// the binding's checks, the grid and the dispatch cannot disagree, and it
// needs no device.
#pragma once
#include <cuda_runtime_api.h>
#include <stdint.h>

#include "../../csrc/core/dtype.h"
#include "linear_params.h"

namespace sk::cuda {

struct LinearKernelInfo {
  const char* name;  // "sp24_gemm_bf16_128x128"
  int block_n, block_m;
  void (*run)(const linear::LinearParams&, cudaStream_t);
};

// The instance for (dtype, sparse, m), or null for dtypes other than float16 / bfloat16.
const LinearKernelInfo* linear_pick(sk_dtype dtype, bool sparse, int64_t m);

// Enqueues the kernel (all pointers device memory, validated by the binding);
// nothing when m or n is 0. Throws CudaFailure, SK_ERR_UNSUPPORTED below sm_80.
void linear_forward(const LinearKernelInfo& kernel, const linear::LinearParams& p, cudaStream_t stream);

// out[m, n] += bias[n] (bias in the dtype or float32): the bias step after
// cuSPARSELt, which is run without its epilogue attributes.
void add_bias(sk_dtype dtype, void* out, const void* bias, bool bias_f32, int64_t m, int64_t n, cudaStream_t stream);

}  // namespace sk::cuda
