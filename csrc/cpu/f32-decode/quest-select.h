// Which pages a decode step reads (csrc/cpu/f32-decode/driver.cc): each
// (batch, KV head) pair's sink and recent pages and, for Quest, its top pages
// by the bounds the ISA's sk_quest_score_fn computes. Baseline code.
#pragma once
#include <stdint.h>

#include <algorithm>
#include <new>
#include <vector>

#include "../../core/decode.h"
#include "../../core/heuristics.h"
#include "../../core/host_alloc.h"
#include "decode.h"

namespace sk::decode {

struct Shape {
  int64_t batch, heads, group, rows, dims, page;
};

// Quest's bounds per (sequence, KV head, channel): the sums of the rows' positive and negative parts
// (sk_quest_score_job), bounds[bg][2][dims].
inline void quest_bounds(const Shape& s, const float* qp, float* bounds) {
  std::fill(bounds, bounds + s.batch * s.heads * 2 * s.dims, 0.0f);
  for (int64_t bg = 0; bg < s.batch * s.heads; ++bg)
    for (int64_t r = 0; r < s.rows; ++r)
      for (int64_t d = 0; d < s.dims; ++d) {
        const float x = qp[(bg * s.rows + r) * s.dims + d];
        bounds[(bg * 2 + (x < 0.0f)) * s.dims + d] += x;
      }
}

// What one (batch, KV head) reads: its sink pages [0, sink_end), recent pages [recent_begin, n), and, for a Quest
// head, its top `keep` pages among the others, which it scores unless a selection is reused or keeps them all.
struct PairPlan {
  int64_t b, g, n, sink_end, recent_begin, keep;
  bool all, top, scored;  // all: every page (dense); top: a Quest head
};

inline PairPlan plan_pair(const sk_decode_params& p, const Shape& s, int64_t n, int64_t bg) {
  PairPlan r{};
  r.b = bg / s.heads, r.g = bg % s.heads, r.n = n;
  const bool streaming = p.streaming && p.streaming[r.g];
  r.all = !streaming && p.method == SK_DECODE_DENSE;
  if (r.all) return r;
  const int64_t sink = streaming ? p.streaming_sink : p.sink, recent = streaming ? p.streaming_recent : p.recent;
  r.sink_end = sk::kv_sink_end(sink, s.page, n);
  r.recent_begin = std::max(r.sink_end, sk::kv_recent_begin(p.lengths[r.b], recent, p.seq_q, s.page));
  r.top = !streaming;
  r.keep = p.budget - r.sink_end - (n - r.recent_begin);
  r.scored = r.top && !p.reuse_top && r.keep > 0 && r.keep < r.recent_begin - r.sink_end;
  return r;
}

// The most pages a pair can read (its selection before it is made).
inline int64_t most_read(const sk_decode_params& p, const PairPlan& r, int64_t bg) {
  if (r.all) return r.n;
  const int64_t forced = r.sink_end + (r.n - r.recent_begin);
  if (!r.top) return forced;
  return forced + (p.reuse_top ? p.top_count[bg] : std::max<int64_t>(0, std::min(r.keep, r.recent_begin - r.sink_end)));
}

// Quest's top `keep` pages among [lo, hi), key(pg) their bounds: the highest keys (NaN, a page that saw a
// non-finite value, ranks first; ties: the lower page), written in increasing order. They are the pages above
// the keep-th highest key t and the lowest of those at t; tmp holds hi − lo floats.
template <class Key>
int32_t top_pages(const Key& key, int64_t lo, int64_t hi, int64_t keep, float* tmp, int32_t* out) {
  if (keep <= 0 || hi <= lo) return 0;
  int32_t count = 0;
  if (hi - lo <= keep) {
    for (int64_t pg = lo; pg < hi; ++pg) out[count++] = static_cast<int32_t>(pg);
    return count;
  }
  auto rank = [&](int64_t pg) {
    const float x = key(pg);
    return x == x ? x : __builtin_inff();
  };
  for (int64_t pg = lo; pg < hi; ++pg) tmp[pg - lo] = rank(pg);
  std::nth_element(tmp, tmp + keep - 1, tmp + (hi - lo), [](float a, float b) { return a > b; });
  const float t = tmp[keep - 1];
  int64_t at_t = keep;  // of the pages at t, how many to keep
  for (int64_t i = 0; i < keep - 1; ++i) at_t -= tmp[i] > t;
  for (int64_t pg = lo; pg < hi && count < keep; ++pg) {
    const float x = rank(pg);
    if (x > t || (x == t && at_t-- > 0)) out[count++] = static_cast<int32_t>(pg);
  }
  return count;
}

// A pair's selection, increasing logical pages in sel_pages; top(lo, hi, keep, out) picks a Quest head's top pages.
template <class Top>
void select_pair(const sk_decode_params& p, const PairPlan& r, int64_t bg, const Top& top) {
  int32_t* out = p.sel_pages + bg * p.sel_stride;
  int32_t count = 0;
  auto range = [&](int64_t lo, int64_t hi) {
    for (int64_t pg = lo; pg < hi; ++pg) out[count++] = static_cast<int32_t>(pg);
  };
  if (r.all) {
    range(0, r.n);
  } else {
    range(0, r.sink_end);
    if (r.top) {
      int32_t* kept = p.top_pages + bg * p.top_stride;
      if (!p.reuse_top) p.top_count[bg] = top(r.sink_end, r.recent_begin, r.keep, kept);
      for (int32_t i = 0; i < p.top_count[bg]; ++i)  // a reused page may have become recent since
        if (kept[i] >= r.sink_end && kept[i] < r.recent_begin) out[count++] = kept[i];
    }
    range(r.recent_begin, r.n);
  }
  p.sel_count[bg] = count;
}

// Quest's bounds of the candidate pages of the sequences with a scored pair, in runs of pages taken in turn by
// the threads, every KV head of a page at once (its metadata block is one read; a head's alone is a few lines
// every 4 KiB or so, which the hardware prefetchers follow poorly): scores[b][page][g].
struct QuestScores {
  struct Run {
    int64_t b, first, count;
  };
  std::vector<Run> runs;
  sk::HostScratch<float> bounds, scores;
  int64_t stride;

