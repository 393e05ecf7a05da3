// Tile and threshold choices, each a constexpr function with its reason, so
// policy lives in one place and kernels, dispatch and scratch sizing agree.
#pragma once
#include <stdint.h>

namespace sk {

// CPU attention (csrc/cpu/attention). The kernels compute Sᵀ = K·Qᵀ with the
// queries of a work item along the vector lanes.

// Queries per work item: a multiple of every ISA's register-tile width (NR =
// 4, 16, 32), and Qᵀ + Oᵀ (2·64·D·4 B, 128 KiB at D = 256) stay in L2.
constexpr int attention_q_tile(int64_t /*head_dim*/) { return 64; }

// Keys per chunk: Pᵀ (64·64·4 = 16 KiB) stays in L1 while P·V streams V's
// columns over it, and the per-chunk rescale of Oᵀ costs 1/64 of its FMAs.
constexpr int attention_kv_tile(int64_t /*head_dim*/) { return 64; }

// The largest head dimension the CPU kernels take: bounds the per-thread
// scratch (≈ 0.3 MiB at 256) and is what the tests cover.
constexpr int64_t attention_max_head_dim() { return 256; }

}  // namespace sk
