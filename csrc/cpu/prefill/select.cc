// Block selection and PBS-Attn's segment order (params.h: sk_select_params,
// sk_segment_order_params). O(rows · nb log nb) and O(S log segment): far
// below the scores, yet in JS (whose typed-array sort calls its comparator
// through a pointer) they took a quarter of PBS's estimate
// (bench/results/tuning-notes.md).
#include <math.h>
#include <string.h>

#include <algorithm>
#include <vector>

#include "../../core/threadpool.h"
#include "prefill.h"

namespace {

// Rows in work items of about this many, so a call is a few items per thread.
constexpr int64_t kRowsPerItem = 64;

// A score's rank key: NaN ranks below every number (the comparator stays a
// strict weak order whatever the input).
inline float rank_key(float s) { return isnan(s) ? -INFINITY : s; }

// Blocks by decreasing score, ties to the lower block.
void by_score(const float* s, std::vector<int32_t>& blocks) {
  std::sort(blocks.begin(), blocks.end(), [s](int32_t a, int32_t b) {
    const float ka = rank_key(s[a]), kb = rank_key(s[b]);
    return ka > kb || (ka == kb && a < b);
  });
}

// Adds to bits, beyond the candidates [c0, c1) already set (whose scores
// count as kept mass), the highest-scored candidates until the kept mass
// reaches threshold · their total; the block that crosses is kept.
// threshold ≥ 1 keeps every candidate. Sums in float64, in block order.
void fill_by_mass(const float* s, uint8_t* bits, int64_t c0, int64_t c1, double threshold,
                  std::vector<int32_t>& order) {
  if (threshold >= 1) {
    for (int64_t kb = c0; kb < c1; ++kb) bits[kb] = 1;
    return;
  }
  double total = 0, mass = 0;
  order.clear();
  for (int64_t kb = c0; kb < c1; ++kb) {
    total += s[kb];
    if (bits[kb])
      mass += s[kb];
    else
      order.push_back(static_cast<int32_t>(kb));
  }
  const double need = threshold * total;
  by_score(s, order);
  for (int32_t kb : order) {
    if (mass >= need) break;
    bits[kb] = 1;
    mass += s[kb];
  }
}

void select_row(const sk_select_params& p, int64_t r, std::vector<int32_t>& order) {
  const int64_t nb = p.nb, qb = r % nb;
  const float* s = p.scores + r * nb;
  uint8_t* bits = p.bits + r * nb;
  memset(bits, 0, static_cast<size_t>(nb));
  if (p.rule == SK_SELECT_PERMUTED) {
    const int64_t seg0 = qb / p.segment_blocks * p.segment_blocks, bh = r / nb;
    fill_by_mass(s, bits, 0, seg0, p.threshold, order);
    const int64_t kv_row = bh / p.heads_q * (p.heads_q / p.group) + bh % p.heads_q / p.group;
    const int64_t sink = p.sink_block[kv_row];
    if (sink < seg0) bits[sink] = 1;
    for (int64_t kb = seg0; kb < std::min(nb, seg0 + p.segment_blocks); ++kb) bits[kb] = 1;
    return;
  }
  const int64_t last = p.causal ? qb : nb - 1;
  bits[0] = 1;
  bits[qb] = 1;
  if (p.rule == SK_SELECT_THRESHOLD) return fill_by_mass(s, bits, 0, last + 1, p.threshold, order);
  int64_t kept = qb == 0 ? 1 : 2;
  order.clear();
  for (int64_t kb = 1; kb <= last; ++kb)
    if (!bits[kb]) order.push_back(static_cast<int32_t>(kb));
  by_score(s, order);
  for (int32_t kb : order) {
    if (kept >= p.budget) break;
    bits[kb] = 1;
    ++kept;
  }
}

}  // namespace

void sk_cpu_select_run(const sk_select_params& p, sk::ThreadPool& pool) {
  const int64_t items = (p.rows + kRowsPerItem - 1) / kRowsPerItem;
  pool.parallel_for(static_cast<size_t>(items), [&](size_t i) {
    std::vector<int32_t> order;
    order.reserve(static_cast<size_t>(p.nb));
    const int64_t r0 = static_cast<int64_t>(i) * kRowsPerItem;
    for (int64_t r = r0; r < std::min(p.rows, r0 + kRowsPerItem); ++r) select_row(p, r, order);
  });
}

void sk_cpu_segment_order_run(const sk_segment_order_params& p, sk::ThreadPool& pool) {
  const int64_t group = p.heads_q / p.heads_kv;
  pool.parallel_for(static_cast<size_t>(p.batch * p.heads_kv), [&](size_t i) {
    const int64_t b = static_cast<int64_t>(i) / p.heads_kv, g = static_cast<int64_t>(i) % p.heads_kv;
    std::vector<double> imp(static_cast<size_t>(p.key_count), 0.0);
    for (int64_t h = g * group; h < (g + 1) * group; ++h) {  // float64 sums, query heads in order
      const float* w = p.importance + (b * p.heads_q + h) * p.seq;
      for (int64_t j = 0; j < p.key_count; ++j) imp[j] += w[j];
    }
    int32_t* out = p.indices + static_cast<int64_t>(i) * p.seq;
    for (int64_t j = 0; j < p.seq; ++j) out[j] = static_cast<int32_t>(j);
    for (int64_t s0 = 0; s0 < p.key_count; s0 += p.segment)
      std::sort(out + s0, out + s0 + p.segment, [&imp](int32_t a, int32_t b) {
        const double ka = isnan(imp[a]) ? -INFINITY : imp[a], kb = isnan(imp[b]) ? -INFINITY : imp[b];
        return ka > kb || (ka == kb && a < b);
      });
  });
}