  QuestScores(const sk_decode_params& p, const Shape& s, const float* qp, const std::vector<int64_t>& pages,
              int64_t most)
      : bounds(static_cast<size_t>(s.batch * s.heads * 2 * s.dims)),
        scores(static_cast<size_t>(s.batch * most * s.heads)),
        stride(most) {
    if (!bounds || !scores) throw std::bad_alloc();
    quest_bounds(s, qp, bounds.get());
    const int64_t chunk = sk::quest_score_pages();
    for (int64_t b = 0; b < s.batch; ++b) {
      int64_t lo = pages[b], hi = 0;
      for (int64_t g = 0; g < s.heads; ++g) {
        const PairPlan r = plan_pair(p, s, pages[b], b * s.heads + g);
        if (r.scored) lo = std::min(lo, r.sink_end), hi = std::max(hi, r.recent_begin);
      }
      for (int64_t f = lo; f < hi; f += chunk) runs.push_back({b, f, std::min(chunk, hi - f)});
    }
  }

  void score(const sk_decode_params& p, const Shape& s, const sk_decode_kernel& k, size_t i) const {
    const Run& r = runs[i];
    const sk_quest_score_job j{bounds.get() + r.b * s.heads * 2 * s.dims,
                               p.cache.meta + r.b * p.cache.table_stride + r.first,
                               r.count,
                               0,
                               s.heads,
                               &p.cache,
                               scores.get() + (r.b * stride + r.first) * s.heads,
                               s.heads};
    k.score(&j);
  }

  // Pair r's top pages among [lo, hi); tmp holds hi − lo floats.
  int32_t top(const Shape& s, const PairPlan& r, int64_t lo, int64_t hi, int64_t keep, float* tmp, int32_t* out) const {
    const float* sc = scores.get() + r.b * stride * s.heads + r.g;
    return top_pages([&](int64_t pg) { return sc[pg * s.heads]; }, lo, hi, keep, tmp, out);
  }
};

}  // namespace sk::decode
