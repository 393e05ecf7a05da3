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

// CPU linear (csrc/cpu/f32-gemm, csrc/cpu/f32-sp24).

// Dense: K per packed panel. A panel [256][NR] (16 KiB at NR 16, 32 KiB at
// NR 32) stays in L1 while every row block of x streams over it.
constexpr int64_t linear_k_block() { return 256; }

// Dense: output columns per task, a multiple of every NR (4, 8, 16, 32): the
// packed weights of a task (128 × 256 × 4 = 128 KiB) stay in L2.
constexpr int64_t linear_n_block() { return 128; }

// Dense: rows of x per task, so x's slice (192 × 256 × 4 = 192 KiB) shares L2 with the packed weights.
constexpr int64_t linear_m_block() { return 192; }

// One-row (decode) paths: weight rows per task; enough tasks to balance, each long enough to stream.
constexpr int64_t linear_gemv_rows() { return 32; }

// 2:4: groups of 4 along K per block, so the packed xᵀ block (4·groups·MR floats) is 16 KiB and stays in L1.
constexpr int64_t sp24_k_block_groups(int mr) { return (16384 / (16 * mr)) / 2 * 2; }

// 2:4: weight rows per task; their values + codes (64 × 4096 × 2.125 B ≈ 0.55 MiB
// at K 4096, float32) stay in L2 while every row block of x passes.
constexpr int64_t sp24_n_block() { return 64; }

}  // namespace sk
