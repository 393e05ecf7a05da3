// One launch of a forward kernel (fwd_kernel.cuh, fwd_fp8_kernel.cuh): the
// shared-memory opt-in and the grid, x query tiles (per mask row with a
// mask, else over seq_q), y query heads, z batch; attention.cc's
// fwd_grid_x() answers the same x for attentionPick.
#pragma once
#include <cuda_runtime.h>
#include <stddef.h>
#include <stdint.h>

#include "../common.cuh"
#include "fwd_params.h"

namespace sk::cuda::attn {

template <int kBlockM, int kThreads>
void launch_fwd(void (*kernel)(FwdParams), size_t smem, const FwdParams& p, cudaStream_t stream) {
  // Above 48 KiB a block needs the opt-in; every sm_80+ part allows >= 99 KiB.
  SK_CUDA_CHECK(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, static_cast<int>(smem)));
  const int64_t tiles = p.has_mask ? int64_t{p.n_q_blocks} * p.q_tiles_per_block : (p.seq_q + kBlockM - 1) / kBlockM;
  const dim3 grid(static_cast<unsigned>(tiles), static_cast<unsigned>(p.heads_q), static_cast<unsigned>(p.batch));
  kernel<<<grid, kThreads, smem, stream>>>(p);
  SK_CUDA_CHECK(cudaGetLastError());
}

}  // namespace sk::cuda::attn
