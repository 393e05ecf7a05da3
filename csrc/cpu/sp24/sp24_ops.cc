#include "sp24_ops.h"

#include <string.h>

#include <algorithm>
#include <atomic>
#include <new>
#include <vector>

#include "../../core/sp24_meta.h"

namespace {

constexpr int64_t kRowsPerTask = 16;  // rows are short enough that a task must take several: whole panels

// Magnitude order on the raw bits: sign cleared, larger magnitude = larger
// code for float32, float16 and bfloat16 alike (NaN above Inf). A code of 0 is ±0.
template <class Bits>
inline uint32_t magnitude(Bits b);
template <>
inline uint32_t magnitude(uint32_t b) {
  return b & 0x7FFFFFFFu;
}
template <>
inline uint32_t magnitude(uint16_t b) {
  return b & 0x7FFFu;
}

template <class Bits>
void prune_rows(const sk_sp24_params& p, int64_t r0, int64_t r1) {
  const Bits* in = static_cast<const Bits*>(p.dense_in);
  Bits* out = static_cast<Bits*>(p.dense_out);
  const int m = p.group, n = p.n_keep;
  for (int64_t r = r0; r < r1; ++r)
    for (int64_t g = 0; g < p.k; g += m) {
      const Bits* src = in + r * p.k + g;
      Bits* dst = out + r * p.k + g;
      for (int i = 0; i < m; ++i) {
        // rank: how many elements beat i (larger magnitude, or equal and earlier)
        const uint32_t mi = magnitude(src[i]);
        int rank = 0;
        for (int j = 0; j < m; ++j) {
          const uint32_t mj = magnitude(src[j]);
          rank += mj > mi || (mj == mi && j < i);
        }
        dst[i] = rank < n ? src[i] : Bits(0);
      }
    }
}

// Writes the panel layout (csrc/core/sp24_meta.h) of one row; returns the
// first group with more than 2 non-zeros, or -1. The row's panel was cleared
// to code 0x4 and zero values first (what padding rows keep).
template <class Bits>
int64_t compress_row(const Bits* src, int64_t row, int64_t k, Bits* values, uint8_t* meta) {
  const int64_t groups = k / 4;
  for (int64_t g = 0; g < groups; ++g) {
    const Bits* s = src + 4 * g;
    int nz[4], n_nz = 0, zeros[4], n_zero = 0;
    for (int i = 0; i < 4; ++i) (magnitude(s[i]) ? nz[n_nz++] : zeros[n_zero++]) = i;
    if (n_nz > 2) return g;
    // Fill up with the lowest-index zeros, then order: the pair stays valid (i0 < i1).
    int keep[2] = {0, 0}, n_keep = 0;
    for (int i = 0; i < n_nz; ++i) keep[n_keep++] = nz[i];
    for (int i = 0; n_keep < 2; ++i) keep[n_keep++] = zeros[i];
    if (keep[0] > keep[1]) std::swap(keep[0], keep[1]);
    values[sk::sp24_value_at(row, g, 0, groups)] = s[keep[0]];
    values[sk::sp24_value_at(row, g, 1, groups)] = s[keep[1]];
    sk::sp24_set_code(meta, row, g, groups, static_cast<uint32_t>(keep[0] | (keep[1] << 2)));
  }
  return -1;
}

template <class Bits>
void decompress_row(const Bits* values, const uint8_t* meta, int64_t row, int64_t k, Bits* dst) {
  const int64_t groups = k / 4;
  for (int64_t g = 0; g < groups; ++g) {
    const uint32_t code = sk::sp24_code(meta, row, g, groups);
    Bits* d = dst + 4 * g;
    d[0] = d[1] = d[2] = d[3] = Bits(0);
    d[code & 3u] = values[sk::sp24_value_at(row, g, 0, groups)];
    d[code >> 2] = values[sk::sp24_value_at(row, g, 1, groups)];
  }
}

// Compresses or decompresses panels [p0, p1); returns the first bad row (its
// group in *bad_group), or -1. Decompressing checks the panels' codes first.
template <class Bits>
int64_t run_panels(const sk_sp24_params& p, int64_t p0, int64_t p1, int64_t* bad_group) {
  const int64_t groups = p.k / 4, r0 = p0 * sk::kSp24PanelRows, r1 = std::min(p.rows, p1 * sk::kSp24PanelRows);
  Bits* values = static_cast<Bits*>(p.values);
  if (p.op == SK_SP24_DECOMPRESS) {
    int64_t row = -1;
    if (sk::sp24_panels_first_bad(p.meta, p0, p1, groups, &row, bad_group)) return row;
    for (int64_t r = r0; r < r1; ++r) decompress_row(values, p.meta, r, p.k, static_cast<Bits*>(p.dense_out) + r * p.k);
    return -1;
  }
  // Padding rows keep this: code 0x4 (positions 0 and 1) and zero values.
  memset(p.meta + 4 * p0 * groups, 0x44, static_cast<size_t>(4 * (p1 - p0) * groups));
  const int64_t per_panel = 2 * sk::kSp24PanelRows * groups;  // values of one panel
  memset(values + per_panel * p0, 0, static_cast<size_t>(per_panel * (p1 - p0)) * sizeof(Bits));
  for (int64_t r = r0; r < r1; ++r) {
    const int64_t g = compress_row(static_cast<const Bits*>(p.dense_in) + r * p.k, r, p.k, values, p.meta);
    if (g >= 0) {
      *bad_group = g;
      return r;
    }
  }
  return -1;
}

template <class Bits>
sk_status run(sk_sp24_params& p, sk::ThreadPool& pool) {
  const int64_t tasks = (p.rows + kRowsPerTask - 1) / kRowsPerTask;
  // The lowest failing task wins, so the error names the first bad row whatever the schedule.
  std::atomic<int64_t> first_bad_task{tasks};
  std::vector<int64_t> bad_row(static_cast<size_t>(tasks), -1), bad_group(static_cast<size_t>(tasks), -1);
  pool.parallel_for(static_cast<size_t>(tasks), [&](size_t t) {
    const int64_t r0 = static_cast<int64_t>(t) * kRowsPerTask, r1 = std::min(p.rows, r0 + kRowsPerTask);
    if (p.op == SK_SP24_PRUNE) return prune_rows<Bits>(p, r0, r1);
    if (static_cast<int64_t>(t) > first_bad_task.load(std::memory_order_relaxed))
      return;  // an earlier row failed already
    int64_t g = -1;
    constexpr int64_t kPanels = kRowsPerTask / sk::kSp24PanelRows;
    const int64_t p0 = r0 / sk::kSp24PanelRows;
    const int64_t r = run_panels<Bits>(p, p0, std::min(sk::sp24_panels(p.rows), p0 + kPanels), &g);
    if (r >= 0) {
      bad_row[t] = r, bad_group[t] = g;
      int64_t cur = first_bad_task.load();
      while (static_cast<int64_t>(t) < cur && !first_bad_task.compare_exchange_weak(cur, static_cast<int64_t>(t))) {}
    }
  });
  const int64_t t = first_bad_task.load();
  if (t == tasks) return SK_OK;
  p.bad_row = bad_row[static_cast<size_t>(t)];
  p.bad_group = bad_group[static_cast<size_t>(t)];
  return SK_ERR_INVALID_ARGUMENT;
}

}  // namespace

sk_status sk_cpu_sp24_run(sk_sp24_params& p, sk::ThreadPool& pool) {
  p.bad_row = p.bad_group = -1;
  if (p.rows < 0 || p.k < 0) return SK_ERR_UNSUPPORTED;
  if (p.op == SK_SP24_PRUNE) {
    if (p.group < 1 || p.group > 64 || p.n_keep < 1 || p.n_keep > p.group || p.k % p.group != 0)
      return SK_ERR_UNSUPPORTED;
  } else if (p.op == SK_SP24_COMPRESS || p.op == SK_SP24_DECOMPRESS) {
    if (p.k % 4 != 0) return SK_ERR_UNSUPPORTED;
  } else {
    return SK_ERR_UNSUPPORTED;
  }
  if (p.rows == 0 || p.k == 0) return SK_OK;
  try {
    switch (p.dtype) {
      case SK_F32: return run<uint32_t>(p, pool);
      case SK_F16:
      case SK_BF16: return run<uint16_t>(p, pool);
      default: return SK_ERR_UNSUPPORTED;
    }
  } catch (const std::bad_alloc&) {
    return SK_ERR_OUT_OF_MEMORY;
  }
}
