// Dense linear (out = x·wᵀ + bias): micro-kernel declarations from gemm.inc,
// the kernel set pick() returns and the driver that runs it.
//
// gemm ukernel: c[i, j] = (accumulate ? c[i, j] : bias[j] or 0) + Σ_{k < kc} a[i * lda + k] · bp[k * NR + j]
//   for i < mr ≤ MR and j < nc ≤ NR; bp is a packed panel [kc][NR] (zero-padded
//   past nc) and bias, when read, holds NR floats (zero-padded).
// packw ukernel: bp[k * NR + j] = w[j * ldw + k] as float32 for j < nc ≤ NR, k < kc; zero for nc ≤ j < NR
//   (one weight panel, transposed and widened from w_type).
// gemv ukernel: out[r] = (bias ? bias[r] : 0) + Σ_{k < kd} x[k] · w[r * kd + k] for r < rows,
//   w of w_type (float32, float16 or bfloat16).
#pragma once
#include <stddef.h>

#include "../../core/params.h"
#include "../../core/status.h"
#include "../../core/threadpool.h"

typedef void (*sk_f32_gemm_ukernel_fn)(size_t mr, size_t nc, size_t kc, const float* a, size_t lda, const float* bp,
                                       const float* bias, float* c, size_t ldc, bool accumulate);
typedef void (*sk_f32_packw_ukernel_fn)(size_t nc, size_t kc, const void* w, size_t ldw, sk_dtype w_type, float* bp);
typedef void (*sk_f32_gemv_ukernel_fn)(size_t rows, size_t kd, const float* x, const void* w, sk_dtype w_type,
                                       const float* bias, float* out);

#define SK_GEMM_UKERNEL(isa, mr, nr)                                                                                   \
  void sk_f32_gemm_ukernel_##mr##x##nr##__##isa(size_t mr_, size_t nc, size_t kc, const float* a, size_t lda,          \
                                                const float* bp, const float* bias, float* c, size_t ldc,              \
                                                bool accumulate);                                                      \
  void sk_f32_gemv_ukernel__##isa(size_t rows, size_t kd, const float* x, const void* w, sk_dtype w_type,              \
                                  const float* bias, float* out);                                                      \
  void sk_f32_packw_ukernel_x##nr##__##isa(size_t nc, size_t kc, const void* w, size_t ldw, sk_dtype w_type, float* bp);
#include "gemm.inc"
#undef SK_GEMM_UKERNEL

// A dense linear kernel set: the gemm tile for m > 1 and the gemv for m == 1.
struct sk_linear_kernel {
  sk_f32_gemm_ukernel_fn gemm;  // null when unsupported
  sk_f32_gemv_ukernel_fn gemv;
  sk_f32_packw_ukernel_fn packw;  // weight panels for gemm
  int mr, nr;                     // gemm register tile
  const char* name;               // the kernel that runs for these params (gemm or gemv)
};

// Runs the dense linear on the pool; SK_ERR_OUT_OF_MEMORY if packing scratch cannot be allocated.
sk_status sk_cpu_linear_run(const sk_linear_params& p, const sk_linear_kernel& k, sk::ThreadPool& pool);
