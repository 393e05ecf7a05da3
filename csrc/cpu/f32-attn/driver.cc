// The attention driver (baseline code): plans the work items, balances them
// over the thread pool, and evaluates the mask's token rules for the flash
// loops of every ISA.
#include "attention.h"

#include <string.h>

#include <algorithm>
#include <atomic>
#include <memory>
#include <new>
#include <string>
#include <vector>

#include "../../core/heuristics.h"
#include "../../core/host_alloc.h"
#include "../../core/mask_rules.h"
#include "../../core/threadpool.h"
#include "../dispatch.h"
#include "f32-attn.h"

namespace {

// vis[r] &= rule_visible(rule, q0 + r, j) for r < rows, with the rule's kind a
// constant so the inlined switch folds away and the loop vectorizes.
template <int32_t kKind>
void and_rule(const sk_mask_rule& rule, int64_t b, int64_t h, int64_t q0, int32_t rows, int64_t j, int64_t offset,
              uint8_t* vis) {
  sk_mask_rule r = rule;
  r.kind = kKind;
  for (int32_t i = 0; i < rows; ++i) vis[i] &= sk::rule_visible(r, b, h, q0 + i, j, offset);
}

// vis[r] = AND over the term's rules of rule_visible(rule, q0 + r, j).
void term_visible(const sk_mask_rules& rules, int t, int64_t b, int64_t h, int64_t q0, int32_t rows, int64_t j,
                  int64_t offset, uint8_t* vis) {
  memset(vis, 1, static_cast<size_t>(rows));
  for (int k = 0; k < rules.n_rules[t]; ++k) {
    const sk_mask_rule& rule = rules.rules[t][k];
    switch (rule.kind) {
      case SK_RULE_CAUSAL: and_rule<SK_RULE_CAUSAL>(rule, b, h, q0, rows, j, offset, vis); break;
      case SK_RULE_WINDOW: and_rule<SK_RULE_WINDOW>(rule, b, h, q0, rows, j, offset, vis); break;
      case SK_RULE_STREAMING: and_rule<SK_RULE_STREAMING>(rule, b, h, q0, rows, j, offset, vis); break;
      case SK_RULE_DOCUMENTS: and_rule<SK_RULE_DOCUMENTS>(rule, b, h, q0, rows, j, offset, vis); break;
      case SK_RULE_PERMUTED_CAUSAL: and_rule<SK_RULE_PERMUTED_CAUSAL>(rule, b, h, q0, rows, j, offset, vis); break;
      default: memset(vis, 0, static_cast<size_t>(rows)); break;
    }
  }
}

}  // namespace

// Key by key, so each Sᵀ row (one key, the item's queries) is read and
// written contiguously and the rule loops run over consecutive queries.
void sk_attention_apply_rules(const sk_attention_params* p, int64_t b, int64_t h, int64_t q0, int32_t rows, int64_t j0,
                              int32_t keys, float* st, size_t ld) {
  const sk_mask_rules& rules = p->mask->rules;
  if (rules.n_terms == 0) return;  // no token rule: a partial block shows every token
  const int64_t offset = p->seq_kv - p->seq_q;
  uint8_t any[kAttentionMaxTile], term[kAttentionMaxTile];
  for (int32_t c = 0; c < keys; ++c) {
    const int64_t j = j0 + c;
    term_visible(rules, 0, b, h, q0, rows, j, offset, any);  // OR over terms of (AND over a term's rules)
    for (int t = 1; t < rules.n_terms; ++t) {
      term_visible(rules, t, b, h, q0, rows, j, offset, term);
      for (int32_t r = 0; r < rows; ++r) any[r] |= term[r];
    }
    float* s = st + c * ld;
    for (int32_t r = 0; r < rows; ++r) s[r] = any[r] ? s[r] : -__builtin_inff();
  }
}

