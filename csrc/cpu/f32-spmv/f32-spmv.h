// Declarations of the f32 SpMV micro-kernels listed in spmv.inc.
//
// Contract: for each of the nc output channels c (groups as in f32-spmm.h:
// floor(nc / NR) groups of NR, then nc % NR of one),
//   y[c] = clamp(bias[c] [+ y[c] when params->accumulate] + Σ w · x[col])
// over the non-zero blocks of c's group; cols holds each block's input
// channel (absolute, not increments), weights NR values per block of an
// NR-group and one per block of a one-channel group. bias may be null.
// Each list entry is two kernels: sk_f32_spmv_… with int32 columns, and
// sk_f32_spmv16_… with uint16 columns (K ≤ 65536; the driver's choice).
#pragma once
#include <stddef.h>
#include <stdint.h>

#include "../../core/params.h"

typedef void (*sk_f32_spmv_ukernel_fn)(size_t nc, const float* x, const float* weights, const int32_t* cols,
                                       const uint32_t* nnzmap, const float* bias, float* y,
                                       const sk_spmm_epilogue* params);
typedef void (*sk_f32_spmv16_ukernel_fn)(size_t nc, const float* x, const float* weights, const uint16_t* cols,
                                         const uint32_t* nnzmap, const float* bias, float* y,
                                         const sk_spmm_epilogue* params);

#define SK_SPMV_UKERNEL(isa, nr)                                                                                       \
  void sk_f32_spmv_ukernel_1x##nr##__##isa(size_t nc, const float* x, const float* weights, const int32_t* cols,       \
                                           const uint32_t* nnzmap, const float* bias, float* y,                        \
                                           const sk_spmm_epilogue* params);                                            \
  void sk_f32_spmv16_ukernel_1x##nr##__##isa(size_t nc, const float* x, const float* weights, const uint16_t* cols,    \
                                             const uint32_t* nnzmap, const float* bias, float* y,                      \
                                             const sk_spmm_epilogue* params);
#include "spmv.inc"
#undef SK_SPMV_UKERNEL
