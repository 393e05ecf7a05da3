// The SpMM driver (baseline code): splits the op into work items over
// (image or row panel, row chunk, channel chunk) and runs the picked
// micro-kernels on the thread pool. Channel chunks follow group boundaries and
// carry equal shares of the non-zero blocks, so uneven channels still balance.
// Also sk_cpu_spmm_pick: the production SpMM tile per (ISA, block size) and
// the SpMV kernel, from spmm.inc / spmv.inc, tiles chosen by measurement
// (bench/results/spmm-cpu.json and the notes in docs/formats.md).
#include <math.h>
#include <string.h>

#include <algorithm>
#include <memory>
#include <new>
#include <vector>

#include "../../core/heuristics.h"
#include "../../core/host_alloc.h"
#include "../../core/threadpool.h"
#include "../dispatch.h"
#include "../row_panels.h"
#include "spmm.h"

namespace {

inline int64_t group_channel(const sk_spmm_params& p, int64_t g) {
  const int64_t full = p.n / p.nr;
  return g < full ? g * p.nr : full * p.nr + (g - full);
}

// Group bounds of `chunks` chunks with about equal cost (blocks + 1 per group:
// a group with no block still stores its output).
std::vector<int64_t> channel_chunks(const sk_spmm_params& p, int64_t chunks) {
  chunks = std::max<int64_t>(1, std::min(chunks, p.groups));
  std::vector<int64_t> bounds{0};
  const int64_t total = p.group_blocks[p.groups] + p.groups;
  for (int64_t c = 1; c < chunks; ++c) {
    const int64_t want = total * c / chunks;
    int64_t lo = bounds.back(), hi = p.groups;  // first g with cost prefix ≥ want
    while (lo < hi) {
      const int64_t mid = (lo + hi) / 2;
      if (p.group_blocks[mid] + mid < want)
        lo = mid + 1;
      else
        hi = mid;
    }
    if (lo > bounds.back() && lo < p.groups) bounds.push_back(lo);
  }
  bounds.push_back(p.groups);
  return bounds;
}

// The kernel over groups [g0, g1) for `rows` rows whose input channel 0 is at
// x (channel stride from dmap) and output channel 0 at out (stride out_stride).
void run_chunk(const sk_spmm_params& p, const sk_spmm_kernel& k, const int32_t* dmap, int64_t g0, int64_t g1,
               int64_t rows, const float* x, int64_t in_stride, float* out, int64_t out_stride) {
  const int64_t c0 = group_channel(p, g0), c1 = g1 < p.groups ? group_channel(p, g1) : p.n;
  const int64_t b0 = p.group_blocks[g0];
  const float* input = p.group_blocks[g1] > b0 ? x + static_cast<int64_t>(p.cols[b0]) * in_stride : x;
  k.spmm(static_cast<size_t>(rows), static_cast<size_t>(c1 - c0), input, p.values + p.group_values[g0], dmap + b0,
         p.nnzmap + g0, p.bias ? p.bias + c0 : nullptr, out + c0 * out_stride, static_cast<size_t>(out_stride),
         &p.clamp);
}

// The kernel over groups [g0, g1) slice by slice: slice 0 writes out (with
// the bias), each later slice adds its sums to out (the kernels' accumulate),
// and only the last clamps.
void run_sliced(const sk_spmm_params& p, const sk_spmm_kernel& k, const sk_spmm_slices& sl, int64_t g0, int64_t g1,
                int64_t rows, const float* x, int64_t in_stride, float* out, int64_t out_stride,
                const sk_spmm_epilogue& clamp) {
  const int64_t c0 = group_channel(p, g0), c1 = g1 < p.groups ? group_channel(p, g1) : p.n, stride = p.groups + 1;
  for (int64_t s = 0; s < sl.count; ++s) {
    const int64_t* gb = sl.group_blocks.data() + s * stride;
    const int64_t* gv = sl.group_values.data() + s * stride;
    const int64_t b0 = gb[g0];
    const float* input = gb[g1] > b0 ? x + static_cast<int64_t>(sl.cols[b0]) * in_stride : x;
    const bool last = s + 1 == sl.count;
    const sk_spmm_epilogue e{last ? clamp.min : -INFINITY, last ? clamp.max : INFINITY, s > 0};
    k.spmm(static_cast<size_t>(rows), static_cast<size_t>(c1 - c0), input, sl.values.data() + gv[g0],
           sl.dmap.data() + b0, sl.nnzmap.data() + s * p.groups + g0, s == 0 && p.bias ? p.bias + c0 : nullptr,
           out + c0 * out_stride, static_cast<size_t>(out_stride), &e);
  }
}

// The op's tasks over x at `stride` floats a channel: x_of() gives the
// running thread's x (p.x, or a padded copy).
template <class XOf>
void channel_tasks(const sk_spmm_params& p, const sk_spmm_kernel& k, const int32_t* dmap, sk::ThreadPool& pool,
                   const sk_spmm_slices* slices, int64_t stride, const XOf& x_of) {
  const int64_t threads = pool.threads(), want = threads * sk::spmm_tasks_per_thread();
  const int64_t tiles = (p.m + k.mr - 1) / k.mr;
  const int64_t m_chunks = std::max<int64_t>(1, std::min(tiles, (want + p.batch - 1) / p.batch));
  const int64_t tiles_per_chunk = (tiles + m_chunks - 1) / m_chunks;
  const int64_t m_step = tiles_per_chunk * k.mr;
  int64_t m_count = (p.m + m_step - 1) / m_step;
  // A last chunk of a few rows joins the one before: the kernel runs them with
  // its last tile (f32-spmm-impl.h) instead of walking every weight again.
  if (m_count > 1 && p.m - (m_count - 1) * m_step <= k.mr / 4) --m_count;
  // Channel chunks so that the tasks come out a multiple of the threads: a
  // last round with one task for two threads leaves one idle for a task's time.
  int64_t n_want = (want + p.batch * m_count - 1) / (p.batch * m_count);
  while ((p.batch * m_count * n_want) % threads != 0 && n_want < p.groups) ++n_want;
  const std::vector<int64_t> chunks = channel_chunks(p, n_want);
  const int64_t n_count = static_cast<int64_t>(chunks.size()) - 1;
  const int64_t tasks = p.batch * m_count * n_count;
  pool.parallel_for(static_cast<size_t>(tasks), [&](size_t task) {
    const int64_t t = static_cast<int64_t>(task);
    const int64_t b = t / (m_count * n_count), mi = t / n_count % m_count, ni = t % n_count;
    const int64_t m0 = mi * m_step, rows = mi == m_count - 1 ? p.m - m0 : m_step;
    const float* x = x_of() + b * p.k * stride + m0;
    float* out = p.out + b * p.n * p.m + m0;
    if (slices)
      run_sliced(p, k, *slices, chunks[ni], chunks[ni + 1], rows, x, stride, out, p.m, p.clamp);
    else
      run_chunk(p, k, dmap, chunks[ni], chunks[ni + 1], rows, x, stride, out, p.m);
  });
}

// x goes to its padded stride (sk_spmm_input_stride). The copy is rewritten
// every op, so a thread reading another thread's copy misses on every line it
// cached last time and fetches it from the writer's core: at 2 threads that
// cost more than the copy (bench/results/tuning-notes.md). So where it fits
// (sk::spmm_private_copy_bytes) each thread copies x into a slot of its own
// before its first task and reads only that; a larger x is copied once, on
// the calling thread before the pool call (copy tasks inside the call would
// make every SpMM task wait for them).
sk_status run_channels(const sk_spmm_params& p, const sk_spmm_kernel& k, const int32_t* dmap, sk::ThreadPool& pool,
                       const sk_spmm_slices* slices) {
  const int64_t stride = sk_spmm_input_stride(p);
  if (stride == p.m) {
    channel_tasks(p, k, dmap, pool, slices, stride, [&p] { return p.x; });
    return SK_OK;
  }
  const size_t floats = static_cast<size_t>(p.batch * p.k * stride);
  const auto copy_x = [&p, stride](float* to) {
    for (int64_t r = 0; r < p.batch * p.k; ++r)
      memcpy(to + r * stride, p.x + r * p.m, static_cast<size_t>(p.m) * sizeof(float));
  };
  const bool private_copies = pool.threads() > 1 && floats * sizeof(float) <= sk::spmm_private_copy_bytes();
  const size_t slots = private_copies ? static_cast<size_t>(pool.threads()) : 1;
  sk::HostScratch<float> xp(floats * slots);
  if (!xp) return SK_ERR_OUT_OF_MEMORY;
  if (!private_copies) {
    copy_x(xp.get());
    channel_tasks(p, k, dmap, pool, slices, stride, [&xp] { return static_cast<const float*>(xp.get()); });
    return SK_OK;
  }
  // Slot s is only ever touched by the thread whose thread_slot() is s.
  std::vector<char> copied(slots, 0);
  channel_tasks(p, k, dmap, pool, slices, stride, [&] {
    const size_t slot = static_cast<size_t>(pool.thread_slot());
    float* mine = xp.get() + slot * floats;
    if (!copied[slot]) copy_x(mine), copied[slot] = 1;
    return static_cast<const float*>(mine);
  });
  return SK_OK;
}

// Linear layers: x [m, k] → panels xt [k][64] so the kernels read rows
// contiguously; each item (panel, channel chunk) writes yt [channels][64]
// (slice by slice when there are slices) and transposes its block into out [m, n].
sk_status run_rows(const sk_spmm_params& p, const sk_spmm_kernel& k, const int32_t* dmap, sk::ThreadPool& pool,
                   const sk_spmm_slices* slices) {
  const int64_t pw = sk::spmm_panel_rows();
  const int64_t panels = (p.m + pw - 1) / pw;
  const int64_t want = pool.threads() * sk::spmm_tasks_per_thread();
  const std::vector<int64_t> chunks = channel_chunks(p, (want + panels - 1) / panels);
  const int64_t n_count = static_cast<int64_t>(chunks.size()) - 1;
  sk::HostScratch<float> xt(static_cast<size_t>(panels * p.k * pw)), yt(static_cast<size_t>(panels * p.n * pw));
  if (!xt || !yt) return SK_ERR_OUT_OF_MEMORY;
  const int64_t k_step = 256;
  const int64_t k_chunks = (p.k + k_step - 1) / k_step;
  pool.parallel_for(static_cast<size_t>(panels * k_chunks), [&](size_t task) {
    const int64_t panel = static_cast<int64_t>(task) / k_chunks, c0 = static_cast<int64_t>(task) % k_chunks * k_step;
    const int64_t m0 = panel * pw, rows = std::min(pw, p.m - m0), c1 = std::min(p.k, c0 + k_step);
    sk::to_row_panel(p.x + m0 * p.k, p.k, rows, c0, c1, pw, xt.get() + panel * p.k * pw, false);
  });
  pool.parallel_for(static_cast<size_t>(panels * n_count), [&](size_t task) {
    const int64_t panel = static_cast<int64_t>(task) / n_count, ni = static_cast<int64_t>(task) % n_count;
    const int64_t m0 = panel * pw, rows = std::min(pw, p.m - m0);
    const int64_t g0 = chunks[ni], g1 = chunks[ni + 1];
    const int64_t c0 = group_channel(p, g0), c1 = g1 < p.groups ? group_channel(p, g1) : p.n;
    const float* x = xt.get() + panel * p.k * pw;
    float* y = yt.get() + panel * p.n * pw;
    if (slices)
      run_sliced(p, k, *slices, g0, g1, rows, x, pw, y, pw, p.clamp);
    else
      run_chunk(p, k, dmap, g0, g1, rows, x, pw, y, pw);
    sk::from_row_panel(y, rows, c0, c1, pw, p.out + m0 * p.n, p.n);
  });
  return SK_OK;
}

void run_spmv(const sk_spmm_params& p, const sk_spmm_kernel& k, sk::ThreadPool& pool) {
  const std::vector<int64_t> chunks = channel_chunks(p, pool.threads() * sk::spmm_tasks_per_thread());
  const int64_t n_count = static_cast<int64_t>(chunks.size()) - 1;
  pool.parallel_for(static_cast<size_t>(p.m * n_count), [&](size_t task) {
    const int64_t r = static_cast<int64_t>(task) / n_count, ni = static_cast<int64_t>(task) % n_count;
    const int64_t g0 = chunks[ni], g1 = chunks[ni + 1];
    const int64_t c0 = group_channel(p, g0), c1 = g1 < p.groups ? group_channel(p, g1) : p.n;
    const int64_t b0 = p.group_blocks[g0];
    const size_t nc = static_cast<size_t>(c1 - c0);
    const float *x = p.x + r * p.k, *w = p.values + p.group_values[g0], *bias = p.bias ? p.bias + c0 : nullptr;
    float* y = p.out + r * p.n + c0;
    if (p.cols16)
      k.spmv16(nc, x, w, p.cols16 + b0, p.nnzmap + g0, bias, y, &p.clamp);
    else
      k.spmv(nc, x, w, p.cols + b0, p.nnzmap + g0, bias, y, &p.clamp);
  });
}

}  // namespace

