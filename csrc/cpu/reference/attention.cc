#include "attention.h"

#include <math.h>
#include <string.h>

#include <vector>

#include "../../core/cast_math.h"

namespace {

double load(sk_dtype t, const void* base, int64_t at) {
  if (t == SK_F32) return static_cast<const float*>(base)[at];
  const uint32_t h = static_cast<const uint16_t*>(base)[at];
  const uint32_t bits = t == SK_F16 ? sk::f16_to_f32<sk::ScalarLanes>(h) : sk::bf16_to_f32<sk::ScalarLanes>(h);
  return sk::ScalarLanes::flt(bits);
}

enum BlockKind { kHidden, kFull, kPartial };

// One rule, written apart from the kernels' csrc/core/mask_rules.h (so a
// mistake there cannot hide in both): the keys a rule shows query i are a
// range [lo, hi] of positions, or a segment match.
bool rule_shows(const sk_mask_rule& r, int64_t b, int64_t h, int64_t i, int64_t j, int64_t offset) {
  const int64_t diag = i + offset;  // bottom-right alignment: the query's own position among the keys
  int64_t lo = 0, hi = diag;
  switch (r.kind) {
    case SK_RULE_CAUSAL: break;
    case SK_RULE_WINDOW: lo = diag - r.window + 1; break;
    case SK_RULE_STREAMING:  // the first `sink` keys, and the last `local` up to the diagonal
      if (j < r.sink && j <= diag) return true;
      lo = diag - r.local + 1;
      break;
    case SK_RULE_DOCUMENTS: {
      const int32_t key_doc = r.kv_seg[j], query_doc = r.q_seg[i];
      if (key_doc == -1) return true;    // the shared prefix
      if (query_doc == -2) return true;  // the query segment
      return key_doc == query_doc;
    }
    case SK_RULE_PERMUTED_CAUSAL: {  // slot j holds the key at original position kv_pos[..., j]
      const int64_t row = b * r.pos_stride_b + (h / r.pos_group) * r.pos_stride_h;
      const int64_t pos = r.kv_pos[row + j];
      return pos <= diag;
    }
    default: return false;
  }
  return lo <= j && j <= hi;
}

BlockKind block_kind(const sk_block_mask& m, int64_t b, int64_t h, int64_t i, int64_t j) {
  const int64_t row = ((m.batch == 1 ? 0 : b) * m.heads + (m.heads == 1 ? 0 : h)) * m.n_q_blocks + i / m.q_block;
  const int64_t kb = j / m.kv_block;
  for (int32_t n = 0; n < m.full_num[row]; ++n)
    if (m.full_idx[row * m.n_kv_blocks + n] == kb) return kFull;
  for (int32_t n = 0; n < m.partial_num[row]; ++n)
    if (m.partial_idx[row * m.n_kv_blocks + n] == kb) return kPartial;
  return kHidden;
}

// A [n0, n1, n2, D] strided tensor decoded to a contiguous float64 array.
std::vector<double> decode_all(const sk_attention_params& p, const void* base, int64_t n1, int64_t n2, int64_t sb,
                               int64_t sh, int64_t ss) {
  const int64_t D = p.head_dim;
  std::vector<double> out(static_cast<size_t>(p.batch * n1 * n2 * D));
  for (int64_t b = 0; b < p.batch; ++b)
    for (int64_t h = 0; h < n1; ++h)
      for (int64_t s = 0; s < n2; ++s)
        for (int64_t d = 0; d < D; ++d)
          out[((b * n1 + h) * n2 + s) * D + d] = load(p.dtype, base, b * sb + h * sh + s * ss + d);
  return out;
}

}  // namespace

bool sk_reference_rules_visible(const sk_mask_rules& rules, int64_t b, int64_t h, int64_t i, int64_t j,
                                int64_t offset) {
  if (rules.n_terms == 0) return true;
  bool any = false;
  for (int t = 0; t < rules.n_terms; ++t) {
    int shown = 0;
    for (int r = 0; r < rules.n_rules[t]; ++r) shown += rule_shows(rules.rules[t][r], b, h, i, j, offset);
    any = any || shown == rules.n_rules[t];
  }
  return any;
}

bool sk_attention_visible(const sk_attention_params& p, int64_t b, int64_t h, int64_t i, int64_t j) {
  const int64_t offset = p.seq_kv - p.seq_q;
  if (p.causal && j > i + offset) return false;
  if (!p.mask) return true;
  switch (block_kind(*p.mask, b, h, i, j)) {
    case kFull: return true;
    case kPartial: return sk_reference_rules_visible(p.mask->rules, b, h, i, j, offset);
    default: return false;
  }
}

void sk_attention_reference_f64(const sk_attention_params& p, double* out64, double* lse64) {
  const int64_t D = p.head_dim, group = p.heads_q / p.heads_kv;
  const std::vector<double> q = decode_all(p, p.q, p.heads_q, p.seq_q, p.q_stride_b, p.q_stride_h, p.q_stride_s);
  const std::vector<double> k = decode_all(p, p.k, p.heads_kv, p.seq_kv, p.k_stride_b, p.k_stride_h, p.k_stride_s);
  const std::vector<double> v = decode_all(p, p.v, p.heads_kv, p.seq_kv, p.v_stride_b, p.v_stride_h, p.v_stride_s);
  std::vector<double> s(static_cast<size_t>(p.seq_kv));
  std::vector<char> seen(static_cast<size_t>(p.seq_kv));
  for (int64_t b = 0; b < p.batch; ++b)
    for (int64_t h = 0; h < p.heads_q; ++h)
      for (int64_t i = 0; i < p.seq_q; ++i) {
        const int64_t row = (b * p.heads_q + h) * p.seq_q + i;
        const double* qi = &q[row * D];
        const int64_t kv_head = (b * p.heads_kv + h / group) * p.seq_kv;
        double* o = out64 + row * D;
        double mx = -INFINITY;
        for (int64_t j = 0; j < p.seq_kv; ++j) {
          seen[j] = sk_attention_visible(p, b, h, i, j);
          if (!seen[j]) continue;
          const double* kj = &k[(kv_head + j) * D];
          double dot = 0;
          for (int64_t d = 0; d < D; ++d) dot += qi[d] * kj[d];
          s[j] = p.scale * dot;
          mx = s[j] > mx ? s[j] : mx;
        }
        for (int64_t d = 0; d < D; ++d) o[d] = 0;
        if (mx == -INFINITY) {  // no visible key
          lse64[row] = -INFINITY;
          continue;
        }
        double sum = 0;
        for (int64_t j = 0; j < p.seq_kv; ++j) {
          if (!seen[j]) continue;
          const double e = exp(s[j] - mx);
          const double* vj = &v[(kv_head + j) * D];
          sum += e;
          for (int64_t d = 0; d < D; ++d) o[d] += e * vj[d];
        }
        for (int64_t d = 0; d < D; ++d) o[d] /= sum;
        lse64[row] = mx + log(sum);
      }
}
