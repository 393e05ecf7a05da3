// The vertical-slash plan (params.h: sk_vslash_plan_params; docs/prefill.md):
// which key columns and slash bands each query head computes, chosen from the
// last queries' attention (SK_SCORE_VERTICAL_SLASH), and the key layout that
// turns them into blocks: per (batch, key head) the union of its query heads'
// columns first, then every other key in order. O(seq log seq) per query head.
#include <math.h>
#include <string.h>

#include <algorithm>
#include <vector>

#include "../../core/threadpool.h"
#include "prefill.h"

namespace {

// A column or a band is a candidate only when it holds more than this many
// times a uniform key's share (1 / seq) per key it costs: below that, its keys
// buy no more mass than any others, and the mass left there is diffuse.
constexpr double kHeavyPerKey = 4.0;
// A head whose columns and bands hold less than this share of its mass is
// diffuse: its output is the mean of many values, which a window of many
// nearby keys estimates better than scattered columns do.
constexpr double kDiffuseHead = 0.5;

// A score's rank key: NaN ranks below every number.
inline double rank_key(double s) { return isnan(s) ? -INFINITY : s; }

struct HeadPlan {
  std::vector<int32_t> columns;  // original positions, in the order taken
  std::vector<uint8_t> bands;    // [nb] 0/1: band t = distances [t·block, (t + 1)·block)
  double coverage = 0;           // the estimated share of the head's mass held
};

// The greedy of one query head over its vertical (v) and slash (s) lines.
HeadPlan plan_head(const sk_vslash_plan_params& p, const float* v, const float* s) {
  const int64_t S = p.seq, B = p.block, n = std::min<int64_t>(p.queries, S), q0 = S - n, nb = (S + B - 1) / B;
  // Column candidates end a block before the scored queries: nearer keys are
  // in their local window, where a vertical line and a slash look alike.
  const int64_t c_end = std::max<int64_t>(1, q0 - B);
  const double level = kHeavyPerKey / static_cast<double>(S), band_level = level * 2 * B;
  HeadPlan hp;
  hp.bands.assign(static_cast<size_t>(nb), 0);
  std::vector<double> band(static_cast<size_t>(nb), 0.0);
  for (int64_t o = 0; o < S; ++o) band[o / B] += s[o];
  // A column's mass leaves the slash lines it lies on: key j meets query q0 + m
  // at distance q0 + m − j, and a vertical key is seen alike by the scored
  // queries, so v[j] / n per distance in [q0 − j, q0 − j + n).
  auto take_column = [&](int64_t j) {
    hp.columns.push_back(static_cast<int32_t>(j));
    hp.coverage += v[j];
    for (int64_t o = q0 - j; o < q0 - j + n;) {
      const int64_t end = std::min(q0 - j + n, (o / B + 1) * B);
      band[o / B] -= static_cast<double>(v[j]) / n * static_cast<double>(end - o);
      o = end;
    }
  };
  std::vector<int32_t> order;
  for (int64_t j = 1; j < c_end; ++j)
    if (v[j] > level) order.push_back(static_cast<int32_t>(j));  // NaN is never heavy
  std::sort(order.begin(), order.end(), [v](int32_t a, int32_t b) { return v[a] > v[b] || (v[a] == v[b] && a < b); });
  // The sink column and the diagonal band always.
  take_column(0);
  hp.bands[0] = 1;
  hp.coverage += std::max(0.0, band[0]);
  int64_t cost = 1 + 2 * B;
  size_t next = 0;
  int64_t best = -1;  // the heaviest band not taken, -1 when none is heavy; recomputed when stale
  auto find_best = [&] {
    best = -1;
    for (int64_t t = 1; t < nb; ++t)
      if (!hp.bands[t] && rank_key(band[t]) > band_level && (best < 0 || band[t] > band[best])) best = t;
  };
  find_best();
  while (hp.coverage < p.threshold) {
    const bool column = next < order.size() && (best < 0 || static_cast<double>(v[order[next]]) * 2 * B >= band[best]);
    if (column) {
      if (cost + 1 > p.budget) break;
      const int64_t j = order[next++];
      take_column(j);
      cost += 1;
      if (best >= (q0 - j) / B && best <= (q0 - j + n - 1) / B) find_best();  // only those bands lost mass
    } else if (best >= 0) {
      if (cost + 2 * B > p.budget) break;
      hp.bands[best] = 1;
      hp.coverage += band[best];
      cost += 2 * B;
      find_best();
    } else {
      break;
    }
  }
  if (hp.coverage < kDiffuseHead)  // a window of nearby bands: neighbours share a block, so block keys each
    for (int64_t t = 0; t < nb && cost + B <= p.budget; ++t)
      if (!hp.bands[t]) hp.bands[t] = 1, cost += B;
  return hp;
}

// Sets bits[kb] for the blocks of the layout that hold the non-column keys at
// original positions [a, c]: they sit in order from slot n_cols on.
void mark_range(int64_t a, int64_t c, const std::vector<int32_t>& rest_before, int64_t n_cols, int32_t block,
                uint8_t* bits) {
  const int64_t s0 = n_cols + rest_before[a], s1 = n_cols + rest_before[c + 1] - 1;
  for (int64_t kb = s0 / block; s1 >= s0 && kb <= s1 / block; ++kb) bits[kb] = 1;
}

// One (batch, key head): its query heads' plans, the layout and their blocks.
void plan_group(const sk_vslash_plan_params& p, int64_t b, int64_t g) {
  const int64_t S = p.seq, B = p.block, nb = (S + B - 1) / B, group = p.heads_q / p.heads_kv;
  const int64_t c_end = std::max<int64_t>(1, S - std::min<int64_t>(p.queries, S) - B);
  std::vector<HeadPlan> heads;
  std::vector<uint8_t> is_col(static_cast<size_t>(S), 0);
  std::vector<double> vsum(static_cast<size_t>(c_end), 0.0);
  for (int64_t k = 0; k < group; ++k) {
    const int64_t h = g * group + k;
    const float* v = p.scores + (b * p.heads_q + h) * 2 * S;
    heads.push_back(plan_head(p, v, v + S));
    for (int32_t j : heads.back().columns) is_col[j] = 1;
    for (int64_t j = 0; j < c_end; ++j) vsum[j] += v[j];
    p.coverage[b * p.heads_q + h] = static_cast<float>(heads.back().coverage);
  }
  int64_t n_cols = std::count(is_col.begin(), is_col.end(), 1);
  // The last column block is computed whole anyway: fill it with the next heaviest keys of the group.
  const int64_t want = std::min(c_end, (n_cols + B - 1) / B * B);
  if (n_cols < want) {
    std::vector<int32_t> more;
    for (int64_t j = 0; j < c_end; ++j)
      if (!is_col[j]) more.push_back(static_cast<int32_t>(j));
    const size_t need = static_cast<size_t>(want - n_cols);
    std::partial_sort(more.begin(), more.begin() + need, more.end(), [&vsum](int32_t a, int32_t b) {
      const double ka = rank_key(vsum[a]), kb = rank_key(vsum[b]);
      return ka > kb || (ka == kb && a < b);
    });
    for (size_t i = 0; i < need; ++i) is_col[more[i]] = 1;
    n_cols = want;
  }
  int32_t* idx = p.indices + (b * p.heads_kv + g) * S;
  std::vector<int32_t> rest_before(static_cast<size_t>(S + 1), 0);
  int64_t at = 0;
  for (int64_t j = 0; j < S; ++j) {
    if (is_col[j]) idx[at++] = static_cast<int32_t>(j);
    rest_before[j + 1] = rest_before[j] + (is_col[j] ? 0 : 1);
  }
  for (int64_t j = 0; j < S; ++j)
    if (!is_col[j]) idx[at++] = static_cast<int32_t>(j);
  const int64_t col_blocks = (n_cols + B - 1) / B;
  for (int64_t k = 0; k < group; ++k) {
    uint8_t* bits = p.bits + (b * p.heads_q + g * group + k) * nb * nb;
    if (p.threshold >= 1) {  // every block: the permuted-causal rule keeps exactly the causal keys
      memset(bits, 1, static_cast<size_t>(nb * nb));
      continue;
    }
    memset(bits, 0, static_cast<size_t>(nb * nb));
    for (int64_t qb = 0; qb < nb; ++qb) {
      uint8_t* row = bits + qb * nb;
      memset(row, 1, static_cast<size_t>(col_blocks));
      const int64_t a0 = qb * B, a1 = std::min(S, a0 + B) - 1;
      for (int64_t t = 0; t < nb; ++t)  // band t: keys at distances [t·B, (t + 1)·B) from the block's queries
        if (heads[k].bands[t] && a1 - t * B >= 0)
          mark_range(std::max<int64_t>(0, a0 - (t + 1) * B + 1), a1 - t * B, rest_before, n_cols, p.block, row);
    }
  }
}

}  // namespace

void sk_cpu_vslash_plan_run(const sk_vslash_plan_params& p, sk::ThreadPool& pool) {
  pool.parallel_for(static_cast<size_t>(p.batch * p.heads_kv), [&](size_t i) {
    plan_group(p, static_cast<int64_t>(i) / p.heads_kv, static_cast<int64_t>(i) % p.heads_kv);
  });
}
