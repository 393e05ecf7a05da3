// Declarations of the f32 SpMV micro-kernels listed in spmv.inc.
//
// Contract: for each of the nc output channels c (groups as in f32-spmm.h:
// floor(nc / NR) groups of NR, then nc % NR of one),
//   y[c] = clamp(bias[c] + Σ w · x[col])
// over the non-zero blocks of c's group; cols holds each block's input
// channel (absolute, not increments), weights NR values per block of an
// NR-group and one per block of a one-channel group. bias may be null.
#pragma once
#include <stddef.h>
#include <stdint.h>

#include "../../core/params.h"

typedef void (*sk_f32_spmv_ukernel_fn)(size_t nc, const float* x, const float* weights, const int32_t* cols,
                                       const uint32_t* nnzmap, const float* bias, float* y,
                                       const sk_spmm_minmax* params);

#define SK_SPMV_UKERNEL(isa, nr)                                                                             \
  void sk_f32_spmv_ukernel_1x##nr##__##isa(size_t nc, const float* x, const float* weights, const int32_t* cols, \
                                           const uint32_t* nnzmap, const float* bias, float* y,                  \
                                           const sk_spmm_minmax* params);
#include "spmv.inc"
#undef SK_SPMV_UKERNEL
