// Tile and threshold choices, each a constexpr function with its reason, so
// policy lives in one place and kernels, dispatch and scratch sizing agree.
#pragma once
#include <stddef.h>
#include <stdint.h>

namespace sk {

// CPU attention (csrc/cpu/f32-attn). The kernels compute Sᵀ = K·Qᵀ with the
// queries of a work item along the vector lanes.

// Queries per work item: a multiple of every ISA's register-tile width (NR =
// 4, 16, 32), and Qᵀ + Oᵀ (2·64·D·4 B, 128 KiB at D = 256) stay in L2.
constexpr int attention_q_tile(int64_t /*head_dim*/) { return 64; }

// Keys per chunk: Pᵀ (64·64·4 = 16 KiB) stays in L1 while P·V streams V's
// columns over it, and the per-chunk rescale of Oᵀ costs 1/64 of its FMAs.
constexpr int attention_kv_tile(int64_t /*head_dim*/) { return 64; }

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

// 2:4, more than one row of x: groups of 4 along K per block. A block of
// 4 rows of x is 4 × 4 × 256 × 4 B = 16 KiB (L1); a panel's values and codes
// for it are 256 × 68 B = 17 KiB (float32), 8 panels 136 KiB (L2).
constexpr int64_t sp24_k_block_groups() { return 256; }

// 2:4, more than one row of x: weight rows per task (whole panels of 8).
constexpr int64_t sp24_n_block() { return 64; }

// 2:4: rows of x (of m) the SpMM path runs, in panels of `panel_rows`
// (x transposed, kernels vectorised along the rows of x); the row kernels
// take the rest. Whole panels, and a last partial panel at least 3/4 full,
// since the zero rows that fill it cost what real rows do (bench/results/tuning-notes.md).
constexpr int64_t sp24_spmm_rows(int64_t m, int64_t panel_rows) {
  const int64_t rest = m % panel_rows;
  return rest * 4 >= panel_rows * 3 ? m : m - rest;
}

// 2:4 SpMM path: groups of 4 along K per block, so a block of a row panel
// (4 · groups · panel_rows floats) is 16 KiB and stays in L1.
constexpr int64_t sp24_spmm_k_block_groups(int64_t panel_rows) { return 16 * 1024 / (16 * panel_rows); }

}  // namespace sk

namespace sk {

// CPU SpMM (csrc/cpu/f32-spmm). Linear layers transpose x into panels of this
// many rows (K × 64 floats: 1 MiB at K = 4096, what one core's L2 holds) so
// the row-vectorised kernels read contiguous rows; a multiple of every MR.
constexpr int64_t spmm_panel_rows() { return 64; }

// Input channels per slice of an SpMM (sk_spmm_slices), for a weight of
// `nnz` non-zeros in [n, k]. A tile's rows of x in one slice (128 × 64 floats
// = 32 KiB, 256 × 64 = 64 KiB) should stay near (L1 / L2) while the slice's
// weights stream; unsliced, each non-zero's rows come from L2 or L3 at random
// channels (x of a 64-row tile at K 4096 is 1 MiB). Narrower slices cost a
// loop start and an output load and store per channel and slice, which pays
// only when a channel has enough non-zeros per slice; at K up to 256 one
// slice does as well as two (bench/results/tuning-notes.md).
constexpr int64_t spmm_k_slice(int64_t nnz, int64_t n, int64_t k) {
  if (k <= 256) return k;
  return nnz * 20 >= 3 * n * k ? 128 : 256;  // density ≥ 15 %: the narrower slice
}

// The input stride (floats between two channels) the conv SpMM kernels read
// x at: pixels per image rounded up to a cache line (16 floats), so a row
// tile's vector loads never split a line (at 14×14 every 196-float channel
// starts 16 bytes past the last, and three loads in four split); the driver
// copies x there first. Under 16 pixels the copy would be mostly padding.
constexpr int64_t spmm_channel_stride(int64_t pixels) { return pixels < 16 ? pixels : (pixels + 15) / 16 * 16; }

// Up to this many bytes of padded x, every thread of a conv SpMM copies x
// into a slot of its own rather than read one copy written by the calling
// thread (csrc/cpu/f32-spmm/driver.cc): the private copy stays in the
// copier's own L2 (1 MiB a core on the Zen 4 and Zen 5 hosts); beyond that
// the copies would crowd out the weights and cost threads × the memory.
constexpr size_t spmm_private_copy_bytes() { return size_t(1) << 20; }

// Up to this many rows a linear layer runs the matrix-vector kernels row by
// row: below one vector of rows the SpMM kernels would run their scalar tail.
constexpr int64_t spmm_max_spmv_rows() { return 2; }

// Work items per thread: enough to even out uneven non-zero counts per
// channel chunk (XNNPACK aims at ~5 tiles per thread).
constexpr int64_t spmm_tasks_per_thread() { return 4; }

// Block choice at pack time (XNNPACK's create_spmm_path): blocks of 4 (or 2)
// output channels when at least 90% of the stored block entries are non-zero,
// so the zeros stored with them cost at most ~11% extra FMAs.
constexpr bool spmm_block_fill_ok(int64_t nnz_in_blocks, int64_t block_entries) {
  return nnz_in_blocks * 10 >= block_entries * 9;
}

}  // namespace sk

namespace sk {

// CPU XAttention scores (csrc/cpu/prefill/scores.cc): query blocks per pass
// over a key head packed as [n_super][stride · D] floats. One block streams
// the whole head for 16 super-rows of work; several share the pass but
// compute up to the last one's diagonal. Sharing pays once a key head no
// longer fits in L2 / L3 (bench/results/tuning-notes.md).
constexpr int64_t xattention_blocks_per_pass(int64_t key_head_bytes) {
  return key_head_bytes > (int64_t{4} << 20) ? 4 : 1;
}

}  // namespace sk

namespace sk {

// CPU decode (csrc/cpu/f32-decode): pages per task. Flash-decoding splits each
// (batch, KV head)'s pages into tasks so that one query keeps every thread
// busy; about 4 tasks per thread even out selections of unequal size, and at
// least 256 tokens per task keep its fixed cost (its rows' state and their
// merge) small next to reading the pages.
constexpr int64_t decode_task_pages(int64_t total_pages, int64_t threads, int64_t page_size) {
  const int64_t min_pages = page_size >= 256 ? 1 : 256 / page_size;
  const int64_t want = (total_pages + threads * 4 - 1) / (threads * 4);
  return want > min_pages ? want : min_pages;
}

// Quest decode as one task per (batch, KV head), scoring, selecting and reading its pages in one pass, when no
// pair reads more than half of a thread's share of the pages read (largest of total) nor fewer than the least
// task above: then the tasks even out over the threads, and the threads meet once instead of four times.
constexpr bool decode_pairs_as_tasks(int64_t largest, int64_t total, int64_t threads, int64_t page_size) {
  const int64_t min_pages = page_size >= 256 ? 1 : 256 / page_size;
  return 2 * threads * largest <= total || largest <= min_pages;
}

// Quest's page bounds: pages per task (each reads the page's metadata for every KV head).
constexpr int64_t quest_score_pages() { return 128; }

}  // namespace sk