namespace {

// Whether V holds a NaN in any element the op reads: a bit test per element
// (so it vectorizes), once per call, instead of a check per chunk and work
// item when there is none, the usual case.
bool v_has_nan(const sk_attention_params& p) {
  const int64_t d = p.head_dim;
  for (int64_t b = 0; b < p.batch; ++b)
    for (int64_t h = 0; h < p.heads_kv; ++h)
      for (int64_t s = 0; s < p.seq_kv; ++s) {
        const int64_t at = b * p.v_stride_b + h * p.v_stride_h + s * p.v_stride_s;
        uint32_t nan = 0;
        if (p.dtype == SK_F32) {
          const uint32_t* row = static_cast<const uint32_t*>(p.v) + at;
          for (int64_t i = 0; i < d; ++i) nan |= (row[i] & 0x7fffffffu) > 0x7f800000u;
        } else {
          const uint16_t* row = static_cast<const uint16_t*>(p.v) + at;
          const uint16_t inf = p.dtype == SK_F16 ? 0x7c00u : 0x7f80u;
          for (int64_t i = 0; i < d; ++i) nan |= (row[i] & 0x7fffu) > inf;
        }
        if (nan) return true;
      }
  return false;
}

// Items of q_tile rows; with a mask, an item never crosses a mask query block
// so it walks one row of the mask's lists.
std::vector<sk_attention_item> plan(const sk_attention_params& p, const sk_attention_tiling& t) {
  std::vector<sk_attention_item> items;
  const sk_block_mask* m = p.mask;
  const int64_t span = m ? m->q_block : p.seq_q;  // rows that share a key list
  const int64_t spans = span > 0 ? (p.seq_q + span - 1) / span : 0;
  for (int64_t b = 0; b < p.batch; ++b)
    for (int64_t h = 0; h < p.heads_q; ++h)
      for (int64_t s = 0; s < spans; ++s) {
        const int64_t end = std::min(p.seq_q, (s + 1) * span);
        int32_t mask_row = -1;
        if (m) {
          const int64_t mb = m->batch == 1 ? 0 : b, mh = m->heads == 1 ? 0 : h;
          mask_row = static_cast<int32_t>((mb * m->heads + mh) * m->n_q_blocks + s);
        }
        for (int64_t q0 = s * span; q0 < end; q0 += t.q_tile) {
          sk_attention_item it{static_cast<int32_t>(b),
                               static_cast<int32_t>(h),
                               q0,
                               static_cast<int32_t>(std::min<int64_t>(t.q_tile, end - q0)),
                               mask_row,
                               0};
          const int64_t lanes = (it.rows + t.lanes - 1) / t.lanes * t.lanes;
          int64_t keys = 1;  // packing Qᵀ and writing the rows cost about one key
          sk::KvWalk<0> walk = sk_attention_walk(p, t.kv_tile, it);
          for (sk::KvTile c; walk.step(c);) keys += c.count;
          it.cost = keys * lanes;
          items.push_back(it);
        }
      }
  return items;
}

}  // namespace

sk_status sk_cpu_attention_run(const sk_attention_params& p, const sk_pick<sk_attention_kernel>& pick,
                               sk::ThreadPool& pool) {
  const sk_attention_kernel& k = pick.kernel;
  try {
    std::vector<sk_attention_item> items = plan(p, k.tiling);
    if (items.empty()) return SK_OK;
    // Head by head (items of a head share its K and V in cache), largest
    // first within a head, pulled dynamically: the queue ends on a head's
    // cheapest items, so causal and sparse rows of very different cost still
    // finish together. (Largest first over all heads balances the same but
    // interleaves heads, whose K and V then evict one another.)
    std::stable_sort(items.begin(), items.end(), [](const sk_attention_item& a, const sk_attention_item& b) {
      if (a.b != b.b || a.h != b.h) return a.b != b.b ? a.b < b.b : a.h < b.h;
      return a.cost > b.cost;
    });
    sk_attention_tiling tiling = k.tiling;
    tiling.v_nan = !p.fp8 && v_has_nan(p);  // FP8 codes are quantize()'s: finite (fp8-tiles.h)
    const size_t threads = std::min<size_t>(static_cast<size_t>(pool.threads()), items.size());
    const size_t stride = (pick.scratch_bytes + sk::kHostAlignment - 1) / sk::kHostAlignment * sk::kHostAlignment;
    std::unique_ptr<unsigned char[]> scratch(new unsigned char[stride * threads + sk::kHostAlignment]);
    const uintptr_t at = reinterpret_cast<uintptr_t>(scratch.get());
    unsigned char* base = scratch.get() + (sk::kHostAlignment - at % sk::kHostAlignment) % sk::kHostAlignment;
    std::atomic<size_t> next{0};
    pool.parallel_for(threads, [&](size_t t) {
      void* mine = base + t * stride;
      for (size_t i = next.fetch_add(1); i < items.size(); i = next.fetch_add(1)) k.fn(&p, &tiling, &items[i], mine);
    });
  } catch (const std::bad_alloc&) {
    return SK_ERR_OUT_OF_MEMORY;
  }
  return SK_OK;
}

