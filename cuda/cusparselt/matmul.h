// cuSPARSELt as a backend of the 2:4 linear: out[m, n] = x[m, k] · wᵀ with w
// compressed by cuSPARSELt once per SparseWeight. One handle per device, a
// plan cache keyed by (device, dtype, m, n, k), the 32 most recently used
// (sk::LruCache). Runs on the executor thread
// whose device is current; failures throw CudaFailure.
//
// Layout (PyTorch's): A = w structured [n, k] row-major (op N); B = x seen
// as a column-major [k, m] (op N); D = out seen as column-major [n, m], i.e.
// out [m, n] row-major. Float32 compute; the bias is added by our own kernel.
#pragma once
#include <cuda_runtime_api.h>
#include <stddef.h>
#include <stdint.h>

#include <string>

#include "../../csrc/core/dtype.h"

namespace sk::cusparselt {

// '' when cuSPARSELt is loaded and can take a weight of this dtype and shape
// (float16 / bfloat16, n and k multiples of 16), else why not. No device needed.
std::string weight_unsupported(sk_dtype dtype, int64_t n, int64_t k);
// '' when a call with m rows can go to cuSPARSELt (m a multiple of 8, 16-byte aligned x and out).
std::string call_unsupported(int64_t m, const void* x, const void* out);

// Bytes of the compressed weight (device `device`, JS thread).
size_t compressed_bytes(int device, sk_dtype dtype, int64_t n, int64_t k);
// Compresses the dense 2:4 [n, k] weight on `stream` (a temporary buffer is
// taken from and returned to the stream-ordered pool).
void compress(int device, sk_dtype dtype, int64_t n, int64_t k, const void* dense, void* compressed,
              cudaStream_t stream);
// out = x · wᵀ with the compressed weight.
void matmul(int device, sk_dtype dtype, int64_t m, int64_t n, int64_t k, const void* compressed, const void* x,
            void* out, cudaStream_t stream);

// The last reason a call meant for cuSPARSELt ran on our kernel instead ('' if none).
void note_fallback(const std::string& reason);
std::string last_fallback();

// Plans cached now (all devices, at most 32), for tests and `sparsekit info`.
size_t cached_plans();

}  // namespace sk::cusparselt
