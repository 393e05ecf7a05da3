// 2:4 linear (out = x·wᵀ + bias, w in the CPU 2:4 layout of docs/formats.md):
// micro-kernel declarations from sp24.inc, the kernel set pick() returns and
// the driver that runs it. Codes are checked by the driver, never by the
// micro-kernels (any 4-bit code stays inside its group, so none can read out
// of bounds; invalid ones are refused before a kernel runs).
//
// sp24gemm ukernel: for r < nr ≤ NR (weight rows) and i < MR:
//   ct[r * MR + i] = (accumulate ? ct[r * MR + i] : 0) + Σ_{g < groups} Σ_{j < 2} v_r[2g + j] · xt[(4g + idx_j(g)) * MR + i]
//   where v_r = values + r * vstride (elements of w_type), the codes of row r
//   start at meta + r * mstride (the block starts on an even group), and xt is
//   x's block packed transposed, [4 · groups][MR].
// sp24gemv ukernel: out[r] = (bias ? bias[r] : 0) + Σ over row r's kept values of v · x[k]
//   for r < rows, rows of kd / 2 values and ceil(kd / 8) code bytes (kd % 4 == 0).
#pragma once
#include <stddef.h>
#include <stdint.h>

#include "../../core/params.h"
#include "../../core/status.h"
#include "../../core/threadpool.h"

typedef void (*sk_f32_sp24gemm_ukernel_fn)(size_t nr, size_t groups, const float* xt, const void* values,
                                           size_t vstride, const uint8_t* meta, size_t mstride, sk_dtype w_type,
                                           float* ct, bool accumulate);
typedef void (*sk_f32_sp24gemv_ukernel_fn)(size_t rows, size_t kd, const float* x, const void* values,
                                           const uint8_t* meta, sk_dtype w_type, const float* bias, float* out);

#define SK_SP24_UKERNEL(isa, mr, nr)                                                                               \
  void sk_f32_sp24gemm_ukernel_##mr##x##nr##__##isa(size_t nr_, size_t groups, const float* xt, const void* values, \
                                                    size_t vstride, const uint8_t* meta, size_t mstride,            \
                                                    sk_dtype w_type, float* ct, bool accumulate);                   \
  void sk_f32_sp24gemv_ukernel__##isa(size_t rows, size_t kd, const float* x, const void* values,                  \
                                      const uint8_t* meta, sk_dtype w_type, const float* bias, float* out);
#include "sp24.inc"
#undef SK_SP24_UKERNEL

// A 2:4 linear kernel set: the SpMM tile for m > 1 and the gemv for m == 1.
struct sk_linear24_kernel {
  sk_f32_sp24gemm_ukernel_fn gemm;  // null when unsupported
  sk_f32_sp24gemv_ukernel_fn gemv;
  int mr, nr;                       // gemm tile: rows of x × weight rows
  const char* name;                 // the kernel that runs for these params
};

// Checks every code (SK_ERR_INVALID_ARGUMENT with *bad_row / *bad_group set
// to the first invalid one), then runs the 2:4 linear on the pool.
sk_status sk_cpu_linear24_run(const sk_linear_params& p, const sk_linear24_kernel& k, sk::ThreadPool& pool,
                              int64_t* bad_row, int64_t* bad_group);
