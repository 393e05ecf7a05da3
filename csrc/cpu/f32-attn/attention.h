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
#include "../../core/kv_walk.h"
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
  size_t qt;      // Qᵀ [D][q_tile], pre-scaled by scale·log2(e)
  size_t ot;      // Oᵀ [D][q_tile], unnormalized
  size_t st;      // Sᵀ, then Pᵀ [kv_tile][q_tile]
  size_t kf;      // a K chunk decoded to float32 [kv_tile][D] (float16 / bfloat16); a Q row while packing
  size_t vf;      // a V chunk, likewise
  size_t m;       // [q_tile] running max (log2 units)
  size_t l;       // [q_tile] running sum
  size_t alpha;   // [q_tile] this chunk's rescale of Oᵀ
  size_t seen;    // bytes [kv_tile][q_tile]: which queries see each key of a chunk whose V holds a NaN
  size_t floats;  // total
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
  s.seen = part((kv * q + 3) / 4);
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
  bool v_nan;                    // set per call: V holds a NaN, so chunks check for it (the NaN rule)
};

// A kernel set's flash loop: computes one item's output rows and lse entries.
typedef void (*sk_attention_tile_fn)(const sk_attention_params* p, const sk_attention_tiling* t,
                                     const sk_attention_item* item, void* scratch);

// The largest q_tile and kv_tile: sk_attention_apply_rules keeps a row of
// visibility flags on the stack.
constexpr int32_t kAttentionMaxTile = 256;

// Sets scores of tokens the mask's rules hide to -inf. st is the chunk's Sᵀ
// tile: st[c * ld + r] is key j0 + c against query q0 + r, for r < rows, of
// batch b and query head h. Baseline code (sk::rules_visible), called from
// every ISA's flash loop.
void sk_attention_apply_rules(const sk_attention_params* p, int64_t b, int64_t h, int64_t q0, int32_t rows, int64_t j0,
                              int32_t keys, float* st, size_t ld);

// The key walk of work item `it` (csrc/core/kv_walk.h): its mask row's
// full, then partial blocks (every key when dense), in tiles of kv_tile keys,
// cut at the causal diagonal of its last row.
static inline sk::KvWalk<0> sk_attention_walk(const sk_attention_params& p, int32_t kv_tile,
                                              const sk_attention_item& it) {
  sk::KvWalk<0> w;
  w.tile = kv_tile;
  if (p.mask) {
    const sk_block_mask& m = *p.mask;
    w.row(m.full_num, m.full_idx, m.partial_num, m.partial_idx, it.mask_row, m.n_kv_blocks, m.kv_block,
          m.rules.n_terms > 0);
  } else {
    w.dense(p.seq_kv);
  }
  w.rows(it.q0, it.q0 + it.rows, p.seq_kv, p.seq_kv - p.seq_q, p.causal);
  return w;
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
