// The 2:4 linear driver (baseline code) and its pick(). m == 1 (decode):
// weight rows split over the threads, each streamed once through the gemv.
// m > 1: x is packed transposed in blocks of MR rows ([K][MR] per block), and
// each task takes a block of weight rows through every row block of x, K
// block by K block, so its values and codes stay in L2 and the xᵀ block in
// L1. Every task checks the codes of its rows first (they are then in cache
// for the kernel), so a corrupted weight is refused without a second pass
// over memory.
#include <string.h>

#include <algorithm>
#include <atomic>
#include <memory>
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
  const sk_linear24_kernel none{nullptr, nullptr, 0, 0, "none"};
  if (p.format != SK_WEIGHT_SP24 || p.k % 4 != 0) return none;
  if (p.w_type != SK_F32 && p.w_type != SK_F16 && p.w_type != SK_BF16) return none;
  if (p.m < 0 || p.n < 0 || p.k < 0) return none;
  // This ISA's tiles, largest first (sp24.inc); the smallest with mr ≥ min(m, largest mr).
  sk_linear24_kernel tiles[4];
  int n = 0;
#define SK_SP24_UKERNEL(name, mr, nr)                                                                             \
  if (isa == SK_ISA_##name##_ID && n < 4)                                                                         \
    tiles[n++] = {sk_f32_sp24gemm_ukernel_##mr##x##nr##__##name, sk_f32_sp24gemv_ukernel__##name, mr, nr,        \
                  p.m == 1 ? "sk_f32_sp24gemv_ukernel__" #name : "sk_f32_sp24gemm_ukernel_" #mr "x" #nr "__" #name};
#include "sp24.inc"
#undef SK_SP24_UKERNEL
  if (n == 0) return none;
  const int64_t want = p.m < tiles[0].mr ? p.m : tiles[0].mr;
  int best = 0;
  for (int i = 1; i < n; ++i)
    if (tiles[i].mr >= want && tiles[i].mr < tiles[best].mr) best = i;
  return tiles[best];
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

bool rows_valid(const sk_linear_params& p, int64_t r0, int64_t rc, FirstBad& bad) {
  const int64_t groups = p.k / 4, mbytes = (groups + 1) / 2;
  for (int64_t r = r0; r < r0 + rc; ++r) {
    const int64_t g = sk::sp24_row_first_bad(p.meta + r * mbytes, groups);
    if (g >= 0) {
      bad.report(r, g);
      return false;
    }
  }
  return true;
}

void run_gemv(const sk_linear_params& p, const sk_linear24_kernel& kern, sk::ThreadPool& pool, FirstBad& bad) {
  const int64_t rows = sk::linear_gemv_rows(), half = p.k / 2, mbytes = (p.k / 4 + 1) / 2;
  const size_t esize = sk_dtype_size(p.w_type);
  pool.parallel_for(static_cast<size_t>((p.n + rows - 1) / rows), [&](size_t t) {
    const int64_t r0 = static_cast<int64_t>(t) * rows, rc = std::min(rows, p.n - r0);
    if (bad.seen() || !rows_valid(p, r0, rc, bad)) return;
    kern.gemv(static_cast<size_t>(rc), static_cast<size_t>(p.k), p.x,
              static_cast<const uint8_t*>(p.w) + static_cast<size_t>(r0 * half) * esize, p.meta + r0 * mbytes, p.w_type,
              p.bias ? p.bias + r0 : nullptr, p.out + r0);
  });
}

void run_gemm(const sk_linear_params& p, const sk_linear24_kernel& kern, sk::ThreadPool& pool, FirstBad& bad) {
  const int64_t mr = kern.mr, nr = kern.nr, m_blocks = (p.m + mr - 1) / mr;
  const int64_t groups = p.k / 4, half = p.k / 2, mbytes = (groups + 1) / 2;
  const int64_t kg = sk::sp24_k_block_groups(kern.mr), nb = sk::sp24_n_block() / nr * nr;
  const size_t esize = sk_dtype_size(p.w_type);
  // xᵀ, block by block of mr rows: xt[b][k][i] = x[b·mr + i][k], zero past m.
  const size_t xt_floats = static_cast<size_t>(m_blocks * p.k * mr);
  std::unique_ptr<float[]> xt(new float[xt_floats + 16]);
  float* xt0 = xt.get() + (16 - reinterpret_cast<uintptr_t>(xt.get()) / sizeof(float) % 16) % 16;
  const int64_t kchunk = 256;
  const int64_t k_chunks = (p.k + kchunk - 1) / kchunk;
  pool.parallel_for(static_cast<size_t>(m_blocks * k_chunks), [&](size_t t) {
    const int64_t b = static_cast<int64_t>(t) / k_chunks, k0 = static_cast<int64_t>(t) % k_chunks * kchunk;
    const int64_t k1 = std::min(p.k, k0 + kchunk), rows = std::min(mr, p.m - b * mr);
    float* dst = xt0 + b * p.k * mr;
    for (int64_t k = k0; k < k1; ++k) {
      for (int64_t i = 0; i < rows; ++i) dst[k * mr + i] = p.x[(b * mr + i) * p.k + k];
      for (int64_t i = rows; i < mr; ++i) dst[k * mr + i] = 0.0f;
    }
  });
  const size_t tasks = static_cast<size_t>((p.n + nb - 1) / nb);
  const size_t threads = std::min<size_t>(static_cast<size_t>(pool.threads()), tasks);
  const size_t ct_floats = static_cast<size_t>(nb * mr) + 16;
  std::unique_ptr<float[]> scratch(new float[ct_floats * threads]);
  std::atomic<size_t> next{0};
  pool.parallel_for(threads, [&](size_t th) {
    float* ct = scratch.get() + th * ct_floats;
    ct += (16 - reinterpret_cast<uintptr_t>(ct) / sizeof(float) % 16) % 16;
    for (size_t task = next.fetch_add(1); task < tasks; task = next.fetch_add(1)) {
      const int64_t n0 = static_cast<int64_t>(task) * nb, nc = std::min(nb, p.n - n0);
      if (bad.seen() || !rows_valid(p, n0, nc, bad)) return;
      for (int64_t b = 0; b < m_blocks; ++b) {
        const float* xb = xt0 + b * p.k * mr;
        if (groups == 0) memset(ct, 0, static_cast<size_t>(nc * mr) * sizeof(float));
        for (int64_t g0 = 0; g0 < groups; g0 += kg) {
          const int64_t gc = std::min(kg, groups - g0);
          for (int64_t j = 0; j < nc; j += nr)
            kern.gemm(static_cast<size_t>(std::min(nr, nc - j)), static_cast<size_t>(gc), xb + 4 * g0 * mr,
                      static_cast<const uint8_t*>(p.w) + static_cast<size_t>((n0 + j) * half + 2 * g0) * esize,
                      static_cast<size_t>(half), p.meta + (n0 + j) * mbytes + g0 / 2, static_cast<size_t>(mbytes),
                      p.w_type, ct + j * mr, g0 > 0);
        }
        const int64_t rows = std::min(mr, p.m - b * mr);
        for (int64_t i = 0; i < rows; ++i) {
          float* o = p.out + (b * mr + i) * p.n + n0;
          for (int64_t j = 0; j < nc; ++j) o[j] = ct[j * mr + i] + (p.bias ? p.bias[n0 + j] : 0.0f);
        }
      }
    }
  });
}

}  // namespace

sk_status sk_cpu_linear24_run(const sk_linear_params& p, const sk_linear24_kernel& kern, sk::ThreadPool& pool,
                              int64_t* bad_row, int64_t* bad_group) {
  *bad_row = *bad_group = -1;
  if (!kern.gemm) return SK_ERR_UNSUPPORTED;
  if (p.m == 0 || p.n == 0) return SK_OK;
  FirstBad bad;
  try {
    if (p.m == 1) run_gemv(p, kern, pool, bad);
    else run_gemm(p, kern, pool, bad);
  } catch (const std::bad_alloc&) {
    return SK_ERR_OUT_OF_MEMORY;
  }
  if (!bad.seen()) return SK_OK;
  *bad_row = bad.row.load(), *bad_group = bad.group;
  return SK_ERR_INVALID_ARGUMENT;
}
