// Which key tiles a query tile visits, in order, and which token tests each
// needs. Host/device clean (SK_HD) so the walk can be checked on the CPU.
//
// Dense: keys [0, seq_kv) in tiles of kBlockN; with causal, keys past the
// diagonal of the tile's last row are never visited.
// Block mask: the row's full blocks, then its partial blocks; each block's
// keys [kb·kv_block, (kb+1)·kv_block) ∩ [0, seq_kv) go in tiles of at most
// kBlockN that never cross a block boundary, so a tile is either full or
// partial. Absent blocks cost nothing; causal clips every block likewise.
#pragma once
#include <stdint.h>

#include "../../csrc/core/hd.h"
#include "../../csrc/core/params.h"

namespace sk::cuda::attn {

struct KvTile {
  int64_t start;     // first key
  int count;         // keys in the tile, 1..kBlockN; columns past it are masked
  bool causal_test;  // some key lies past the diagonal of the tile's first row
  bool rule_test;    // a partial block: apply the mask's token rules
};

template <int kBlockN>
struct KvWalk {
  bool is_dense = false;
  // Block lists of this (batch, head, query block); unused when dense.
  const int32_t* full_idx = nullptr;
  const int32_t* partial_idx = nullptr;
  int32_t full_num = 0, partial_num = 0;
  int64_t kv_block = 0;
  bool has_rules = false;

  int64_t key_end = 0;      // exclusive: seq_kv, cut by causality at the tile's last row
  int64_t first_diag = 0;   // the last key the tile's first row may see (causal)
  bool causal = false;

  int32_t item = 0;         // next block of the lists (dense: the one range)
  int64_t next = 0, end = 0;  // keys left in the current block
  bool partial = false;

  // Tiles of a dense row: one range.
  SK_HD void dense(int64_t seq_kv) {
    is_dense = true;
    full_num = 1;
    kv_block = seq_kv;
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
    t.start = next;
    t.count = left < kBlockN ? static_cast<int>(left) : kBlockN;
    t.causal_test = causal && t.start + t.count - 1 > first_diag;
    t.rule_test = partial && has_rules;
    next += t.count;
    return true;
  }
};

}  // namespace sk::cuda::attn
