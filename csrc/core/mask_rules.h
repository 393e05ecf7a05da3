// Token-level visibility inside partial blocks, shared by the CPU kernels and
// the CUDA kernels (SK_HD), so CPU tests cover the logic the GPU runs.
// Query i, key j; offset = seq_kv - seq_q aligns causal masks bottom-right
// (chunked prefill passes seq_q < seq_kv).
#pragma once
#include <stdint.h>

#include "hd.h"
#include "params.h"

namespace sk {

constexpr int32_t kSegPrefix = -1;  // documents(): the instruction prefix, seen by every query
constexpr int32_t kSegQuery = -2;   // documents(): the query segment, which sees everything

// b and h (batch, query head) select the row of per-head arrays (kv_pos).
SK_HD bool rule_visible(const sk_mask_rule& r, int64_t b, int64_t h, int64_t i, int64_t j, int64_t offset) {
  const int64_t last = i + offset;  // the last key query i may see under causality
  switch (r.kind) {
    case SK_RULE_CAUSAL: return j <= last;
    case SK_RULE_WINDOW: return j <= last && last - r.window < j;
    case SK_RULE_STREAMING: return j <= last && (j < r.sink || last - j < r.local);
    case SK_RULE_DOCUMENTS: {
      const int32_t qs = r.q_seg[i], ks = r.kv_seg[j];
      return ks == kSegPrefix || qs == kSegQuery || qs == ks;
    }
    case SK_RULE_PERMUTED_CAUSAL: return r.kv_pos[b * r.pos_stride_b + (h / r.pos_group) * r.pos_stride_h + j] <= last;
    default: return false;
  }
}

// Whether key j is visible to query i under the OR-of-ANDs rules.
SK_HD bool rules_visible(const sk_mask_rules& rules, int64_t b, int64_t h, int64_t i, int64_t j, int64_t offset) {
  if (rules.n_terms == 0) return true;
  for (int t = 0; t < rules.n_terms; ++t) {
    bool all = true;
    for (int r = 0; r < rules.n_rules[t] && all; ++r) all = rule_visible(rules.rules[t][r], b, h, i, j, offset);
    if (all) return true;
  }
  return false;
}

}  // namespace sk
