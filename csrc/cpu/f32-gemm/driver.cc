// The dense linear driver (baseline code) and its pick(): packs weight
// panels with the ISA's packw (converting float16 / bfloat16 to float32 as it
// packs) and runs the
// chosen ISA's register tiles over them, GotoBLAS-style, or streams the
// weights once through the gemv when x has one row.
#include <string.h>

#include <algorithm>
#include <atomic>
#include <memory>
#include <new>
#include <vector>

#include "../../core/heuristics.h"
#include "../../core/host_alloc.h"
#include "../dispatch.h"
#include "gemm.h"

sk_linear_kernel sk_cpu_linear_pick(const sk_linear_params& p, sk_isa isa) {
  const sk_linear_kernel none{nullptr, nullptr, nullptr, 0, 0, "none"};
  if (p.format != SK_WEIGHT_DENSE) return none;
  if (p.w_type != SK_F32 && p.w_type != SK_F16 && p.w_type != SK_BF16) return none;
  if (p.m < 0 || p.n < 0 || p.k < 0) return none;
  switch (isa) {
#define SK_GEMM_UKERNEL(name, mr, nr)                                                                                  \
  case SK_ISA_##name##_ID:                                                                                             \
    return {sk_f32_gemm_ukernel_##mr##x##nr##__##name,                                                                 \
            sk_f32_gemv_ukernel__##name,                                                                               \
            sk_f32_packw_ukernel_x##nr##__##name,                                                                      \
            mr,                                                                                                        \
            nr,                                                                                                        \
            p.m == 1 ? "sk_f32_gemv_ukernel__" #name : "sk_f32_gemm_ukernel_" #mr "x" #nr "__" #name};
#include "gemm.inc"
#undef SK_GEMM_UKERNEL
    default: return none;
  }
}

namespace {

struct Scratch {
  std::unique_ptr<float[]> mem;
  float* at(size_t t, size_t floats) const { return mem.get() + t * floats; }
};

sk_status run_gemm(const sk_linear_params& p, const sk_linear_kernel& kern, sk::ThreadPool& pool) {
  const int64_t kb = sk::linear_k_block(), nb = sk::linear_n_block(), mb = sk::linear_m_block();
  const int nr = kern.nr, mr = kern.mr;
  const size_t esize = sk_dtype_size(p.w_type);
  const int64_t m_tasks = (p.m + mb - 1) / mb, n_tasks = (p.n + nb - 1) / nb;
  const size_t tasks = static_cast<size_t>(m_tasks * n_tasks);
  const size_t threads = std::min<size_t>(static_cast<size_t>(pool.threads()), tasks);
  // Per thread: the packed panels of one task's k block, and its bias padded to whole panels.
  const size_t panel_floats = static_cast<size_t>(kb * nb), bias_floats = static_cast<size_t>(nb);
  const size_t per_thread = panel_floats + bias_floats + 16;
  Scratch s{std::unique_ptr<float[]>(new float[per_thread * threads + 16])};
  std::atomic<size_t> next{0};
  pool.parallel_for(threads, [&](size_t t) {
    float* bp = s.at(t, per_thread);
    bp += (16 - reinterpret_cast<uintptr_t>(bp) / sizeof(float) % 16) % 16;  // 64-byte aligned panels
    float* bias = bp + panel_floats;
    for (size_t task = next.fetch_add(1); task < tasks; task = next.fetch_add(1)) {
      const int64_t m0 = static_cast<int64_t>(task) / n_tasks * mb, n0 = static_cast<int64_t>(task) % n_tasks * nb;
      const int64_t mc = std::min(mb, p.m - m0), ncols = std::min(nb, p.n - n0);
      const int64_t panels = (ncols + nr - 1) / nr;
      if (p.bias) {
        memset(bias, 0, static_cast<size_t>(panels * nr) * sizeof(float));
        memcpy(bias, p.bias + n0, static_cast<size_t>(ncols) * sizeof(float));
      }
      if (p.k == 0) {  // no products: the bias (or zeros) alone
        for (int64_t i = 0; i < mc; ++i)
          for (int64_t j = 0; j < ncols; ++j) p.out[(m0 + i) * p.n + n0 + j] = p.bias ? bias[j] : 0.0f;
        continue;
      }
      for (int64_t k0 = 0; k0 < p.k; k0 += kb) {
        const int64_t kc = std::min(kb, p.k - k0);
        for (int64_t pj = 0; pj < panels; ++pj)
          kern.packw(static_cast<size_t>(std::min<int64_t>(nr, ncols - pj * nr)), static_cast<size_t>(kc),
                     static_cast<const uint8_t*>(p.w) + static_cast<size_t>((n0 + pj * nr) * p.k + k0) * esize,
                     static_cast<size_t>(p.k), p.w_type, bp + pj * kc * nr);
        for (int64_t pj = 0; pj < panels; ++pj) {
          const int64_t nc = std::min<int64_t>(nr, ncols - pj * nr);
          for (int64_t i = 0; i < mc; i += mr)
            kern.gemm(static_cast<size_t>(std::min<int64_t>(mr, mc - i)), static_cast<size_t>(nc),
                      static_cast<size_t>(kc), p.x + (m0 + i) * p.k + k0, static_cast<size_t>(p.k), bp + pj * kc * nr,
                      p.bias ? bias + pj * nr : nullptr, p.out + (m0 + i) * p.n + n0 + pj * nr,
                      static_cast<size_t>(p.n), k0 > 0);
        }
      }
    }
  });
  return SK_OK;
}

sk_status run_gemv(const sk_linear_params& p, const sk_linear_kernel& kern, sk::ThreadPool& pool) {
  const int64_t rows = sk::linear_gemv_rows();
  const size_t tasks = static_cast<size_t>((p.n + rows - 1) / rows);
  const size_t esize = sk_dtype_size(p.w_type);
  pool.parallel_for(tasks, [&](size_t t) {
    const int64_t r0 = static_cast<int64_t>(t) * rows, rc = std::min(rows, p.n - r0);
    kern.gemv(static_cast<size_t>(rc), static_cast<size_t>(p.k), p.x,
              static_cast<const uint8_t*>(p.w) + static_cast<size_t>(r0 * p.k) * esize, p.w_type,
              p.bias ? p.bias + r0 : nullptr, p.out + r0);
  });
  return SK_OK;
}

}  // namespace

sk_status sk_cpu_linear_run(const sk_linear_params& p, const sk_linear_kernel& kern, sk::ThreadPool& pool) {
  if (!kern.gemm || p.m == 0 || p.n == 0) return kern.gemm ? SK_OK : SK_ERR_UNSUPPORTED;
  try {
    // Each row of x is one gemv: for m == 1 (decode) the weights stream once, bandwidth-bound.
    if (p.m == 1) return run_gemv(p, kern, pool);
    return run_gemm(p, kern, pool);
  } catch (const std::bad_alloc&) {
    return SK_ERR_OUT_OF_MEMORY;
  }
}
