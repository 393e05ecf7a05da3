// The decode driver (baseline code): packs the queries, selects each (batch,
// KV head)'s pages (dense, Quest, streaming), splits them into tasks over the
// thread pool (flash-decoding), and merges the tasks' softmax states into the
// output rows and their LSE. Defines the family's pick().
#include <math.h>
#include <string.h>

#include <algorithm>
#include <atomic>
#include <new>
#include <vector>

#include "../../core/decode.h"
#include "../../core/heuristics.h"
#include "../../core/host_alloc.h"
#include "../../core/threadpool.h"
#include "decode.h"
#include "f32-decode.h"

#define SK_ISA_scalar_ID SK_ISA_SCALAR
#define SK_ISA_avx2_ID SK_ISA_AVX2
#define SK_ISA_avx512_ID SK_ISA_AVX512
#define SK_ISA_neon_ID SK_ISA_NEON

sk_decode_kernel sk_cpu_decode_pick(const sk_decode_params& p, sk_isa isa) {
  const sk_decode_kernel none{nullptr, nullptr, "none"};
  const sk_kv_pages& c = p.cache;
  if (c.type != SK_F32 && c.type != SK_F16 && c.type != SK_BF16 && c.type != SK_F8E4M3FN) return none;
  if (c.page_size < sk::kKvMinPage || c.page_size > sk::kKvMaxPage || c.page_size % 16) return none;
  if (c.head_dim < 16 || c.head_dim > sk::kKvMaxHeadDim || c.head_dim % 16) return none;
  if (c.kv_heads < 1 || p.heads_q < 1 || p.heads_q % c.kv_heads) return none;
  if (p.seq_q < 1 || p.seq_q > sk::kDecodeMaxQueries) return none;
  if (p.q_type != SK_F32 && p.q_type != SK_F16 && p.q_type != SK_BF16) return none;
  switch (isa) {
#define SK_DECODE_UKERNEL(name, smr, snv, pmr, pdv)                                                                    \
  case SK_ISA_##name##_ID:                                                                                             \
    return {sk_f32_decode_ukernel__##name, sk_f32_quest_score_ukernel__##name, "sk_f32_decode_ukernel__" #name};
#include "decode.inc"
#undef SK_DECODE_UKERNEL
    default: return none;
  }
}

namespace {

constexpr float kLog2e = 1.4426950408889634f;
constexpr double kLn2 = 0.6931471805599453;

float load_any(sk_dtype t, const void* base, int64_t at) {
  if (t == SK_F32) return static_cast<const float*>(base)[at];
  const uint32_t h = static_cast<const uint16_t*>(base)[at];
  return sk::ScalarLanes::flt(t == SK_F16 ? sk::f16_to_f32<sk::ScalarLanes>(h) : sk::bf16_to_f32<sk::ScalarLanes>(h));
}

void store_any(sk_dtype t, void* base, int64_t at, float x) {
  if (t == SK_F32) {
    static_cast<float*>(base)[at] = x;
    return;
  }
  const uint32_t u = sk::ScalarLanes::bits(x);
  static_cast<uint16_t*>(base)[at] =
      static_cast<uint16_t>(t == SK_F16 ? sk::f32_to_f16<sk::ScalarLanes>(u) : sk::f32_to_bf16<sk::ScalarLanes>(u));
}

struct Shape {
  int64_t batch, heads, group, rows, dims, page;
};

// q as the kernels read it: [batch][kv_heads][rows][dims] float32 scaled by
// scale · log2(e), row r of KV head g being query head g · group + r / seq_q, token r % seq_q.
void pack_queries(const sk_decode_params& p, const Shape& s, float* qp) {
  const float qscale = p.scale * kLog2e;
  for (int64_t b = 0; b < s.batch; ++b)
    for (int64_t h = 0; h < p.heads_q; ++h)
      for (int64_t i = 0; i < p.seq_q; ++i) {
        const int64_t src = b * p.q_stride_b + h * p.q_stride_h + i * p.q_stride_s;
        const int64_t r = (h % s.group) * p.seq_q + i;
        float* dst = qp + ((b * s.heads + h / s.group) * s.rows + r) * s.dims;
        for (int64_t d = 0; d < s.dims; ++d) dst[d] = load_any(p.q_type, p.q, src + d) * qscale;
      }
}

// Quest's bounds of every page of the sequences that need them: scores[b][page][g].
void score_pages(const sk_decode_params& p, const Shape& s, const sk_decode_kernel& k, const float* qp,
                 const std::vector<int64_t>& pages, const std::vector<uint8_t>& needs, float* scores, int64_t stride,
                 sk::ThreadPool& pool) {
  // Per (sequence, KV head, channel): the sums of the rows' positive and negative parts (sk_quest_score_fn).
  std::vector<float> bounds(static_cast<size_t>(s.batch * s.heads * 2 * s.dims), 0.0f);
  for (int64_t bg = 0; bg < s.batch * s.heads; ++bg)
    for (int64_t r = 0; r < s.rows; ++r)
      for (int64_t d = 0; d < s.dims; ++d) {
        const float x = qp[(bg * s.rows + r) * s.dims + d];
        bounds[(bg * 2 + (x < 0.0f)) * s.dims + d] += x;
      }
  struct Run {
    int64_t b, first, count;
  };
  std::vector<Run> runs;
  const int64_t chunk = sk::quest_score_pages();
  for (int64_t b = 0; b < s.batch; ++b)
    if (needs[b])
      for (int64_t f = 0; f < pages[b]; f += chunk) runs.push_back({b, f, std::min(chunk, pages[b] - f)});
  pool.parallel_for(runs.size(), [&](size_t i) {
    const Run& r = runs[i];
    const float* b = bounds.data() + r.b * s.heads * 2 * s.dims;
    for (int64_t pg = r.first; pg < r.first + r.count; ++pg)
      k.score(b, p.cache.meta[r.b * p.cache.table_stride + pg], &p.cache, scores + (r.b * stride + pg) * s.heads);
  });
}

// Quest's top pages of one (batch, KV head) among the candidates [lo, hi):
// the `keep` highest bounds (ties: the lower page), written in increasing order.
int32_t top_pages(const float* scores, int64_t heads, int64_t g, int64_t lo, int64_t hi, int64_t keep, int32_t* out) {
  if (keep <= 0 || hi <= lo) return 0;
  std::vector<int32_t> cand;
  for (int64_t pg = lo; pg < hi; ++pg) cand.push_back(static_cast<int32_t>(pg));
  if (static_cast<int64_t>(cand.size()) > keep) {
    auto key = [&](int32_t pg) {
      const float x = scores[pg * heads + g];
      return x == x ? x : __builtin_inff();  // NaN (a page that saw a non-finite value) ranks first
    };
    std::nth_element(cand.begin(), cand.begin() + keep, cand.end(), [&](int32_t a, int32_t b) {
      const float ka = key(a), kb = key(b);
      return ka > kb || (ka == kb && a < b);
    });
    cand.resize(static_cast<size_t>(keep));
    std::sort(cand.begin(), cand.end());
  }
  std::copy(cand.begin(), cand.end(), out);
  return static_cast<int32_t>(cand.size());
}

// The selection of every (batch, KV head): increasing logical pages in sel_pages.
void select_pages(const sk_decode_params& p, const Shape& s, const std::vector<int64_t>& pages, const float* scores,
                  int64_t score_stride, sk::ThreadPool& pool) {
  pool.parallel_for(static_cast<size_t>(s.batch * s.heads), [&](size_t bg) {
    const int64_t b = static_cast<int64_t>(bg) / s.heads, g = static_cast<int64_t>(bg) % s.heads, n = pages[b];
    const int64_t len = p.lengths[b];
    int32_t* out = p.sel_pages + bg * p.sel_stride;
    int32_t count = 0;
    auto range = [&](int64_t lo, int64_t hi) {
      for (int64_t pg = lo; pg < hi; ++pg) out[count++] = static_cast<int32_t>(pg);
    };
    const bool streaming = p.streaming && p.streaming[g];
    if (!streaming && p.method == SK_DECODE_DENSE) {
      range(0, n);
    } else {
      const int64_t sink = streaming ? p.streaming_sink : p.sink, recent = streaming ? p.streaming_recent : p.recent;
      const int64_t sink_end = sk::kv_sink_end(sink, s.page, n);
      const int64_t recent_begin = std::max(sink_end, sk::kv_recent_begin(len, recent, p.seq_q, s.page));
      range(0, sink_end);
      if (!streaming) {
        int32_t* top = p.top_pages + bg * p.top_stride;
        if (!p.reuse_top)
          p.top_count[bg] = top_pages(scores + b * score_stride * s.heads, s.heads, g, sink_end, recent_begin,
                                      p.budget - sink_end - (n - recent_begin), top);
        for (int32_t i = 0; i < p.top_count[bg]; ++i)  // a reused page may have become recent since
          if (top[i] >= sink_end && top[i] < recent_begin) out[count++] = top[i];
      }
      range(recent_begin, n);
    }
    p.sel_count[bg] = count;
  });
}

}  // namespace

// Tasks: runs of at most `chunk` selected pages of one (batch, KV head);
// first_task[bg] is bg's first task, first_task[batch · heads] their count.
// kvs and metas hold each selected page's block addresses for the tasks.
static std::vector<sk_decode_task> make_tasks(const sk_decode_params& p, const Shape& s, const float* qp, int64_t chunk,
                                              std::vector<const uint8_t*>& kvs, std::vector<const uint8_t*>& metas,
                                              std::vector<int64_t>& first_task) {
  const int64_t heads = s.heads;
  std::vector<sk_decode_task> tasks;
  for (int64_t bg = 0; bg < s.batch * heads; ++bg) {
    first_task[bg] = static_cast<int64_t>(tasks.size());
    const int64_t b = bg / heads;
    const int32_t* sel = p.sel_pages + bg * p.sel_stride;
    const uint8_t** kv = kvs.data() + bg * p.sel_stride;
    const uint8_t** meta = metas.data() + bg * p.sel_stride;
    for (int32_t i = 0; i < p.sel_count[bg]; ++i) {
      const int64_t at = b * p.cache.table_stride + sel[i];
      kv[i] = p.cache.kv[at] + (bg % heads) * p.cache.head_stride;
      meta[i] = p.cache.meta[at];
    }
    for (int64_t f = 0; f < p.sel_count[bg]; f += chunk) {
      sk_decode_task t{};
      t.q = qp + bg * s.rows * s.dims;
      t.kv = kv + f, t.meta = meta + f, t.page_index = sel + f;
      t.count = static_cast<int32_t>(std::min<int64_t>(chunk, p.sel_count[bg] - f));
      t.rows = static_cast<int32_t>(s.rows), t.seq_q = static_cast<int32_t>(p.seq_q),
      t.g = static_cast<int32_t>(bg % heads);
      t.length = p.lengths[b], t.cache = p.cache;
      tasks.push_back(t);
    }
  }
  first_task[s.batch * heads] = static_cast<int64_t>(tasks.size());
  return tasks;
}

// Merges each (batch, KV head)'s tasks, row by row, into out and lse.
static void merge_tasks(const sk_decode_params& p, const Shape& s, const std::vector<sk_decode_task>& tasks,
                        const std::vector<int64_t>& first_task, sk::ThreadPool& pool) {
  const int64_t heads = s.heads, group = p.heads_q / heads;
  pool.parallel_for(static_cast<size_t>(s.batch * heads), [&](size_t bg) {
    const int64_t b = static_cast<int64_t>(bg) / heads, g = static_cast<int64_t>(bg) % heads;
    std::vector<float> o(static_cast<size_t>(s.dims));
    for (int64_t r = 0; r < s.rows; ++r) {
      float m = -__builtin_inff(), l = 0.0f;
      std::fill(o.begin(), o.end(), 0.0f);
      for (int64_t ti = first_task[bg]; ti < first_task[bg + 1]; ++ti) {
        const sk_decode_task& t = tasks[ti];
        const sk::SoftmaxMerge w = sk::softmax_merge(m, l, t.m[r], t.l[r]);
        for (int64_t d = 0; d < s.dims; ++d) o[d] = o[d] * w.a + t.o[r * s.dims + d] * w.b;
        m = w.m, l = w.l;
      }
      const int64_t h = g * group + r / p.seq_q, i = r % p.seq_q;
      const int64_t at = b * p.out_stride_b + h * p.out_stride_h + i * p.out_stride_s;
      const float inv = l > 0.0f ? 1.0f / l : l == l ? 0.0f : l;
      for (int64_t d = 0; d < s.dims; ++d) store_any(p.q_type, p.out, at + d, o[d] * inv);
      if (p.lse)
        p.lse[(b * p.heads_q + h) * p.seq_q + i] = l > 0.0f ? static_cast<float>(m * kLn2 + log(l))
                                                   : l == l ? -__builtin_inff()
                                                            : l;
    }
  });
}

sk_status sk_cpu_decode_run(const sk_decode_params& p, const sk_decode_kernel& k, sk::ThreadPool& pool) {
  try {
    const int64_t heads = p.cache.kv_heads, group = p.heads_q / heads;
    const Shape s{p.batch, heads, group, group * p.seq_q, p.cache.head_dim, p.cache.page_size};
    std::vector<int64_t> pages(static_cast<size_t>(s.batch));
    int64_t most = 0;
    for (int64_t b = 0; b < s.batch; ++b) most = std::max(most, pages[b] = sk::kv_pages_for(p.lengths[b], s.page));
    sk::HostScratch<float> qp(static_cast<size_t>(s.batch * heads * s.rows * s.dims));
    if (!qp) return SK_ERR_OUT_OF_MEMORY;
    pack_queries(p, s, qp.get());

    std::vector<float> scores;
    if (p.method == SK_DECODE_QUEST && !p.reuse_top) {
      std::vector<uint8_t> needs(static_cast<size_t>(s.batch), 0);
      bool all_streaming = p.streaming != nullptr;
      for (int64_t g = 0; g < heads && all_streaming; ++g) all_streaming = p.streaming[g] != 0;
      for (int64_t b = 0; b < s.batch; ++b) needs[b] = !all_streaming && pages[b] > p.budget;
      scores.resize(static_cast<size_t>(s.batch * most * heads));
      score_pages(p, s, k, qp.get(), pages, needs, scores.data(), most, pool);
    }
    select_pages(p, s, pages, scores.data(), most, pool);

    int64_t total = 0;
    for (int64_t bg = 0; bg < s.batch * heads; ++bg) total += p.sel_count[bg];
    const int64_t chunk = sk::decode_task_pages(total, pool.threads(), s.page);
    std::vector<const uint8_t*> kvs(static_cast<size_t>(s.batch * heads * p.sel_stride)), metas(kvs.size());
    std::vector<int64_t> first_task(static_cast<size_t>(s.batch * heads + 1));
    std::vector<sk_decode_task> tasks = make_tasks(p, s, qp.get(), chunk, kvs, metas, first_task);
    const size_t state = static_cast<size_t>(s.rows * (s.dims + 2));
    sk::HostScratch<float> states(tasks.size() * state);
    const size_t threads = std::min<size_t>(static_cast<size_t>(pool.threads()), tasks.size());
    const size_t per_thread = (sk_decode_scratch_floats(s.rows, s.page) + 15) & ~size_t{15};
    sk::HostScratch<float> scratch(per_thread * std::max<size_t>(threads, 1));
    if (!states || !scratch) return SK_ERR_OUT_OF_MEMORY;
    for (size_t i = 0; i < tasks.size(); ++i) {
      float* st = states.get() + i * state;
      tasks[i].m = st, tasks[i].l = st + s.rows, tasks[i].o = st + 2 * s.rows;
    }
    std::atomic<size_t> next{0};
    pool.parallel_for(threads, [&](size_t th) {
      float* mine = scratch.get() + th * per_thread;
      for (size_t i = next.fetch_add(1); i < tasks.size(); i = next.fetch_add(1)) k.fn(&tasks[i], mine);
    });

    merge_tasks(p, s, tasks, first_task, pool);
  } catch (const std::bad_alloc&) {
    return SK_ERR_OUT_OF_MEMORY;
  }
  return SK_OK;
}
