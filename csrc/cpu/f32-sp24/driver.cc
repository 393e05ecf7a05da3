// The 2:4 linear driver (baseline code) and its pick(). Tasks own blocks of
// whole panels (csrc/core/sp24_meta.h), so each checks its panels' codes
// first (they are then in cache for the kernel) and a corrupted weight is
// refused without a second pass over memory. One row of x (decode) streams
// the task's panels side by side through the gemv kernel, which checks the
// codes as it reads them (a separate pass cost a tenth of the decode). More rows go K
// block by K block, then block of mr rows of x by block, then panel by panel:
// the rows' K block of x stays in L1 across the task's panels, and each
// panel's K block of values stays in L2 across the rows of x.
#include <algorithm>
#include <atomic>
#include <new>

#include "../../core/heuristics.h"
#include "../../core/sp24_meta.h"
#include "../dispatch.h"
#include "sp24.h"

#define SK_ISA_scalar_ID SK_ISA_SCALAR
#define SK_ISA_avx2_ID SK_ISA_AVX2
#define SK_ISA_avx512_ID SK_ISA_AVX512
#define SK_ISA_neon_ID SK_ISA_NEON

sk_linear24_kernel sk_cpu_linear24_pick(const sk_linear_params& p, sk_isa isa) {
  const sk_linear24_kernel none{nullptr, nullptr, 0, "none"};
  if (p.format != SK_WEIGHT_SP24 || p.k % 4 != 0) return none;
  if (p.w_type != SK_F32 && p.w_type != SK_F16 && p.w_type != SK_BF16) return none;
  if (p.m < 0 || p.n < 0 || p.k < 0) return none;
#define SK_SP24_UKERNEL(name, mr)                                                                    \
  if (isa == SK_ISA_##name##_ID)                                                                     \
    return {sk_f32_sp24_ukernel_##mr##x8__##name, sk_f32_sp24_gemv_ukernel__##name, mr,              \
            p.m == 1 ? "sk_f32_sp24_gemv_ukernel__" #name : "sk_f32_sp24_ukernel_" #mr "x8__" #name};
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
    while (lock.test_and_set(std::memory_order_acquire)) {
    }
    if (r < row.load()) row.store(r), group = g;
    lock.clear(std::memory_order_release);
  }
  bool seen() const { return row.load(std::memory_order_relaxed) != INT64_MAX; }
};

void run(const sk_linear_params& p, const sk_linear24_kernel& kern, sk::ThreadPool& pool, FirstBad& bad) {
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
      const bool ok =
          kern.gemv(static_cast<size_t>(p1 - p0), static_cast<size_t>(last_rows), static_cast<size_t>(groups), p.x,
                    static_cast<const uint8_t*>(p.w) + static_cast<size_t>(16 * first) * esize,
                    static_cast<size_t>(16 * groups), p.meta + 4 * first, static_cast<size_t>(4 * groups), p.w_type,
                    p.bias ? p.bias + n0 : nullptr, p.out + n0);
      if (!ok && sk::sp24_panels_first_bad(p.meta, p0, p1, groups, &row, &group)) bad.report(row, group);
      return;
    }
    if (sk::sp24_panels_first_bad(p.meta, p0, p1, groups, &row, &group)) return bad.report(row, group);
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

}  // namespace

sk_status sk_cpu_linear24_run(const sk_linear_params& p, const sk_linear24_kernel& kern, sk::ThreadPool& pool,
                              int64_t* bad_row, int64_t* bad_group) {
  *bad_row = *bad_group = -1;
  if (!kern.fn || !kern.gemv) return SK_ERR_UNSUPPORTED;
  if (p.m == 0 || p.n == 0) return SK_OK;
  FirstBad bad;
  try {
    run(p, kern, pool, bad);
  } catch (const std::bad_alloc&) {
    return SK_ERR_OUT_OF_MEMORY;
  }
  if (!bad.seen()) return SK_OK;
  *bad_row = bad.row.load(), *bad_group = bad.group;
  return SK_ERR_INVALID_ARGUMENT;
}
