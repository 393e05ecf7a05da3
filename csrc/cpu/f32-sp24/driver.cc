// The 2:4 linear driver (baseline code) and its pick(). Tasks own blocks of
// whole panels (csrc/core/sp24_meta.h), so each checks its panels' codes
// first (they are then in cache for the kernel) and a corrupted weight is
// refused without a second pass over memory. One row of x (decode) streams
// the task's panels side by side through the gemv kernel, which checks the
// codes as it reads them (a separate pass cost a tenth of the decode). A few
// rows go K block by K block, then block of mr rows of x by block, then panel
// by panel: the rows' K block of x stays in L1 across the task's panels, and
// each panel's K block of values stays in L2 across the rows of x. Many rows
// (sk::sp24_spmm_rows) run the SpMM path, run_spmm, and any rest of rows the
// row kernels.
#include <algorithm>
#include <atomic>
#include <new>

#include "../../core/heuristics.h"
#include "../../core/host_alloc.h"
#include "../../core/sp24_meta.h"
#include "../dispatch.h"
#include "../row_panels.h"
#include "sp24.h"

sk_linear_sp24_kernel sk_cpu_linear_sp24_pick(const sk_linear_params& p, sk_isa isa) {
  const sk_linear_sp24_kernel none{nullptr, nullptr, 0, nullptr, 0, "none"};
  if (p.format != SK_WEIGHT_SP24 || p.k % 4 != 0) return none;
  if (p.w_type != SK_F32 && p.w_type != SK_F16 && p.w_type != SK_BF16) return none;
  if (p.m < 0 || p.n < 0 || p.k < 0) return none;
#define SK_SP24_UKERNEL(name, mr, smr)                                                                                 \
  if (isa == SK_ISA_##name##_ID)                                                                                       \
    return {sk_f32_sp24_ukernel_##mr##x8__##name,                                                                      \
            sk_f32_sp24_gemv_ukernel__##name,                                                                          \
            mr,                                                                                                        \
            sk_f32_sp24_spmm_ukernel_##smr##x1__##name,                                                                \
            smr,                                                                                                       \
            p.m == 1                           ? "sk_f32_sp24_gemv_ukernel__" #name                                    \
            : sk::sp24_spmm_rows(p.m, smr) > 0 ? "sk_f32_sp24_spmm_ukernel_" #smr "x1__" #name                         \
                                               : "sk_f32_sp24_ukernel_" #mr "x8__" #name};
#include "sp24.inc"
#undef SK_SP24_UKERNEL
  return none;
}

namespace {

// The lowest (row, group) any task found invalid; tasks run out of order.
struct FirstBad {
  std::atomic<int64_t> row{INT64_MAX};
  int64_t group = -1;
  std::atomic_flag lock = ATOMIC_FLAG_INIT;
  void report(int64_t r, int64_t g) {
    while (lock.test_and_set(std::memory_order_acquire)) {}
    if (r < row.load()) row.store(r), group = g;
    lock.clear(std::memory_order_release);
  }
  bool seen() const { return row.load(std::memory_order_relaxed) != INT64_MAX; }
};

void run(const sk_linear_params& p, const sk_linear_sp24_kernel& kern, sk::ThreadPool& pool, FirstBad& bad,
         bool check) {
  const int64_t groups = p.k / 4, panels = sk::sp24_panels(p.n), mr = kern.mr;
  // Whole panels per task; one row of x: at most the 4 the gemv kernel streams side by side.
  const int64_t per_task = p.m == 1 ? std::min<int64_t>(4, sk::linear_gemv_rows() / sk::kSp24PanelRows)
                                    : sk::sp24_n_block() / sk::kSp24PanelRows;
  const int64_t kg = sk::sp24_k_block_groups();
  const size_t esize = sk_dtype_size(p.w_type);
  pool.parallel_for(static_cast<size_t>((panels + per_task - 1) / per_task), [&](size_t t) {
    const int64_t p0 = static_cast<int64_t>(t) * per_task, p1 = std::min(panels, p0 + per_task);
    int64_t row = -1, group = -1;
    if (bad.seen()) return;
    if (p.m == 1) {  // the task's panels side by side; the kernel checks the codes as it streams them
      const int64_t n0 = p0 * sk::kSp24PanelRows, first = p0 * groups;
      const int64_t last_rows = std::min<int64_t>(8, p.n - (p1 - 1) * sk::kSp24PanelRows);
      const bool ok = kern.gemv(
          static_cast<size_t>(p1 - p0), static_cast<size_t>(last_rows), static_cast<size_t>(groups), p.x,
          static_cast<const uint8_t*>(p.w) + static_cast<size_t>(16 * first) * esize, static_cast<size_t>(16 * groups),
          p.meta + 4 * first, static_cast<size_t>(4 * groups), p.w_type, p.bias ? p.bias + n0 : nullptr, p.out + n0);
      if (!ok && sk::sp24_panels_first_bad(p.meta, p0, p1, groups, &row, &group)) bad.report(row, group);
      return;
    }
    if (check && sk::sp24_panels_first_bad(p.meta, p0, p1, groups, &row, &group)) return bad.report(row, group);
    for (int64_t g0 = 0; g0 < std::max<int64_t>(groups, 1); g0 += kg) {  // one pass when k == 0: out = bias
      const int64_t gc = std::min(kg, groups - g0);
      for (int64_t i = 0; i < p.m; i += mr)
        for (int64_t pn = p0; pn < p1; ++pn) {
          const int64_t n0 = pn * sk::kSp24PanelRows, first = pn * groups + g0;
          kern.fn(static_cast<size_t>(std::min(mr, p.m - i)), static_cast<size_t>(std::min<int64_t>(8, p.n - n0)),
                  static_cast<size_t>(gc), p.x + i * p.k + 4 * g0, static_cast<size_t>(p.k),
                  static_cast<const uint8_t*>(p.w) + static_cast<size_t>(16 * first) * esize, p.meta + 4 * first,
                  p.w_type, p.bias ? p.bias + n0 : nullptr, p.out + i * p.n + n0, static_cast<size_t>(p.n), g0 > 0);
        }
    }
  });
}

// Many rows of x: x in row panels of spmm_mr rows (sk::to_row_panel,
// zero-padded so the kernel always runs whole panels); a task (row panel,
// block of weight panels) runs K block by K block, each block's panel of x
// (16 KiB) staying in L1 while the task's weight rows pass over it, their
// sums kept in the task's part of yt, which then goes back to out's rows.
// Only row panel 0's tasks check the codes: any code stays inside its group,
// so the others may read invalid ones safely before the op reports them.
void run_spmm(const sk_linear_params& p, int64_t m, const sk_linear_sp24_kernel& kern, sk::ThreadPool& pool,
              FirstBad& bad) {
  const int64_t pw = kern.spmm_mr, groups = p.k / 4, panels = sk::sp24_panels(p.n);
  const int64_t row_panels = (m + pw - 1) / pw, per_task = sk::sp24_n_block() / sk::kSp24PanelRows;
  const int64_t chunks = (panels + per_task - 1) / per_task, kg = sk::sp24_spmm_k_block_groups(pw);
  const size_t esize = sk_dtype_size(p.w_type);
  sk::HostScratch<float> xt(static_cast<size_t>(row_panels * p.k * pw));
  sk::HostScratch<float> yt(static_cast<size_t>(row_panels * panels * sk::kSp24PanelRows * pw));
  if (!xt || !yt) throw std::bad_alloc();
  const int64_t k_step = 256, k_chunks = std::max<int64_t>(1, (p.k + k_step - 1) / k_step);
  pool.parallel_for(static_cast<size_t>(row_panels * k_chunks), [&](size_t t) {
    const int64_t rp = static_cast<int64_t>(t) / k_chunks, c0 = static_cast<int64_t>(t) % k_chunks * k_step;
    sk::to_row_panel(p.x + rp * pw * p.k, p.k, std::min(pw, m - rp * pw), c0, std::min(p.k, c0 + k_step), pw,
                     xt.get() + rp * p.k * pw, true);
  });
  pool.parallel_for(static_cast<size_t>(row_panels * chunks), [&](size_t t) {
    const int64_t rp = static_cast<int64_t>(t) / chunks, p0 = static_cast<int64_t>(t) % chunks * per_task;
    const int64_t p1 = std::min(panels, p0 + per_task);
    int64_t row = -1, group = -1;
    if (rp == 0 && sk::sp24_panels_first_bad(p.meta, p0, p1, groups, &row, &group)) return bad.report(row, group);
    if (bad.seen()) return;
    const float* x = xt.get() + rp * p.k * pw;
    float* y = yt.get() + rp * panels * sk::kSp24PanelRows * pw;
    for (int64_t g0 = 0; g0 < std::max<int64_t>(groups, 1); g0 += kg) {  // one pass when k == 0: out = bias
      const int64_t gc = std::min(kg, groups - g0);
      for (int64_t pn = p0; pn < p1; ++pn) {
        const int64_t n0 = pn * sk::kSp24PanelRows, first = pn * groups + g0;
        // The block the next call reads (the next panel's, or the first
        // panel's next K block): each is 64-byte lines a whole panel apart,
        // which the hardware prefetchers missed (perf: the kernel stalled on
        // each block's first value loads). Inline: in a helper function, GCC
        // found the helper free of side effects and dropped its calls.
        const int64_t next = pn + 1 < p1 ? first + groups : p0 * groups + g0 + kg;
        const int64_t next_groups = pn + 1 < p1 ? gc : std::min(kg, groups - g0 - kg);
        if (next_groups > 0) {
          const uint8_t* nv = static_cast<const uint8_t*>(p.w) + static_cast<size_t>(16 * next) * esize;
          for (int64_t b = 0; b < 16 * next_groups * static_cast<int64_t>(esize); b += 64) __builtin_prefetch(nv + b);
          __builtin_prefetch(p.meta + 4 * next);
        }
        kern.spmm(static_cast<size_t>(std::min<int64_t>(8, p.n - n0)), static_cast<size_t>(gc), x + 4 * g0 * pw,
                  static_cast<const uint8_t*>(p.w) + static_cast<size_t>(16 * first) * esize, p.meta + 4 * first,
                  p.w_type, p.bias ? p.bias + n0 : nullptr, y + n0 * pw, static_cast<size_t>(pw), g0 > 0);
      }
    }
    const int64_t m0 = rp * pw;
    sk::from_row_panel(y, std::min(pw, m - m0), p0 * sk::kSp24PanelRows, std::min(p.n, p1 * sk::kSp24PanelRows), pw,
                       p.out + m0 * p.n, p.n);
  });
}

}  // namespace

sk_status sk_cpu_linear_sp24_run(const sk_linear_params& p, const sk_linear_sp24_kernel& kern, sk::ThreadPool& pool,
                                 int64_t* bad_row, int64_t* bad_group) {
  *bad_row = *bad_group = -1;
  if (!kern.fn || !kern.gemv || !kern.spmm) return SK_ERR_UNSUPPORTED;
  if (p.m == 0 || p.n == 0) return SK_OK;
  FirstBad bad;
  try {
    const int64_t spmm_rows = sk::sp24_spmm_rows(p.m, kern.spmm_mr);
    if (spmm_rows > 0) run_spmm(p, spmm_rows, kern, pool, bad);
    if (spmm_rows < p.m && !bad.seen()) {  // the rest of the rows; their codes are checked if run_spmm did not
      sk_linear_params rest = p;
      rest.m = p.m - spmm_rows, rest.x = p.x + spmm_rows * p.k, rest.out = p.out + spmm_rows * p.n;
      run(rest, kern, pool, bad, spmm_rows == 0);
    }
  } catch (const std::bad_alloc&) {
    return SK_ERR_OUT_OF_MEMORY;
  }
  if (!bad.seen()) return SK_OK;
  *bad_row = bad.row.load(), *bad_group = bad.group;
  return SK_ERR_INVALID_ARGUMENT;
}
