// Declarations of the f32 SpMM micro-kernels listed in spmm.inc.
//
// Contract (XNNPACK's f32-spmm minmax kernels, with sizes and strides in
// elements instead of bytes and the bias passed apart from the weights):
//   for each of the mc rows m (vectorised: MR at a time) and each of the nc
//   output channels c:
//     output[c * output_stride + m] = clamp(bias[c] [+ output[c * output_stride + m]
//                                         when params->accumulate] + Σ w · input[col · input_stride + m])
//   over the non-zero blocks of c's group.
// - nc channels form floor(nc / NR) groups of NR channels, then nc % NR groups
//   of one; nnzmap[g] is group g's count of non-zero blocks.
// - weights: NR values per block of an NR-group (block-major), one per block
//   of a one-channel group, in group order.
// - input points at the first block's input channel (row 0); after each block
//   the kernel adds dmap[i] (elements) to reach the next block's channel, in
//   one walk over every group; for the next MR rows it starts again from
//   input + MR. dmap has one entry per block (the last one is not followed).
// - bias: nc values, or null for zeros. params: accumulate and clamp bounds.
#pragma once
#include <stddef.h>
#include <stdint.h>

#include "../../core/params.h"

typedef void (*sk_f32_spmm_ukernel_fn)(size_t mc, size_t nc, const float* input, const float* weights,
                                       const int32_t* dmap, const uint32_t* nnzmap, const float* bias, float* output,
                                       size_t output_stride, const sk_spmm_epilogue* params);

#define SK_SPMM_UKERNEL(isa, mr, nr)                                                                                   \
  void sk_f32_spmm_ukernel_##mr##x##nr##__##isa(size_t mc, size_t nc, const float* input, const float* weights,        \
                                                const int32_t* dmap, const uint32_t* nnzmap, const float* bias,        \
                                                float* output, size_t output_stride, const sk_spmm_epilogue* params);
#include "spmm.inc"
#undef SK_SPMM_UKERNEL
