// Which element each lane of a warp supplies to the m16n8k32 sparse MMA
// (mma.sp ... .row.col, sparsity selector 0) and the m16n8k16 dense MMA, and
// where the CUDA 2:4 layout keeps the metadata word a lane passes. Shared by
// the kernel (linear_kernel.cuh) and the host emulation in
// test/native/sp24_layout_test.cc, so the CPU tests check the addressing
// the GPU runs. Lane l: group g = l >> 2, thread-in-group t = l & 3.
//
// PTX rules used (reference note §2.2):
//   A (16 × 16 compressed halves = 16 × 32 dense): a0 = (g, 2t..2t+1), a1 = (g+8, 2t..),
//     a2 = (g, 8+2t..), a3 = (g+8, 8+2t..); compressed column c covers dense K 4·(c/2)..+3.
//   B (32 × 8, "col"): b_i = (K 8i+2t..8i+2t+1, n = g), i = 0..3.
//   Metadata (selector 0): lanes t ∈ {0, 1} each pass one 32-bit word: bits 0–15
//     row g, bits 16–31 row g+8, nibble j (bits 4j..4j+3 of each half) for dense K
//     16t + 4j .. +3, nibble = i0 | i1 << 2 with i0 < i1. Lanes t ∈ {2, 3} are ignored.
#pragma once
#include <stdint.h>

#include "../../csrc/core/hd.h"

namespace sk::sp24 {

constexpr int kMetaWordsPerStep = 16;  // one 16-row × 32-K step: 8 groups × 2 lanes

// ldmatrix.x4 over a 16 × 16 tile of 16-bit elements (A of either MMA): the
// tile row and column whose address lane l supplies. Matrix i = l / 8 is
// (rows 0-7 | 8-15) × (cols 0-7 | 8-15) in the order a0, a1, a2, a3.
SK_HD int a_ldm_row(int lane) { return (lane & 7) + ((lane >> 3) & 1) * 8; }
SK_HD int a_ldm_col(int lane) { return (lane >> 4) * 8; }

// ldmatrix.x4 over an 8 × 32 tile (8 rows of x, 32 K): matrix i = l / 8 is
// K columns 8i..8i+7, which lands in b_i.
SK_HD int b_ldm_row(int lane) { return lane & 7; }
SK_HD int b_ldm_col(int lane) { return (lane >> 3) * 8; }

// The index of lane (g, t < 2)'s metadata word inside one step's 16 words.
SK_HD int meta_word_in_step(int g, int t) { return g * 2 + t; }

// Where the element a fragment register half came from, for the emulation:
// register r (0..3) and half h (0 low, 1 high) of lane l hold compressed
// (row, col) of the 16 × 16 tile.
SK_HD int a_frag_row(int lane, int r) { return (lane >> 2) + (r & 1) * 8; }
SK_HD int a_frag_col(int lane, int r, int h) { return (r >> 1) * 8 + (lane & 3) * 2 + h; }
// B register i, half h of lane l holds (K, n) of the 32 × 8 tile.
SK_HD int b_frag_k(int lane, int i, int h) { return 8 * i + 2 * (lane & 3) + h; }
SK_HD int b_frag_n(int lane) { return lane >> 2; }

// Accumulator register r (0..3) of lane l holds D(row, col) of the 16 × 8 tile
// (both MMAs): d0, d1 = (g, 2t..2t+1), d2, d3 = (g+8, 2t..2t+1).
SK_HD int d_frag_row(int lane, int r) { return (lane >> 2) + (r >> 1) * 8; }
SK_HD int d_frag_col(int lane, int r) { return 2 * (lane & 3) + (r & 1); }

// Metadata staging of one 64-wide K tile (two 32-wide steps) of a CTA whose
// first weight row is n0: 16-byte chunk c (4 words) goes from global word
// meta_chunk_src_word(...) to shared word meta_chunk_dst_word(c). Shared
// memory holds, per 16-row tile of the CTA, 32 words: step 0's 16, step 1's 16.
constexpr int kMetaChunksPerRowTile = 8;  // 2 steps × 16 words / 4 words per chunk
SK_HD int64_t meta_chunk_src_word(int64_t n0, int c, int64_t kt, int64_t k_steps) {
  const int64_t row_tile = c / kMetaChunksPerRowTile, within = c % kMetaChunksPerRowTile;
  return ((n0 / 16 + row_tile) * k_steps + kt * 2) * kMetaWordsPerStep + within * 4;
}
SK_HD int meta_chunk_dst_word(int c) { return (c / kMetaChunksPerRowTile) * 32 + (c % kMetaChunksPerRowTile) * 4; }
// The shared word lane (g, t) passes for the 16 rows starting at CTA row `row`
// (a multiple of 16) in step 0 / 1. Lanes t = 2, 3 read their pair's word
// (ignored by selector 0), which keeps the read in range.
SK_HD int meta_smem_word(int row, int step, int g, int t) {
  return (row / 16) * 32 + step * kMetaWordsPerStep + meta_word_in_step(g, t & 1);
}

// The dense K (0..31) that compressed column c of row `row` stands for, read
// from the metadata words the lanes pass: what the hardware does.
SK_HD int dense_k_of(const uint32_t* lane_meta /* [32] */, int row, int c) {
  const int g = row & 7;
  const int t = c >> 3;        // compressed cols 0-7: dense K 0-15 (lane t=0); 8-15: lane t=1
  const int j = (c & 7) >> 1;  // nibble within the 16-bit half
  const uint32_t word = lane_meta[g * 4 + t];
  const uint32_t half = row < 8 ? (word & 0xFFFFu) : (word >> 16);
  const uint32_t nibble = (half >> (4 * j)) & 0xFu;
  const int idx = static_cast<int>((nibble >> (2 * (c & 1))) & 3u);
  return 16 * t + 4 * j + idx;
}

}  // namespace sk::sp24
