// 2:4 linear (out = x·wᵀ + bias, w in the CPU 2:4 panel layout of
// docs/formats.md and csrc/core/sp24_meta.h): micro-kernel declarations from
// sp24.inc, the kernel pick() returns and the driver that runs it. Codes are
// checked by the driver, never by the micro-kernels (any 4-bit code stays
// inside its group, so none can read out of bounds; invalid ones are refused
// before a kernel runs).
//
// sp24 ukernel, for i < mr ≤ MR (rows of x) and r < nr ≤ 8 (rows of the panel):
//   out[i·out_stride + r] = init + Σ_{q < groups} Σ_{s < 2} v(q, s, r) · x[i·x_stride + 4q + pos_s(code(q, r))]
//   init = accumulate ? out[i·out_stride + r] : (bias ? bias[r] : 0)
//   where v(q, s, r) = values[16q + 8s + r] (of w_type) and code(q, r) is
//   nibble r of the uint32 word at meta + 4q: values and meta point at the
//   panel's first group of the K block.
// sp24 gemv ukernel (one row of x, decode), for panels j < np ≤ 4 at
// values + j·vstride (elements) and meta + j·mstride (bytes), rows r < 8 (r < nr
// in the last panel): out[8j + r] = (bias ? bias[8j + r] : 0) + the panel
// kernel's sum over `groups` groups with x_stride 0. The panels stream side
// by side: several streams keep more memory misses in flight than one.
// Returns whether every code word it read was valid (padding rows included):
// it checks them as it streams, so decode reads the codes once; on false the
// caller finds and reports the bad code (out then holds garbage).
// sp24 spmm ukernel (many rows of x, transposed: xt [4·groups][MR], MR =
// smr), for i < MR and rows r < nr ≤ 8 of the panel:
//   yt[r·yt_stride + i] = init + Σ_q Σ_s v(q, s, r) · xt[(4q + pos_s(code(q, r)))·MR + i]
//   init = accumulate ? yt[r·yt_stride + i] : (bias ? bias[r] : 0)
#pragma once
#include <stddef.h>
#include <stdint.h>

#include "../../core/params.h"
#include "../../core/status.h"
#include "../../core/threadpool.h"

typedef void (*sk_f32_sp24_ukernel_fn)(size_t mr, size_t nr, size_t groups, const float* x, size_t x_stride,
                                       const void* values, const uint8_t* meta, sk_dtype w_type, const float* bias,
                                       float* out, size_t out_stride, bool accumulate);
typedef void (*sk_f32_sp24_spmm_ukernel_fn)(size_t nr, size_t groups, const float* xt, const void* values,
                                            const uint8_t* meta, sk_dtype w_type, const float* bias, float* yt,
                                            size_t yt_stride, bool accumulate);
typedef bool (*sk_f32_sp24_gemv_ukernel_fn)(size_t np, size_t nr, size_t groups, const float* x, const void* values,
                                            size_t vstride, const uint8_t* meta, size_t mstride, sk_dtype w_type,
                                            const float* bias, float* out);

#define SK_SP24_UKERNEL(isa, mr, smr)                                                                                  \
  void sk_f32_sp24_ukernel_##mr##x8__##isa(size_t mr_, size_t nr, size_t groups, const float* x, size_t x_stride,      \
                                           const void* values, const uint8_t* meta, sk_dtype w_type,                   \
                                           const float* bias, float* out, size_t out_stride, bool accumulate);         \
  bool sk_f32_sp24_gemv_ukernel__##isa(size_t np, size_t nr, size_t groups, const float* x, const void* values,        \
                                       size_t vstride, const uint8_t* meta, size_t mstride, sk_dtype w_type,           \
                                       const float* bias, float* out);                                                 \
  void sk_f32_sp24_spmm_ukernel_##smr##x1__##isa(size_t nr, size_t groups, const float* xt, const void* values,        \
                                                 const uint8_t* meta, sk_dtype w_type, const float* bias, float* yt,   \
                                                 size_t yt_stride, bool accumulate);
#include "sp24.inc"
#undef SK_SP24_UKERNEL

// The 2:4 linear kernel of an ISA.
struct sk_linear_sp24_kernel {
  sk_f32_sp24_ukernel_fn fn;         // null when unsupported
  sk_f32_sp24_gemv_ukernel_fn gemv;  // one row of x
  int mr;                            // rows of x per fn call, at most
  sk_f32_sp24_spmm_ukernel_fn spmm;  // many rows of x, transposed in panels of spmm_mr rows
  int spmm_mr;
  const char* name;  // the kernel that runs for these params
};

// Checks every code (SK_ERR_INVALID_ARGUMENT with *bad_row / *bad_group set
// to the first invalid one), then runs the 2:4 linear on the pool.
sk_status sk_cpu_linear_sp24_run(const sk_linear_params& p, const sk_linear_sp24_kernel& k, sk::ThreadPool& pool,
                                 int64_t* bad_row, int64_t* bad_group);
