// Packing, block choice, the checks packed arrays pass when they cross from
// JS, and the driver (conv1x1 and linear layouts, SpMM and SpMV paths) on the
// thread pool for every kernel set this CPU runs, against float64 loops
// (budget 1e-5 · (1 + |ref|)).
#include <math.h>
#include <stdint.h>
#include <string.h>

#include <vector>

#include "../../csrc/core/cpu_features.h"
#include "../../csrc/core/heuristics.h"
#include "../../csrc/core/threadpool.h"
#include "../../csrc/cpu/dispatch.h"
#include "check.h"
#include "helpers.h"

using sktest::isas_here;
using sktest::Rng;

SK_TEST(spmm_analyze_counts_blocks_and_fill) {
  // 5 × 3: rows 0-3 form one group of 4 (or two of 2); row 4 is a remainder channel.
  const float w[] = {1, 0, 0,      //
                     2, 0, 0,      //
                     0, 0, -0.0f,  // -0 counts as zero
                     3, 0, NAN,    // NaN is stored
                     0, 4, 0};
  const sk_spmm_analysis a = sk_spmm_analyze(w, 5, 3);
  CHECK(a.nnz == 5, "nnz %lld", static_cast<long long>(a.nnz));
  CHECK(a.blocks[0] == 5 && a.values[0] == 5, "nr 1");
  CHECK(a.full_blocks[1] == 3 && a.full_nnz[1] == 4 && a.blocks[1] == 4 && a.values[1] == 7,
        "nr 2: %lld %lld %lld %lld", static_cast<long long>(a.full_blocks[1]), static_cast<long long>(a.full_nnz[1]),
        static_cast<long long>(a.blocks[1]), static_cast<long long>(a.values[1]));
  CHECK(a.full_blocks[2] == 2 && a.full_nnz[2] == 4 && a.blocks[2] == 3 && a.values[2] == 9, "nr 4");
  CHECK(sk_spmm_choose_nr(a) == 1, "fill 50%% picks blocks of 1");
  std::vector<float> dense4(8 * 16, 1.0f);  // every block full
  CHECK(sk_spmm_choose_nr(sk_spmm_analyze(dense4.data(), 8, 16)) == 4, "full blocks pick 4");
  std::vector<float> pairs(8 * 16, 0.0f);  // pairs of rows full, quads half
  for (int r = 0; r < 8; ++r)
    for (int c = 0; c < 16; ++c) pairs[r * 16 + c] = (r / 2 + c) % 2 == 0 ? 1.0f : 0.0f;
  CHECK(sk_spmm_choose_nr(sk_spmm_analyze(pairs.data(), 8, 16)) == 2, "pair-structured rows pick 2");
}

SK_TEST(spmm_check_rejects_corrupted_arrays) {
  char why[256];
  std::vector<int64_t> gb(4), gv(4);
  uint32_t nnz[3] = {2, 1, 0};
  int32_t cols[3] = {0, 4, 2};
  CHECK(sk_spmm_check(3, 5, 1, nnz, 3, cols, 3, 3, gb.data(), gv.data(), why) == SK_OK, "valid: %s", why);
  CHECK(gb[3] == 3 && gv[1] == 2, "prefix sums");
  int32_t oob[3] = {0, 5, 2};
  CHECK(sk_spmm_check(3, 5, 1, nnz, 3, oob, 3, 3, gb.data(), gv.data(), why) == SK_ERR_INVALID_ARGUMENT, "column = k");
  int32_t neg[3] = {-1, 4, 2};
  CHECK(sk_spmm_check(3, 5, 1, nnz, 3, neg, 3, 3, gb.data(), gv.data(), why) == SK_ERR_INVALID_ARGUMENT,
        "negative column");
  int32_t down[3] = {4, 0, 2};
  CHECK(sk_spmm_check(3, 5, 1, nnz, 3, down, 3, 3, gb.data(), gv.data(), why) == SK_ERR_INVALID_ARGUMENT, "decreasing");
  uint32_t big[3] = {0xFFFFFFFFu, 1, 0};  // -1 from an Int32Array
  CHECK(sk_spmm_check(3, 5, 1, big, 3, cols, 3, 3, gb.data(), gv.data(), why) == SK_ERR_INVALID_ARGUMENT, "count -1");
  uint32_t over[3] = {2, 1, 1};  // sums past cols
  CHECK(sk_spmm_check(3, 5, 1, over, 3, cols, 3, 3, gb.data(), gv.data(), why) == SK_ERR_INVALID_ARGUMENT,
        "sum > blocks");
  uint32_t under[3] = {1, 1, 0};
  CHECK(sk_spmm_check(3, 5, 1, under, 3, cols, 3, 3, gb.data(), gv.data(), why) == SK_ERR_SHAPE, "sum < blocks");
  CHECK(sk_spmm_check(3, 5, 1, nnz, 3, cols, 3, 4, gb.data(), gv.data(), why) == SK_ERR_SHAPE, "values length");
  CHECK(sk_spmm_check(3, 5, 2, nnz, 3, cols, 3, 3, gb.data(), gv.data(), why) == SK_ERR_SHAPE, "groups for nr 2");
  CHECK(sk_spmm_check(3, 5, 3, nnz, 3, cols, 3, 3, gb.data(), gv.data(), why) == SK_ERR_INVALID_ARGUMENT, "nr 3");
}