sk_pick<sk_attention_kernel> sk_cpu_attention_pick(const sk_attention_params& p, sk_isa isa) {
  using Pick = sk_pick<sk_attention_kernel>;
  const std::string got = std::string(" but received ");
  if (sk_dtype_is_fp8(p.dtype) != (p.fp8 != nullptr))
    return Pick::refuse(SK_ERR_INVALID_ARGUMENT,
                        std::string("Expected per-tile scales exactly with FP8 q, k, v (docs/fp8.md)") + got +
                            sk_dtype_name(p.dtype) + (p.fp8 ? " with scales" : " without"));
  if (p.dtype != SK_F32 && p.dtype != SK_F16 && p.dtype != SK_BF16 && !p.fp8)
    return Pick::refuse(SK_ERR_DTYPE, "Expected float32, float16, bfloat16 or FP8 (quantised) for q.type" + got +
                                          sk_dtype_name(p.dtype));
  if (p.head_dim < 1 || p.head_dim > kAttentionMaxHeadDim)
    return Pick::refuse(SK_ERR_SHAPE, "Expected a head dim between 1 and " + std::to_string(kAttentionMaxHeadDim) +
                                          " for q.dims" + got + std::to_string(p.head_dim));
  if (p.heads_kv < 1 || p.heads_q % p.heads_kv != 0)
    return Pick::refuse(SK_ERR_SHAPE,
                        "Expected key heads that divide the query heads for k.dims" + got + std::to_string(p.heads_kv));
  sk_attention_tiling t{sk::attention_q_tile(p.head_dim), sk::attention_kv_tile(p.head_dim), 1, {}, false};
  static_assert(sk::attention_q_tile(kAttentionMaxHeadDim) <= kAttentionMaxTile &&
                    sk::attention_kv_tile(kAttentionMaxHeadDim) <= kAttentionMaxTile,
                "sk_attention_apply_rules keeps a tile row of flags on the stack");
  t.scratch = sk_attention_scratch_layout(p.head_dim, t.q_tile, t.kv_tile);
  Pick pick;
  pick.scratch_bytes = t.scratch.floats * sizeof(float);
  switch (isa) {
#define SK_ATTN_UKERNEL(isa_name, mr, nr, width)                                                                       \
  case SK_ISA_##isa_name##_ID:                                                                                         \
    t.lanes = width;                                                                                                   \
    if (t.q_tile % t.lanes != 0) break; /* rows are padded to the lanes in scratch */                                  \
    pick.kernel = {sk_f32_attn_ukernel_##mr##x##nr##__##isa_name, t};                                                  \
    pick.name = "sk_f32_attn_ukernel_" #mr "x" #nr "__" #isa_name;                                                     \
    return pick;
#include "attention.inc"
#undef SK_ATTN_UKERNEL
    default: break;
  }
  return Pick::refuse(SK_ERR_UNSUPPORTED,
                      std::string("Expected an attention kernel set for this CPU") + got + sk_isa_name(isa));
}