sk_status sk_cpu_spmm_run(const sk_spmm_params& p, const sk_spmm_kernel& k, const int32_t* dmap, sk::ThreadPool& pool,
                          const sk_spmm_slices* slices) {
  if (p.n == 0 || p.m == 0 || p.batch == 0) return SK_OK;
  if (sk_spmm_uses_spmv(p)) {
    run_spmv(p, k, pool);
    return SK_OK;
  }
  // Increments for another stride would walk x out of bounds.
  if (slices ? slices->stride != sk_spmm_input_stride(p) : dmap == nullptr && p.blocks > 0)
    return SK_ERR_INVALID_ARGUMENT;
  if (p.layout == SK_SPMM_ROWS) return run_rows(p, k, dmap, pool, slices);
  return run_channels(p, k, dmap, pool, slices);
}

namespace {

struct Choice {
  sk_isa isa;
  int32_t nr, mr;
};

// The tile per (ISA, block size), by measurement with bench/native/spmm_bench.cc
// (bench/results/tuning-notes.md): the widest tile whose accumulator chains hide the FMA latency
// (196 rows are 3 tiles and a masked tail, and a 64-row linear panel reads
// its weights once). AVX-512 and NEON mirror the AVX2 register budgets.
constexpr Choice kChoices[] = {
    {SK_ISA_SCALAR, 1, 8},  {SK_ISA_SCALAR, 2, 8}, {SK_ISA_SCALAR, 4, 8},  {SK_ISA_AVX2, 1, 64},
    {SK_ISA_AVX2, 2, 32},   {SK_ISA_AVX2, 4, 16},  {SK_ISA_AVX512, 1, 64}, {SK_ISA_AVX512, 2, 64},
    {SK_ISA_AVX512, 4, 32}, {SK_ISA_NEON, 1, 32},  {SK_ISA_NEON, 2, 32},   {SK_ISA_NEON, 4, 16},
};

struct SpmmEntry {
  sk_isa isa;
  int32_t mr, nr;
  sk_f32_spmm_ukernel_fn fn;
  const char* name;
};
constexpr SpmmEntry kSpmm[] = {
#define SK_SPMM_UKERNEL(isa, mr, nr)                                                                                   \
  {SK_ISA_##isa##_ID, mr, nr, sk_f32_spmm_ukernel_##mr##x##nr##__##isa, "sk_f32_spmm_ukernel_" #mr "x" #nr "__" #isa},
#include "spmm.inc"
#undef SK_SPMM_UKERNEL
};

struct SpmvEntry {
  sk_isa isa;
  int32_t nr;
  sk_f32_spmv_ukernel_fn fn;
  const char* name;
  sk_f32_spmv16_ukernel_fn fn16;
  const char* name16;
};
constexpr SpmvEntry kSpmv[] = {
#define SK_SPMV_UKERNEL(isa, nr)                                                                                       \
  {SK_ISA_##isa##_ID,                                                                                                  \
   nr,                                                                                                                 \
   sk_f32_spmv_ukernel_1x##nr##__##isa,                                                                                \
   "sk_f32_spmv_ukernel_1x" #nr "__" #isa,                                                                             \
   sk_f32_spmv16_ukernel_1x##nr##__##isa,                                                                              \
   "sk_f32_spmv16_ukernel_1x" #nr "__" #isa},
#include "../f32-spmv/spmv.inc"
#undef SK_SPMV_UKERNEL
};

}  // namespace

sk_spmm_kernel sk_cpu_spmm_pick(const sk_spmm_params& p, sk_isa isa) {
  constexpr sk_spmm_kernel kNone{nullptr, "none", 0, nullptr, "none", nullptr, "none"};
  sk_spmm_kernel k = kNone;
  int32_t mr = 0;
  for (const Choice& c : kChoices)
    if (c.isa == isa && c.nr == p.nr) mr = c.mr;
  for (const SpmmEntry& e : kSpmm)
    if (e.isa == isa && e.nr == p.nr && e.mr == mr) k.spmm = e.fn, k.spmm_name = e.name, k.mr = e.mr;
  for (const SpmvEntry& e : kSpmv)
    if (e.isa == isa && e.nr == p.nr) k.spmv = e.fn, k.spmv_name = e.name, k.spmv16 = e.fn16, k.spmv16_name = e.name16;
  if (!k.spmm || !k.spmv) return kNone;
  return k;
}