SK_TEST(spmm_pack_refuses_a_changed_matrix) {
  std::vector<float> w = {1, 0, 2, 0, 3, 0};
  uint32_t nnz[2];
  int32_t cols[2];
  float vals[2];
  CHECK(!sk_spmm_pack(w.data(), 2, 3, 1, nnz, cols, 2, vals, 2), "3 non-zeros into room for 2");
}

// Slice width by density: K up to 256 whole, then 128 from 15 % dense, else 256.
SK_TEST(spmm_slice_width_follows_density) {
  CHECK(sk::spmm_k_slice(100, 10, 256) == 256, "k 256 whole");
  CHECK(sk::spmm_k_slice(10 * 600 * 15 / 100, 10, 600) == 128, "15 %% dense");
  CHECK(sk::spmm_k_slice(10 * 600 * 14 / 100, 10, 600) == 256, "14 %% dense");
  CHECK(sk::spmm_k_slice(0, 10, 600) == 256, "empty");
}

// The driver's shapes: both layouts, the SpMV path, K slices, padded x.
struct DriverShape {
  int64_t batch, m, n, k;
  int32_t layout;
};
constexpr DriverShape kDriverShapes[] = {{2, 49, 37, 29, SK_SPMM_CHANNELS},
                                         {1, 200, 64, 48, SK_SPMM_CHANNELS},
                                         {1, 1, 53, 70, SK_SPMM_ROWS},
                                         {1, 2, 17, 33, SK_SPMM_ROWS},
                                         {1, 3, 17, 33, SK_SPMM_ROWS},
                                         {1, 130, 45, 66, SK_SPMM_ROWS},
                                         {1, 64, 8, 5, SK_SPMM_ROWS},
                                         {1, 70, 21, 600, SK_SPMM_ROWS},  // 600: three K slices
                                         {2, 49, 37, 600, SK_SPMM_CHANNELS},
                                         {1, 200, 21, 260, SK_SPMM_CHANNELS},  // conv: slices too
                                         {2, 32, 19, 40, SK_SPMM_CHANNELS},
                                         {1, 13, 7, 300, SK_SPMM_CHANNELS},  // m 32, m under 16
                                         // padded x over sk::spmm_private_copy_bytes: one copy shared by the threads
                                         {1, 500, 21, 520, SK_SPMM_CHANNELS}};

