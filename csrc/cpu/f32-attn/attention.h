// CPU block-sparse FlashAttention forward: the work-item contract between the
// baseline driver (driver.cc: plans items, balances them over the thread
// pool, evaluates token rules) and the per-ISA flash loops (f32-attn-*.cc).
//
// Layout inside a work item: the item's queries lie along the vector lanes.
// The kernels compute Sᵀ = K·Qᵀ (a key per row) and Oᵀ += Vᵀ·Pᵀ (a head-dim
// element per row), so K and V are read in their own row-major layout (float32
// in place, no packing), and the online softmax runs down the columns with no
// horizontal reductions. Qᵀ and Oᵀ are transposed once per item.
#pragma once
#include <stddef.h>
#include <stdint.h>

#include "../../core/backend.h"
#include "../../core/params.h"
#include "../../core/status.h"

// One (batch, query head, query tile): rows [q0, q0 + rows) of head h.
struct sk_attention_item {
  int32_t b, h;
  int64_t q0;
  int32_t rows;      // 1..q_tile
  int32_t mask_row;  // row of the block mask's arrays, or -1 for dense
  int64_t cost;      // keys computed × lanes, for balancing
};

// One thread's scratch, in floats from a 64-byte-aligned base; each part
// starts on a cache line. pick() lays it out once; the flash loops carve it
// with that layout.
struct sk_attention_scratch {
  size_t qt;     // Qᵀ [D][q_tile], pre-scaled by scale·log2(e)
  size_t ot;     // Oᵀ [D][q_tile], unnormalized
  size_t st;     // Sᵀ, then Pᵀ [kv_tile][q_tile]
  size_t kf;     // a K chunk decoded to float32 [kv_tile][D] (float16 / bfloat16); a Q row while packing
  size_t vf;     // a V chunk, likewise
  size_t m;      // [q_tile] running max (log2 units)
  size_t l;      // [q_tile] running sum
  size_t alpha;  // [q_tile] this chunk's rescale of Oᵀ
  size_t floats; // total
};

static inline sk_attention_scratch sk_attention_scratch_layout(int64_t head_dim, int32_t q_tile, int32_t kv_tile) {
  sk_attention_scratch s{};
  size_t at = 0;
  auto part = [&](size_t n) {
    size_t here = at;
    at += (n + 15) & ~static_cast<size_t>(15);
    return here;
  };
  const size_t d = static_cast<size_t>(head_dim), q = static_cast<size_t>(q_tile), kv = static_cast<size_t>(kv_tile);
  s.qt = part(d * q);
  s.ot = part(d * q);
  s.st = part(kv * q);
  s.kf = part(kv * d);
  s.vf = part(kv * d);
  s.m = part(q);
  s.l = part(q);
  s.alpha = part(q);
  s.floats = at;
  return s;
}

// Tile sizes (csrc/core/heuristics.h) and the scratch layout they need,
// chosen by sk_cpu_attention_pick() so dispatch and scratch sizing cannot
// disagree.
struct sk_attention_tiling {
  int32_t q_tile;                // queries per item (lanes)
  int32_t kv_tile;               // keys per chunk
  int32_t lanes;                 // vector width of the kernel set: rows are padded to it
  sk_attention_scratch scratch;  // one thread's scratch (pick()'s scratch_bytes is scratch.floats · 4)
};

// A kernel set's flash loop: computes one item's output rows and lse entries.
typedef void (*sk_attention_tile_fn)(const sk_attention_params* p, const sk_attention_tiling* t,
                                     const sk_attention_item* item, void* scratch);

// The largest q_tile and kv_tile: sk_attention_apply_rules keeps a row of
// visibility flags on the stack.
constexpr int32_t kAttentionMaxTile = 256;

// A key chunk of an item, in increasing key order.
struct sk_attention_chunk {
  int64_t j0;
  int32_t keys;
  bool rules;   // a partial block: apply the mask's token rules
  bool causal;  // crosses the causal diagonal: cut per row
};

// Sets scores of tokens the mask's rules hide to -inf. st is the chunk's Sᵀ
// tile: st[c * ld + r] is key j0 + c against query q0 + r, for r < rows, of
// batch b and query head h. Baseline code (sk::rules_visible), called from
// every ISA's flash loop.
void sk_attention_apply_rules(const sk_attention_params* p, int64_t b, int64_t h, int64_t q0, int32_t rows, int64_t j0,
                              int32_t keys, float* st, size_t ld);

// Calls fn(chunk) for each key chunk item `it` computes: every key block when
// dense, the mask row's full and partial blocks (merged, increasing)
// otherwise, split to at most kv_tile keys; chunks entirely above the causal
// diagonal are skipped and the last one is trimmed to it. Static: each
// translation unit (each ISA) keeps its own copy.
template <class Fn>
static inline void sk_attention_each_chunk(const sk_attention_params& p, int32_t kv_tile,
                                           const sk_attention_item& it, Fn&& fn) {
  const int64_t offset = p.seq_kv - p.seq_q;
  const int64_t last_key = it.q0 + it.rows - 1 + offset;    // the last row's last visible key
  const int64_t first_row_last = it.q0 + offset;            // the first row's
  const int64_t end = p.causal ? (last_key + 1 < p.seq_kv ? last_key + 1 : p.seq_kv) : p.seq_kv;
  auto block = [&](int64_t j0, int64_t j1, bool rules) {
    if (j1 > end) j1 = end;
    for (int64_t j = j0; j < j1; j += kv_tile) {
      int64_t n = j1 - j < kv_tile ? j1 - j : kv_tile;
      fn(sk_attention_chunk{j, static_cast<int32_t>(n), rules, p.causal && j + n - 1 > first_row_last});
    }
  };
  if (!p.mask) {
    block(0, end, false);
    return;
  }
  const sk_block_mask& m = *p.mask;
  const int64_t nkb = m.n_kv_blocks;
  const int32_t* fi = m.full_idx + static_cast<int64_t>(it.mask_row) * nkb;
  const int32_t* pi = m.partial_idx + static_cast<int64_t>(it.mask_row) * nkb;
  const int32_t fn_ = m.full_num[it.mask_row], pn = m.partial_num[it.mask_row];
  for (int32_t a = 0, c = 0; a < fn_ || c < pn;) {
    const bool full = c >= pn || (a < fn_ && fi[a] < pi[c]);
    const int64_t kb = full ? fi[a++] : pi[c++];
    const int64_t j0 = kb * m.kv_block;
    if (j0 >= end) break;
    block(j0, j0 + m.kv_block, !full);
  }
}

// The kernel set sk_cpu_attention_pick() (dispatch.h) chooses, inside its
// sk_pick (name "sk_f32_attn_ukernel_6x16__avx2", scratch per thread).
struct sk_attention_kernel {
  sk_attention_tile_fn fn;
  sk_attention_tiling tiling;
};

namespace sk {
class ThreadPool;
}

// Runs the op: plans the items, sorts them by cost (largest first) and lets
// the pool's threads pull them, each with its own scratch allocated once per
// call. Returns SK_ERR_OUT_OF_MEMORY if the scratch cannot be allocated.
sk_status sk_cpu_attention_run(const sk_attention_params& p, const sk_pick<sk_attention_kernel>& k,
                               sk::ThreadPool& pool);
