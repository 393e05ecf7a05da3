// The decode driver (baseline code): packs the queries, selects each (batch,
// KV head)'s pages (dense, Quest, streaming: quest-select.h), splits them into
// tasks over the thread pool (flash-decoding), and merges the tasks' softmax
// states into the output rows and their LSE; or, for Quest when the pairs are
// even enough, runs each pair as one task in a single pass over the pool
// (run_pairs). Defines the family's pick().
#include <math.h>
#include <string.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <memory>
#include <new>
#include <thread>
#include <vector>

#include "../../core/decode.h"
#include "../../core/heuristics.h"
#include "../../core/host_alloc.h"
#include "../../core/spin.h"
#include "../../core/threadpool.h"
#include "decode.h"
#include "f32-decode.h"
#include "quest-select.h"

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

using sk::decode::most_read;
using sk::decode::PairPlan;
using sk::decode::plan_pair;
using sk::decode::QuestScores;
using sk::decode::select_pair;
using sk::decode::Shape;

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

// A pair's task over selected pages [f, f + count): kv and meta receive their block addresses.
sk_decode_task pair_task(const sk_decode_params& p, const Shape& s, const float* qp, int64_t bg, int64_t f,
                         int64_t count, const uint8_t** kv, const uint8_t** meta) {
  const int64_t b = bg / s.heads;
  const int32_t* sel = p.sel_pages + bg * p.sel_stride;
  for (int64_t i = f; i < f + count; ++i) {
    const int64_t at = b * p.cache.table_stride + sel[i];
    kv[i] = p.cache.kv[at] + (bg % s.heads) * p.cache.head_stride;
    meta[i] = p.cache.meta[at];
  }
  sk_decode_task t{};
  t.q = qp + bg * s.rows * s.dims;
  t.kv = kv + f, t.meta = meta + f, t.page_index = sel + f;
  t.count = static_cast<int32_t>(count);
  t.rows = static_cast<int32_t>(s.rows), t.seq_q = static_cast<int32_t>(p.seq_q),
  t.g = static_cast<int32_t>(bg % s.heads);
  t.length = p.lengths[b], t.cache = p.cache;
  return t;
}

// Tasks: runs of at most `chunk` selected pages of one (batch, KV head);
// first_task[bg] is bg's first task, first_task[batch · heads] their count.
// kvs and metas hold each selected page's block addresses for the tasks.
std::vector<sk_decode_task> make_tasks(const sk_decode_params& p, const Shape& s, const float* qp, int64_t chunk,
                                       std::vector<const uint8_t*>& kvs, std::vector<const uint8_t*>& metas,
                                       std::vector<int64_t>& first_task) {
  std::vector<sk_decode_task> tasks;
  for (int64_t bg = 0; bg < s.batch * s.heads; ++bg) {
    first_task[bg] = static_cast<int64_t>(tasks.size());
    const uint8_t** kv = kvs.data() + bg * p.sel_stride;
    const uint8_t** meta = metas.data() + bg * p.sel_stride;
    for (int64_t f = 0; f < p.sel_count[bg]; f += chunk)
      tasks.push_back(pair_task(p, s, qp, bg, f, std::min<int64_t>(chunk, p.sel_count[bg] - f), kv, meta));
  }
  first_task[s.batch * s.heads] = static_cast<int64_t>(tasks.size());
  return tasks;
}

// Merges one (batch, KV head)'s tasks, row by row, into out and lse; o holds dims floats.
void merge_pair(const sk_decode_params& p, const Shape& s, const sk_decode_task* tasks, int64_t count, int64_t bg,
                float* o) {
  const int64_t b = bg / s.heads, g = bg % s.heads;
  for (int64_t r = 0; r < s.rows; ++r) {
    float m = -__builtin_inff(), l = 0.0f;
    std::fill(o, o + s.dims, 0.0f);
    for (int64_t ti = 0; ti < count; ++ti) {
      const sk_decode_task& t = tasks[ti];
      const sk::SoftmaxMerge w = sk::softmax_merge(m, l, t.m[r], t.l[r]);
      for (int64_t d = 0; d < s.dims; ++d) o[d] = o[d] * w.a + t.o[r * s.dims + d] * w.b;
      m = w.m, l = w.l;
    }
    const int64_t h = g * s.group + r / p.seq_q, i = r % p.seq_q;
    const int64_t at = b * p.out_stride_b + h * p.out_stride_h + i * p.out_stride_s;
    const float inv = l > 0.0f ? 1.0f / l : l == l ? 0.0f : l;
    for (int64_t d = 0; d < s.dims; ++d) store_any(p.q_type, p.out, at + d, o[d] * inv);
    if (p.lse)
      p.lse[(b * p.heads_q + h) * p.seq_q + i] = l > 0.0f ? static_cast<float>(m * kLn2 + log(l))
                                                 : l == l ? -__builtin_inff()
                                                          : l;
  }
}

// Scratch floats a thread's task needs: the kernel's, then its state [rows][dims + 2].
size_t task_floats(const Shape& s) {
  const size_t kernel = (sk_decode_scratch_floats(s.rows, s.page) + 15) & ~size_t{15};
  return kernel + ((static_cast<size_t>(s.rows * (s.dims + 2)) + 15) & ~size_t{15});
}

