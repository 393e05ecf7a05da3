// Micro-benchmark of every f32-spmm / f32-spmv micro-kernel this CPU runs
// (the lists in spmm.inc / spmv.inc, as XNNPACK's bench/spmm.cc), one thread,
// on MobileNet-v1 1×1 shapes and a linear slice, at a chosen sparsity.
// Reports XNNPACK's two counters: FLOPS = 2·M·nnz / time and EffFLOPS =
// 2·M·N·K / time (dense-equivalent). The production tile per block size in
// csrc/cpu/f32-spmm/driver.cc is chosen from these numbers.
//
//   build/Release/sk_spmm_bench [sparsity=0.8] [filter] [runs=20]
//
// On a noisy machine raise runs (best of more runs) and alternate builds.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <algorithm>
#include <chrono>
#include <vector>

#include "../../csrc/core/cpu_features.h"
#include "../../csrc/cpu/dispatch.h"

namespace {

#define SK_ISA_ID_scalar SK_ISA_SCALAR
#define SK_ISA_ID_avx2 SK_ISA_AVX2
#define SK_ISA_ID_avx512 SK_ISA_AVX512
#define SK_ISA_ID_neon SK_ISA_NEON

struct Shape {
  const char* name;
  int64_t n, k, m;  // output channels, input channels, rows (pixels)
};
constexpr Shape kShapes[] = {
    {"conv 256x256 @28x28", 256, 256, 784},
    {"conv 512x512 @14x14", 512, 512, 196},
    {"conv 1024x1024 @7x7", 1024, 1024, 49},
    {"linear slice 4096x128 M=64", 4096, 128, 64},
};

uint32_t next(uint32_t& s) { return s ^= s << 13, s ^= s >> 17, s ^= s << 5; }

struct Packed {
  std::vector<uint32_t> nnzmap;
  std::vector<int32_t> cols, dmap;
  std::vector<uint16_t> cols16;  // cols for the spmv16 kernels (every shape here has K ≤ 65536)
  std::vector<float> values;
  int64_t nnz = 0;
};

Packed pack(const Shape& s, int32_t nr, double sparsity, int64_t stride) {
  // One pattern per group of nr channels, so blocked kernels see full blocks (as from pair / quad pruning).
  std::vector<float> w(static_cast<size_t>(s.n * s.k));
  for (int64_t r = 0; r < s.n; ++r)
    for (int64_t c = 0; c < s.k; ++c) {
      uint32_t h = static_cast<uint32_t>((r / nr) * 0x9E3779B1u + c * 0x85EBCA77u + 1);
      next(h), next(h);
      w[r * s.k + c] = next(h) / 4294967296.0 < sparsity ? 0.0f : 1.0f + static_cast<float>(r % 7);
    }
  const sk_spmm_analysis a = sk_spmm_analyze(w.data(), s.n, s.k);
  const int i = nr == 1 ? 0 : nr == 2 ? 1 : 2;
  Packed p;
  p.nnz = a.nnz;
  p.nnzmap.resize(static_cast<size_t>(sk_spmm_groups(s.n, nr)));
  p.cols.resize(static_cast<size_t>(a.blocks[i]));
  p.values.resize(static_cast<size_t>(a.values[i]));
  sk_spmm_pack(w.data(), s.n, s.k, nr, p.nnzmap.data(), p.cols.data(), a.blocks[i], p.values.data(), a.values[i]);
  p.dmap.resize(p.cols.size() + 1);
  sk_spmm_build_dmap(p.cols.data(), a.blocks[i], s.k, stride, p.dmap.data());
  p.cols16.assign(p.cols.begin(), p.cols.end());
  return p;
}

int runs = 20;  // timed runs per kernel and shape (argv[3])

// Best of `reps` runs of fn, in seconds.
template <class Fn>
double best_of(int reps, Fn fn) {
  double best = 1e30;
  for (int r = 0; r < reps; ++r) {
    const auto t0 = std::chrono::steady_clock::now();
    fn();
    best = std::min(best, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
  return best;
}

// Times one SpMV kernel (run(p, x, y, n)) on a linear layer's one row of x.
template <class Run>
void time_spmv(const char* name, const char* filter, int32_t nr, double sparsity, Run run) {
  if (!strstr(name, filter)) return;
  const Shape gemv{"linear 4096x4096 M=1", 4096, 4096, 1};
  const Packed p = pack(gemv, nr, sparsity, 1);
  std::vector<float> x(static_cast<size_t>(gemv.k), 1.0f), y(static_cast<size_t>(gemv.n));
  const double t = best_of(runs, [&] { run(p, x.data(), y.data(), static_cast<size_t>(gemv.n)); });
  printf("%-34s %-28s %9.1f %9.1f %11.1f\n", name, gemv.name, t * 1e6, 2.0 * p.nnz / t / 1e9,
         2.0 * gemv.n * gemv.k / t / 1e9);
}

}  // namespace

int main(int argc, char** argv) {
  const double sparsity = argc > 1 ? atof(argv[1]) : 0.8;
  const char* filter = argc > 2 ? argv[2] : "";
  runs = argc > 3 ? std::max(1, atoi(argv[3])) : 20;
  const sk_cpu_features f = sk_cpu_detect();
  printf("%-34s %-28s %9s %9s %11s\n", "kernel", "shape", "us", "GFLOPS", "EffGFLOPS");
  const sk_spmm_epilogue none{-1e30f, 1e30f};
  for (const Shape& s : kShapes) {
#define SK_SPMM_UKERNEL(isa, mr, nr)                                                                                   \
  if (sk_isa_supported(SK_ISA_ID_##isa, f) && strstr("sk_f32_spmm_ukernel_" #mr "x" #nr "__" #isa, filter)) {          \
    Packed p = pack(s, nr, sparsity, s.m);                                                                             \
    std::vector<float> x(static_cast<size_t>(s.k * s.m), 1.0f), y(static_cast<size_t>(s.n * s.m));                     \
    const float* in = p.cols.empty() ? x.data() : x.data() + p.cols[0] * s.m;                                          \
    const double t = best_of(runs, [&] {                                                                               \
      sk_f32_spmm_ukernel_##mr##x##nr##__##isa(s.m, s.n, in, p.values.data(), p.dmap.data(), p.nnzmap.data(), nullptr, \
                                               y.data(), s.m, &none);                                                  \
    });                                                                                                                \
    printf("%-34s %-28s %9.1f %9.1f %11.1f\n", "sk_f32_spmm_ukernel_" #mr "x" #nr "__" #isa, s.name, t * 1e6,          \
           2.0 * s.m * p.nnz / t / 1e9, 2.0 * s.m * s.n * s.k / t / 1e9);                                              \
  }
#include "../../csrc/cpu/f32-spmm/spmm.inc"
#undef SK_SPMM_UKERNEL
  }
  const sk_spmm_epilogue* mm = &none;
#define SK_SPMV_UKERNEL(isa, nr)                                                                                       \
  if (sk_isa_supported(SK_ISA_ID_##isa, f)) {                                                                          \
    time_spmv("sk_f32_spmv_ukernel_1x" #nr "__" #isa, filter, nr, sparsity,                                            \
              [mm](const Packed& p, const float* x, float* y, size_t n) {                                              \
                sk_f32_spmv_ukernel_1x##nr##__##isa(n, x, p.values.data(), p.cols.data(), p.nnzmap.data(), nullptr, y, \
                                                    mm);                                                               \
              });                                                                                                      \
    time_spmv("sk_f32_spmv16_ukernel_1x" #nr "__" #isa, filter, nr, sparsity,                                          \
              [mm](const Packed& p, const float* x, float* y, size_t n) {                                              \
                sk_f32_spmv16_ukernel_1x##nr##__##isa(n, x, p.values.data(), p.cols16.data(), p.nnzmap.data(),         \
                                                      nullptr, y, mm);                                                 \
              });                                                                                                      \
  }
#include "../../csrc/cpu/f32-spmv/spmv.inc"
#undef SK_SPMV_UKERNEL
  return 0;
}