// The driver for every ISA here, both layouts, and the SpMV path.
SK_TEST(spmm_driver_conv_and_linear_every_isa) {
  Rng rng{99};
  sk::ThreadPool pool(3);
  for (sk_isa isa : isas_here())
    for (int32_t nr : {1, 2, 4})
      for (const DriverShape& s : kDriverShapes) {
        std::vector<float> w(static_cast<size_t>(s.n * s.k));
        // 20 % and 10 % dense in turn: the sliced shapes run both slice widths (128, 256).
        const double keep = (&s - kDriverShapes) % 2 ? 0.1 : 0.2;
        for (float& v : w) v = rng.uniform() < keep ? static_cast<float>(rng.normal()) : 0.0f;
        const sk_spmm_analysis a = sk_spmm_analyze(w.data(), s.n, s.k);
        const int i = nr == 1 ? 0 : nr == 2 ? 1 : 2;
        const int64_t groups = sk_spmm_groups(s.n, nr);
        std::vector<uint32_t> nnzmap(static_cast<size_t>(groups));
        std::vector<int32_t> cols(static_cast<size_t>(a.blocks[i]));
        std::vector<float> values(static_cast<size_t>(a.values[i]));
        sk_spmm_pack(w.data(), s.n, s.k, nr, nnzmap.data(), cols.data(), a.blocks[i], values.data(), a.values[i]);
        std::vector<int64_t> gb(static_cast<size_t>(groups) + 1), gv(static_cast<size_t>(groups) + 1);
        char why[256];
        CHECK(sk_spmm_check(s.n, s.k, nr, nnzmap.data(), groups, cols.data(), a.blocks[i], a.values[i], gb.data(),
                            gv.data(), why) == SK_OK,
              "%s", why);
        std::vector<float> x(static_cast<size_t>(s.batch * s.m * s.k)), bias(static_cast<size_t>(s.n));
        std::vector<float> out(static_cast<size_t>(s.batch * s.m * s.n), NAN);
        for (float& v : x) v = static_cast<float>(rng.normal());
        for (float& v : bias) v = static_cast<float>(rng.normal());
        sk_spmm_params p{};
        p.x = x.data(), p.out = out.data(), p.bias = bias.data(), p.values = values.data(), p.cols = cols.data();
        p.nnzmap = nnzmap.data(), p.group_blocks = gb.data(), p.group_values = gv.data();
        p.n = s.n, p.k = s.k, p.nr = nr, p.groups = groups, p.blocks = a.blocks[i];
        p.batch = s.batch, p.m = s.m, p.layout = s.layout, p.clamp = {0.0f, INFINITY};  // ReLU
        const std::vector<uint16_t> cols16(cols.begin(), cols.end());
        if (s.m == 1) p.cols16 = cols16.data();  // SpMV: one row reads uint16 columns (as the addon), two rows int32
        const sk_spmm_kernel kern = sk_cpu_spmm_pick(p, isa);
        CHECK(kern.spmm && kern.spmv, "pick isa %s nr %d", sk_isa_name(isa), nr);
        if (!kern.spmm) continue;
        std::vector<int32_t> dmap(cols.size() + 1);
        sk_spmm_build_dmap(cols.data(), p.blocks, p.k, sk_spmm_input_stride(p), dmap.data());
        sk_spmm_slices slices;
        const bool sliced = sk_spmm_uses_slices(p);
        if (sliced) sk_spmm_build_slices(p, sk_spmm_slice_width(p), &slices);
        CHECK(sk_cpu_spmm_run(p, kern, dmap.data(), pool, sliced ? &slices : nullptr) == SK_OK, "run");
        if (sliced && s.layout == SK_SPMM_CHANNELS) {  // slices whose increments are for another stride are refused
          sk_spmm_params fewer = p;
          fewer.m = p.m - 16;  // a stride of its own (x is copied to a padded stride: sk::spmm_channel_stride)
          CHECK(sk_spmm_input_stride(fewer) != sk_spmm_input_stride(p), "another stride");
          CHECK(sk_cpu_spmm_run(fewer, kern, dmap.data(), pool, &slices) == SK_ERR_INVALID_ARGUMENT,
                "slices of another stride");
        }
        if (!sliced && p.blocks > 0 && !sk_spmm_uses_spmv(p))
          CHECK(sk_cpu_spmm_run(p, kern, nullptr, pool) == SK_ERR_INVALID_ARGUMENT, "no dmap");
        int bad = 0;
        for (int64_t b = 0; b < s.batch; ++b)
          for (int64_t r = 0; r < s.m; ++r)
            for (int64_t c = 0; c < s.n; ++c) {
              double want = bias[c];
              for (int64_t j = 0; j < s.k; ++j) {
                const double xv = s.layout == SK_SPMM_CHANNELS ? x[(b * s.k + j) * s.m + r] : x[r * s.k + j];
                want += double(w[c * s.k + j]) * xv;
              }
              want = want < 0 ? 0 : want;
              const float got = s.layout == SK_SPMM_CHANNELS ? out[(b * s.n + c) * s.m + r] : out[r * s.n + c];
              if (!(fabs(got - want) <= 1e-5 * (1 + fabs(want))) && bad++ < 3)
                CHECK(false, "%s nr %d layout %d m %lld: [%lld,%lld,%lld] = %.9g want %.9g", sk_isa_name(isa), nr,
                      s.layout, static_cast<long long>(s.m), static_cast<long long>(b), static_cast<long long>(r),
                      static_cast<long long>(c), got, want);
            }
      }
}