// Quest when no (batch, KV head) reads more than half of a thread's share of the pages, so that each can be one
// task (see run_split): the threads meet once. They score the pages, wait for each other's last runs, then take
// the pairs in turn (unequal ones, streaming heads, even out), each selecting, reading its pages and writing its
// rows. pages_most: the pages of the longest sequence.
sk_status run_pairs(const sk_decode_params& p, const Shape& s, const sk_decode_kernel& k, const float* qp,
                    const std::vector<int64_t>& pages, int64_t pages_most, sk::ThreadPool& pool) {
  const int64_t pairs = s.batch * s.heads;
  const QuestScores qs(p, s, qp, pages, pages_most);
  const size_t threads = static_cast<size_t>(std::min<int64_t>(pool.threads(), pairs));
  const size_t per_floats = task_floats(s) + ((static_cast<size_t>(pages_most + s.dims) + 15) & ~size_t{15});
  const size_t per_ptrs = static_cast<size_t>(2 * p.sel_stride);
  sk::HostScratch<float> floats(per_floats * threads);
  sk::HostScratch<const uint8_t*> ptrs(per_ptrs * threads);
  if (!floats || !ptrs) return SK_ERR_OUT_OF_MEMORY;
  const size_t runs = qs.runs.size();
  std::atomic<size_t> next_run{0}, runs_done{0};
  std::atomic<int64_t> next_pair{0};
  pool.parallel_for(threads, [&](size_t th) {
    for (size_t i = next_run.fetch_add(1); i < runs; i = next_run.fetch_add(1)) {
      qs.score(p, s, k, i);
      runs_done.fetch_add(1, std::memory_order_release);
    }
    // Every run is taken, by a thread that is scoring it: wait for theirs (yielding, should they share our core).
    const auto scored = [&] { return runs_done.load(std::memory_order_acquire) == runs; };
    while (!sk::spin_until(scored, std::chrono::microseconds(50))) std::this_thread::yield();
    float* task_scratch = floats.get() + th * per_floats;
    float* state = task_scratch + ((sk_decode_scratch_floats(s.rows, s.page) + 15) & ~size_t{15});
    float* tmp = task_scratch + task_floats(s);
    float* o = tmp + pages_most;
    const uint8_t** kv = ptrs.get() + th * per_ptrs;
    const uint8_t** meta = kv + p.sel_stride;
    for (int64_t bg = next_pair.fetch_add(1); bg < pairs; bg = next_pair.fetch_add(1)) {
      const PairPlan r = plan_pair(p, s, pages[bg / s.heads], bg);
      select_pair(p, r, bg, [&](int64_t lo, int64_t hi, int64_t keep, int32_t* out) {
        return qs.top(s, r, lo, hi, keep, tmp, out);
      });
      sk_decode_task t = pair_task(p, s, qp, bg, 0, p.sel_count[bg], kv, meta);
      t.m = state, t.l = state + s.rows, t.o = state + 2 * s.rows;
      if (t.count > 0) k.fn(&t, task_scratch);
      merge_pair(p, s, &t, t.count > 0 ? 1 : 0, bg, o);
    }
  });
  return SK_OK;
}

// Selects, splits every pair's pages into tasks over the threads (flash-decoding), runs them, and merges them.
sk_status run_split(const sk_decode_params& p, const Shape& s, const sk_decode_kernel& k, const float* qp,
                    const std::vector<int64_t>& pages, int64_t pages_most, sk::ThreadPool& pool) {
  const int64_t pairs = s.batch * s.heads;
  std::unique_ptr<QuestScores> qs;
  if (p.method == SK_DECODE_QUEST) {
    qs = std::make_unique<QuestScores>(p, s, qp, pages, pages_most);
    pool.parallel_for(qs->runs.size(), [&](size_t i) { qs->score(p, s, k, i); });
  }
  pool.parallel_for(static_cast<size_t>(pairs), [&](size_t i) {
    const int64_t bg = static_cast<int64_t>(i);
    const PairPlan r = plan_pair(p, s, pages[bg / s.heads], bg);
    std::vector<float> tmp;
    select_pair(p, r, bg, [&](int64_t lo, int64_t hi, int64_t keep, int32_t* out) {
      tmp.resize(static_cast<size_t>(hi - lo));
      return qs->top(s, r, lo, hi, keep, tmp.data(), out);
    });
  });

  int64_t total = 0;
  for (int64_t bg = 0; bg < pairs; ++bg) total += p.sel_count[bg];
  const int64_t chunk = sk::decode_task_pages(total, pool.threads(), s.page);
  std::vector<const uint8_t*> kvs(static_cast<size_t>(pairs * p.sel_stride)), metas(kvs.size());
  std::vector<int64_t> first_task(static_cast<size_t>(pairs + 1));
  std::vector<sk_decode_task> tasks = make_tasks(p, s, qp, chunk, kvs, metas, first_task);
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
  pool.parallel_for(static_cast<size_t>(pairs), [&](size_t bg) {
    std::vector<float> o(static_cast<size_t>(s.dims));
    merge_pair(p, s, tasks.data() + first_task[bg], first_task[bg + 1] - first_task[bg], static_cast<int64_t>(bg),
               o.data());
  });
  return SK_OK;
}

}  // namespace

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
    if (p.method == SK_DECODE_QUEST) {
      int64_t total = 0, largest = 0;
      for (int64_t bg = 0; bg < s.batch * heads; ++bg) {
        const int64_t n = most_read(p, plan_pair(p, s, pages[bg / heads], bg), bg);
        total += n, largest = std::max(largest, n);
      }
      if (sk::decode_pairs_as_tasks(largest, total, pool.threads(), s.page))
        return run_pairs(p, s, k, qp.get(), pages, most, pool);
    }
    return run_split(p, s, k, qp.get(), pages, most, pool);
  } catch (const std::bad_alloc&) {
    return SK_ERR_OUT_OF_MEMORY;
  }
}
