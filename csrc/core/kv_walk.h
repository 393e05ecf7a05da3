// Which key tiles a query tile visits, in order, and which token tests each
// needs: the one walk of the CPU flash loops (csrc/cpu/f32-attn) and the CUDA
// forward kernel (cuda/attention), host/device clean (SK_HD) so the CPU tests
// (test/native/kv_walk_test.cc) cover the walk the GPU runs.
//
// Dense: keys [0, seq_kv) in tiles of the tile size; with causal, keys past
// the diagonal of the query tile's last row are never visited.
// Block mask: the row's full blocks, then its partial blocks; each block's
// keys [kb·kv_block, (kb+1)·kv_block) ∩ [0, key_end) go in tiles of at most
// the tile size that never cross a block boundary, so a tile is either full
// or partial. Absent blocks cost nothing; causal clips every block likewise.
#pragma once
#include <stdint.h>

#include "hd.h"

namespace sk {
// Internal linkage: each translation unit keeps its own copy, so code compiled
// with one ISA's flags (f32-attn-8x32-avx512.cc) is never the copy the linker
// keeps for baseline code (the driver).
namespace {

struct KvTile {
  int64_t start;     // first key
  int count;         // keys in the tile, 1..tile size; columns past it are masked
  bool causal_test;  // some key lies past the diagonal of the tile's first row
  bool rule_test;    // a partial block: apply the mask's token rules
};

// kTile: keys per tile when the kernel fixes it at compile time (CUDA's
// kBlockN); 0 takes the `tile` member instead (the CPU's tiling).
template <int kTile>
struct KvWalk {
  bool is_dense = false;
  // Block lists of this (batch, head, query block); unused when dense.
  const int32_t* full_idx = nullptr;
  const int32_t* partial_idx = nullptr;
  int32_t full_num = 0, partial_num = 0;
  int64_t kv_block = 0;
  bool has_rules = false;

  int64_t key_end = 0;     // exclusive: seq_kv, cut by causality at the tile's last row
  int64_t first_diag = 0;  // the last key the tile's first row may see (causal)
  bool causal = false;
  int tile = kTile;  // keys per tile (kTile when it is not 0)

  int32_t item = 0;           // next block of the lists (dense: the one range)
  int64_t next = 0, end = 0;  // keys left in the current block
  bool partial = false;

  // Tiles of a dense row: one range.
  SK_HD void dense(int64_t seq_kv) {
    is_dense = true;
    full_num = 1;
    kv_block = seq_kv;
  }

  // Tiles of row `r` of a block mask's lists (sk_block_mask's layout: counts
  // [rows], indices [rows][n_kv_blocks], each row's first `count` increasing).
  SK_HD void row(const int32_t* full_nums, const int32_t* full_idxs, const int32_t* partial_nums,
                 const int32_t* partial_idxs, int64_t r, int64_t n_kv_blocks, int64_t block, bool rules) {
    full_num = full_nums[r];
    partial_num = partial_nums[r];
    full_idx = full_idxs + r * n_kv_blocks;
    partial_idx = partial_idxs + r * n_kv_blocks;
    kv_block = block;
    has_rules = rules;
  }

  // Query rows [row0, row_end) with bottom-right causality (query i sees
  // keys j <= i + offset) when `on`.
  SK_HD void rows(int64_t row0, int64_t row_end, int64_t seq_kv, int64_t offset, bool on) {
    causal = on;
    key_end = on ? (seq_kv < row_end + offset ? seq_kv : row_end + offset) : seq_kv;
    first_diag = row0 + offset;
  }

  SK_HD void open(int32_t i) {
    int64_t block;
    if (is_dense) {
      block = 0;  // dense: the single range [0, seq_kv)
      partial = false;
    } else if (i < full_num) {
      block = full_idx[i];
      partial = false;
    } else {
      block = partial_idx[i - full_num];
      partial = true;
    }
    next = block * kv_block;
    end = next + kv_block < key_end ? next + kv_block : key_end;
  }

  // The next tile, or false when the walk is over.
  SK_HD bool step(KvTile& t) {
    while (next >= end) {
      if (item >= full_num + partial_num) return false;
      open(item++);
    }
    const int64_t left = end - next;
    const int size = kTile > 0 ? kTile : tile;
    t.start = next;
    t.count = left < size ? static_cast<int>(left) : size;
    t.causal_test = causal && t.start + t.count - 1 > first_diag;
    t.rule_test = partial && has_rules;
    next += t.count;
    return true;
  }
};

}  // namespace
}  // namespace sk
