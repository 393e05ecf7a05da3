// Dynamic sparse prefill on the CPU: block scores (XAttention's antidiagonal
// scores, mean-pooled block scores, PBS-Attn's key importance, the vertical
// and slash lines of the last queries), the selections and plans, and the row
// gather that lays keys and values out in a permuted order. The cost-dominant
// products run on the chosen ISA's attention micro-kernels (qk: Sᵀ = K·Qᵀ,
// vexp2), so every kernel set (scalar, AVX2, AVX-512, NEON) vectorises them
// with no second copy of the GEMM; the rest is baseline code.
#pragma once
#include <stddef.h>
#include <stdint.h>

#include "../../core/cpu_features.h"
#include "../../core/params.h"
#include "../../core/status.h"

namespace sk {
class ThreadPool;
}

typedef void (*sk_qk_ukernel_fn)(size_t mr, size_t nc, size_t kc, const float* k, size_t k_stride, const float* qt,
                                 size_t qt_stride, float* st, size_t st_stride);
typedef void (*sk_vexp2_ukernel_fn)(size_t n, const float* x, float* y);

// One ISA's micro-kernels for the scores (f32-attn.h describes them).
struct sk_prefill_kernels {
  sk_qk_ukernel_fn qk;  // null when the ISA is not built here
  sk_vexp2_ukernel_fn vexp2;
  int32_t mr, nr, lanes;  // qk's register tile: mr keys × nr queries (nr a multiple of lanes)
  const char* name;       // the qk kernel's name
};

// The kernels for an ISA, and whether the params are in range for them
// (dtype, method, sizes, stride dividing block); fn null when unsupported.
sk_prefill_kernels sk_cpu_prefill_pick(const sk_block_scores_params& p, sk_isa isa);

// Fills p.out (see sk_score_method). SK_ERR_OUT_OF_MEMORY if the packed keys
// or the per-thread scratch cannot be allocated.
sk_status sk_cpu_block_scores_run(const sk_block_scores_params& p, const sk_prefill_kernels& k, sk::ThreadPool& pool);

// The gather of sk_gather_rows_params; indices are trusted (the addon checks them).
void sk_cpu_gather_rows_run(const sk_gather_rows_params& p, sk::ThreadPool& pool);

// Block selection and PBS-Attn's segment order (params.h), row by row on the
// pool. Inputs are trusted (the addon checks lengths and sink blocks).
void sk_cpu_select_run(const sk_select_params& p, sk::ThreadPool& pool);
void sk_cpu_segment_order_run(const sk_segment_order_params& p, sk::ThreadPool& pool);

// The vertical-slash plan (vslash.cc), a (batch, key head) per task. Inputs
// are trusted (the addon checks lengths and numbers).
void sk_cpu_vslash_plan_run(const sk_vslash_plan_params& p, sk::ThreadPool& pool);
