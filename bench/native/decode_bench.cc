// Micro-benchmark of every decode kernel set this CPU runs (csrc/cpu/f32-
// decode/decode.inc), one thread, pages in cache: one task over one KV head's
// pages for `rows` query rows (GQA group × Tq), per page type; and Quest's
// page scoring. Reports ns per key / value element read (2·T·D elements),
// which against the FMA floor (rows FMA lanes per element) shows how much of
// a kernel's time is arithmetic, widening and overhead.
//
//   build/Release/sk_decode_bench [tokens=512] [rows=4] [filter] [runs=200]
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <algorithm>
#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "../../csrc/core/cpu_features.h"
#include "../../csrc/core/kv_pages.h"
#include "../../csrc/core/threadpool.h"
#include "../../csrc/cpu/dispatch.h"
#include "../../csrc/cpu/f32-decode/f32-decode.h"

namespace {

#define SK_ISA_ID_scalar SK_ISA_SCALAR
#define SK_ISA_ID_avx2 SK_ISA_AVX2
#define SK_ISA_ID_avx512 SK_ISA_AVX512
#define SK_ISA_ID_neon SK_ISA_NEON

constexpr int64_t kDims = 128, kPage = 16;

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

struct Bench {
  std::shared_ptr<sk::KvPages> pages;
  std::vector<uint8_t*> kv, meta;
  int64_t stride = 0;
};

// One KV head of `tokens` random keys and values in pages of `type`, written by the scalar append.
Bench fill(sk_dtype type, int64_t tokens, sk::ThreadPool& pool) {
  Bench b;
  b.pages = std::make_shared<sk::KvPages>(sk::KvConfig{type, 1, 1, kDims, kPage, 1 << 20}, [](size_t bytes) {
    auto* p = static_cast<uint8_t*>(calloc(1, bytes));
    return sk::KvPages::Slab(p, [](uint8_t* q) { free(q); });
  });
  std::vector<float> x(static_cast<size_t>(tokens * kDims));
  uint32_t s = 1;
  for (float& v : x) s ^= s << 13, s ^= s >> 17, s ^= s << 5, v = static_cast<float>(s) / 4294967296.0f - 0.5f;
  const int64_t start = 0, count = tokens;
  std::string why;
  b.pages->append(&count, &why);
  b.pages->tables(&b.kv, &b.meta, &b.stride);
  sk_kv_append_params p{};
  p.k = p.v = x.data(), p.in_type = SK_F32, p.batch = 1, p.seq = tokens;
  p.k_stride_b = p.v_stride_b = p.k_stride_h = p.v_stride_h = tokens * kDims, p.k_stride_s = p.v_stride_s = kDims;
  p.start = &start, p.count = &count, p.cache = b.pages->view(b.kv, b.meta, b.stride);
  sk_cpu_kv_append_run(p, sk_cpu_cast_pick(sk_cast_params{nullptr, nullptr, 0, SK_F32, type, true}, SK_ISA_SCALAR).fn,
                       pool);
  return b;
}

}  // namespace

int main(int argc, char** argv) {
  const int64_t tokens = argc > 1 ? std::max(16, atoi(argv[1])) : 512, rows = argc > 2 ? std::max(1, atoi(argv[2])) : 4;
  const char* filter = argc > 3 ? argv[3] : "";
  const int runs = argc > 4 ? std::max(1, atoi(argv[4])) : 200;
  const sk_cpu_features f = sk_cpu_detect();
  sk::ThreadPool pool(1);
  printf("%-34s %-13s %9s %11s %13s\n", "kernel", "pages", "us", "ns/element", "quest ns/page");
  for (sk_dtype type : {SK_F32, SK_F16, SK_BF16, SK_F8E4M3FN}) {
    Bench b = fill(type, tokens, pool);
    const int64_t n = sk::kv_pages_for(tokens, kPage);
    std::vector<int32_t> index(static_cast<size_t>(n));
    for (int64_t i = 0; i < n; ++i) index[i] = static_cast<int32_t>(i);
    std::vector<float> q(static_cast<size_t>(rows * kDims), 0.01f), state(static_cast<size_t>(rows * (kDims + 2)));
    std::vector<float> scratch(sk_decode_scratch_floats(rows, kPage)), bounds(2 * kDims, 0.02f), score(n);
    sk_decode_task t{};
    t.q = q.data(), t.kv = b.kv.data(), t.meta = b.meta.data(), t.page_index = index.data(),
    t.count = static_cast<int32_t>(n);
    t.rows = static_cast<int32_t>(rows), t.seq_q = 1, t.g = 0, t.length = tokens,
    t.cache = b.pages->view(b.kv, b.meta, b.stride);
    t.m = state.data(), t.l = state.data() + rows, t.o = state.data() + 2 * rows;
#define SK_DECODE_UKERNEL(isa, smr, snv, pmr, pdv)                                                                     \
  if (sk_isa_supported(SK_ISA_ID_##isa, f) && strstr("sk_f32_decode_ukernel__" #isa, filter)) {                        \
    const double td = best_of(runs, [&] { sk_f32_decode_ukernel__##isa(&t, scratch.data()); });                        \
    const sk_quest_score_job j{bounds.data(), b.meta.data(), n, 0, 1, &t.cache, score.data(), 1};                      \
    const double tq = best_of(runs, [&] { sk_f32_quest_score_ukernel__##isa(&j); });                                   \
    printf("%-34s %-13s %9.2f %11.4f %13.2f\n", "sk_f32_decode_ukernel__" #isa, sk_dtype_name(type), td * 1e6,         \
           td * 1e9 / (2.0 * tokens * kDims), tq * 1e9 / n);                                                           \
  }
#include "../../csrc/cpu/f32-decode/decode.inc"
#undef SK_DECODE_UKERNEL
  }
  return 0;
}
