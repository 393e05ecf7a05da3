// The attention oracle: plain loops, float64 accumulation, token-level
// visibility for every (query, key) pair. Slow on purpose; the tests compare
// every kernel set against it.
#pragma once
#include <stdint.h>

#include "../../core/params.h"

// Whether the token rules (OR of AND-terms; none: every key) show key j to
// query i of (batch b, query head h), offset = seq_kv - seq_q. Written apart
// from the kernels' csrc/core/mask_rules.h: the tests' oracle.
bool sk_reference_rules_visible(const sk_mask_rules& rules, int64_t b, int64_t h, int64_t i, int64_t j, int64_t offset);

// Whether query i of (batch b, query head h) sees key j: the mask's block
// lists (a full block shows every token, a partial block those the rules
// show; a block in neither list hides every token), ANDed with the causal
// flag (j <= i + seq_kv - seq_q). No mask: every key, ANDed with causal.
bool sk_attention_visible(const sk_attention_params& p, int64_t b, int64_t h, int64_t i, int64_t j);

// out64 [batch, heads_q, seq_q, head_dim] and lse64 [batch, heads_q, seq_q]
// (natural log), contiguous, from p's inputs decoded exactly to float64. A
// row with no visible key gives zeros and lse = -inf. p.out and p.lse are not
// touched.
void sk_attention_reference_f64(const sk_attention_params& p, double* out64, double* lse64);
