// SpMM / SpMV micro-kernels, packing and the driver, for every kernel in
// spmm.inc / spmv.inc this CPU runs, against float64 loops over the dense
// matrix (XNNPACK's tester cases: rows below, at and above the tile, many
// tiles, channels not a multiple of the block, one non-zero, an all-zero
// channel, half sparse, output stride, clamp min / max, no bias).
// Budget: |out - ref| ≤ 1e-5 · (1 + |ref|) per element (float32 sums of at
// most a few hundred products of N(0, 1) values).
#include <math.h>
#include <stdint.h>
#include <stdlib.h>

#include <algorithm>
#include <string>
#include <vector>

#include "../../csrc/core/cpu_features.h"
#include "../../csrc/core/threadpool.h"
#include "../../csrc/cpu/dispatch.h"
#include "check.h"
#include "helpers.h"

using sktest::Rng;
using sktest::runs_here;

namespace {

#define SK_ISA_ID_scalar SK_ISA_SCALAR
#define SK_ISA_ID_avx2 SK_ISA_AVX2
#define SK_ISA_ID_avx512 SK_ISA_AVX512
#define SK_ISA_ID_neon SK_ISA_NEON

struct SpmmUkernel {
  const char* name;
  sk_isa isa;
  int mr, nr;
  sk_f32_spmm_ukernel_fn fn;
};
struct SpmvUkernel {  // both column types of one spmv.inc entry
  const char* name;
  sk_isa isa;
  int nr;
  sk_f32_spmv_ukernel_fn fn;
  sk_f32_spmv16_ukernel_fn fn16;
};

std::vector<SpmmUkernel> spmm_kernels() {
  std::vector<SpmmUkernel> all;
#define SK_SPMM_UKERNEL(isa, mr, nr)                                                                                   \
  all.push_back({#mr "x" #nr "__" #isa, SK_ISA_ID_##isa, mr, nr, sk_f32_spmm_ukernel_##mr##x##nr##__##isa});
#include "../../csrc/cpu/f32-spmm/spmm.inc"
#undef SK_SPMM_UKERNEL
  std::vector<SpmmUkernel> here;
  for (const auto& u : all)
    if (runs_here(u.isa)) here.push_back(u);
  return here;
}

std::vector<SpmvUkernel> spmv_kernels() {
  std::vector<SpmvUkernel> all;
#define SK_SPMV_UKERNEL(isa, nr)                                                                                       \
  all.push_back({"1x" #nr "__" #isa, SK_ISA_ID_##isa, nr, sk_f32_spmv_ukernel_1x##nr##__##isa,                         \
                 sk_f32_spmv16_ukernel_1x##nr##__##isa});
#include "../../csrc/cpu/f32-spmv/spmv.inc"
#undef SK_SPMV_UKERNEL
  std::vector<SpmvUkernel> here;
  for (const auto& u : all)
    if (runs_here(u.isa)) here.push_back(u);
  return here;
}

// A random [n, k] matrix with about `sparsity` zeros, packed in blocks of nr.
struct Packed {
  int64_t n, k;
  int32_t nr;
  std::vector<float> dense;
  std::vector<uint32_t> nnzmap;
  std::vector<int32_t> cols;
  std::vector<float> values;
};

Packed pack(std::vector<float> dense, int64_t n, int64_t k, int32_t nr) {
  Packed p{n, k, nr, std::move(dense), {}, {}, {}};
  const sk_spmm_analysis a = sk_spmm_analyze(p.dense.data(), n, k);
  const int i = nr == 1 ? 0 : nr == 2 ? 1 : 2;
  p.nnzmap.resize(static_cast<size_t>(sk_spmm_groups(n, nr)));
  p.cols.resize(static_cast<size_t>(a.blocks[i]) + 1);  // one spare: kernels must not read it
  p.values.resize(static_cast<size_t>(a.values[i]) + 1);
  p.cols.back() = -(1 << 30), p.values.back() = NAN;
  const bool ok =
      sk_spmm_pack(p.dense.data(), n, k, nr, p.nnzmap.data(), p.cols.data(), a.blocks[i], p.values.data(), a.values[i]);
  CHECK(ok, "pack n=%lld k=%lld nr=%d", static_cast<long long>(n), static_cast<long long>(k), nr);
  return p;
}

std::vector<float> random_dense(Rng& rng, int64_t n, int64_t k, double sparsity) {
  std::vector<float> w(static_cast<size_t>(n * k));
  for (float& v : w) v = rng.uniform() < sparsity ? 0.0f : static_cast<float>(rng.normal());
  return w;
}

// XNNPACK's tester: fluent sizes, then run() checks one kernel.
struct SpmmTester {
  size_t m_ = 1, n_ = 1, k_ = 1, out_stride_ = 0;
  double sparsity_ = 0.7;
  bool bias_ = true, one_nonzero_ = false, zero_channel_ = false, accumulate_ = false;
  uint8_t qmin_ = 0, qmax_ = 255;
  SpmmTester& m(size_t v) { return m_ = v, *this; }
  SpmmTester& n(size_t v) { return n_ = v, *this; }
  SpmmTester& k(size_t v) { return k_ = v, *this; }
  SpmmTester& output_stride(size_t v) { return out_stride_ = v, *this; }
  SpmmTester& sparsity(double v) { return sparsity_ = v, *this; }
  SpmmTester& bias(bool v) { return bias_ = v, *this; }
  SpmmTester& one_nonzero() { return one_nonzero_ = true, *this; }
  SpmmTester& zero_channel() { return zero_channel_ = true, *this; }
  SpmmTester& accumulate() { return accumulate_ = true, *this; }  // out starts with values the sums add to
  SpmmTester& qmin(uint8_t v) { return qmin_ = v, *this; }
  SpmmTester& qmax(uint8_t v) { return qmax_ = v, *this; }

  void run(const SpmmUkernel& u, uint64_t seed) const {
    Rng rng{seed};
    std::vector<float> w = random_dense(rng, n_, k_, sparsity_);
    if (one_nonzero_) {
      std::fill(w.begin(), w.end(), 0.0f);
      w[static_cast<size_t>(rng.uniform() * w.size())] = 1.5f;
    }
    if (zero_channel_) std::fill(w.begin() + (n_ / 2) * k_, w.begin() + (n_ / 2 + 1) * k_, 0.0f);
    Packed p = pack(std::move(w), n_, k_, u.nr);
    const size_t in_stride = m_ + 3, out_stride = out_stride_ ? out_stride_ : m_;
    std::vector<float> x(k_ * in_stride), bias(n_), out(n_ * out_stride + 5, 12345.0f);
    for (float& v : x) v = static_cast<float>(rng.normal());
    for (float& v : bias) v = static_cast<float>(rng.normal());
    if (accumulate_)
      for (size_t c = 0; c < n_; ++c)
        for (size_t r = 0; r < m_; ++r) out[c * out_stride + r] = static_cast<float>(rng.normal());
    std::vector<double> ref(n_ * m_);
    double lo = INFINITY, hi = -INFINITY;
    for (size_t c = 0; c < n_; ++c)
      for (size_t r = 0; r < m_; ++r) {
        double s = (bias_ ? bias[c] : 0.0) + (accumulate_ ? out[c * out_stride + r] : 0.0);
        for (size_t i = 0; i < k_; ++i) s += double(p.dense[c * k_ + i]) * x[i * in_stride + r];
        ref[c * m_ + r] = s, lo = std::min(lo, s), hi = std::max(hi, s);
      }
    const double range = hi - lo;  // XNNPACK's clamp bounds from the output range
    const float qmin = qmin_ == 0 ? -INFINITY : static_cast<float>(lo + range * qmin_ / 255.0);
    const float qmax = qmax_ == 255 ? INFINITY : static_cast<float>(hi - range * (255 - qmax_) / 255.0);
    std::vector<int32_t> dmap(p.cols.size());
    const int64_t blocks = static_cast<int64_t>(p.cols.size()) - 1;
    sk_spmm_build_dmap(p.cols.data(), blocks, static_cast<int64_t>(k_), static_cast<int64_t>(in_stride), dmap.data());
    const float* input = blocks > 0 ? x.data() + p.cols[0] * in_stride : x.data();
    const sk_spmm_epilogue mm{qmin, qmax, accumulate_};
    u.fn(m_, n_, input, p.values.data(), dmap.data(), p.nnzmap.data(), bias_ ? bias.data() : nullptr, out.data(),
         out_stride, &mm);
    int bad = 0;
    for (size_t c = 0; c < n_; ++c)
      for (size_t r = 0; r < out_stride; ++r) {
        const float got = out[c * out_stride + r];
        if (r >= m_) {  // past the rows: untouched
          if (got != 12345.0f && bad++ < 3)
            CHECK(false, "%s wrote past m=%zu at channel %zu row %zu", u.name, m_, c, r);
          continue;
        }
        const double want = std::min<double>(std::max<double>(ref[c * m_ + r], qmin), qmax);
        if (!(fabs(got - want) <= 1e-5 * (1 + fabs(want))) && bad++ < 3)
          CHECK(false, "%s m=%zu n=%zu k=%zu: out[%zu][%zu] = %.9g, want %.9g", u.name, m_, n_, k_, c, r, got, want);
      }
    for (size_t i = n_ * out_stride; i < out.size(); ++i) CHECK(out[i] == 12345.0f, "%s wrote past the output", u.name);
  }
};

}  // namespace

SK_TEST(spmm_ukernel_m_eq_mr) {
  for (const auto& u : spmm_kernels())
    for (size_t k : {1, 3, 17, 64}) SpmmTester().m(u.mr).n(2 * u.nr + 1).k(k).run(u, 1 + k);
}
SK_TEST(spmm_ukernel_m_lt_mr) {
  for (const auto& u : spmm_kernels())
    for (size_t m = 1; m < static_cast<size_t>(u.mr); ++m) SpmmTester().m(m).n(u.nr + 1).k(19).run(u, m);
}
SK_TEST(spmm_ukernel_m_gt_mr) {
  for (const auto& u : spmm_kernels())
    for (size_t m = u.mr + 1; m < static_cast<size_t>(2 * u.mr); m += 3) SpmmTester().m(m).n(3 * u.nr).k(23).run(u, m);
}
SK_TEST(spmm_ukernel_m_div_mr) {
  for (const auto& u : spmm_kernels())
    for (size_t m : {2, 3, 5}) SpmmTester().m(m * u.mr).n(u.nr).k(31).run(u, m);
}
SK_TEST(spmm_ukernel_accumulate) {  // the slices after the first add to out (with and without bias, clamped)
  for (const auto& u : spmm_kernels()) {
    for (int m : {u.mr, u.mr - 1, 2 * u.mr + 3})
      SpmmTester().m(static_cast<size_t>(m)).n(2 * u.nr + 1).k(21).accumulate().run(u, static_cast<uint64_t>(m));
    SpmmTester().m(u.mr + 1).n(u.nr + 2).k(9).accumulate().bias(false).qmin(64).qmax(192).output_stride(u.mr + 4).run(
        u, 7);
  }
}
SK_TEST(spmm_ukernel_m_many_tiles_and_a_rest) {  // 196 rows at MR 64: passes of unequal vector counts, one masked
  for (const auto& u : spmm_kernels())
    for (size_t m : {3 * u.mr + 4, 4 * u.mr - 1, 5 * u.mr + u.mr / 2 + 1})
      SpmmTester().m(m).n(u.nr + 2).k(27).run(u, m);
}
SK_TEST(spmm_ukernel_n_lt_eq_gt_nr) {  // groups of nr, then the remainder channels as blocks of one
  for (const auto& u : spmm_kernels())
    for (size_t n = 1; n <= static_cast<size_t>(3 * u.nr + 3); ++n) SpmmTester().m(u.mr + 5).n(n).k(13).run(u, n);
}
SK_TEST(spmm_ukernel_one_nonzero) {
  for (const auto& u : spmm_kernels())
    for (uint64_t s = 1; s <= 5; ++s) SpmmTester().m(2 * u.mr - 1).n(2 * u.nr + 1).k(41).one_nonzero().run(u, s);
}
SK_TEST(spmm_ukernel_zero_weights_and_all_zero_channel) {
  for (const auto& u : spmm_kernels()) {
    SpmmTester().m(u.mr).n(4 * u.nr + 1).k(29).sparsity(1.0).run(u, 3);
    SpmmTester().m(u.mr + 1).n(4 * u.nr + 1).k(29).zero_channel().run(u, 4);
  }
}
SK_TEST(spmm_ukernel_half_sparse_and_dense) {
  for (const auto& u : spmm_kernels()) {
    SpmmTester().m(3 * u.mr + 1).n(3 * u.nr).k(97).sparsity(0.5).run(u, 5);
    SpmmTester().m(u.mr).n(u.nr).k(57).sparsity(0.0).run(u, 6);
  }
}
SK_TEST(spmm_ukernel_output_stride) {
  for (const auto& u : spmm_kernels())
    SpmmTester().m(u.mr + 3).n(2 * u.nr + 1).k(21).output_stride(u.mr * 2 + 7).run(u, 7);
}
SK_TEST(spmm_ukernel_qmin_qmax_no_bias) {
  for (const auto& u : spmm_kernels()) {
    SpmmTester().m(2 * u.mr + 1).n(2 * u.nr).k(33).qmin(128).run(u, 8);
    SpmmTester().m(2 * u.mr + 1).n(2 * u.nr).k(33).qmax(128).run(u, 9);
    SpmmTester().m(u.mr - 1).n(u.nr + 1).k(33).bias(false).run(u, 10);
  }
}

// Runs both column types of u on p against a float64 reference, clamped at
// the middle of the sums' range or not; y has a guard entry past n. Budget:
// 1e-6 of 1 + Σ|terms| (a float32 sum's rounding grows with its terms'
// magnitudes, not its result's: 300 terms of ~0.6 can cancel to 0.2).
void check_spmv(const SpmvUkernel& u, const Packed& p, const std::vector<float>& x, const std::vector<float>& bias,
                bool clamp, bool accumulate = false) {
  // With accumulate, y starts at y0 and the sums add to it.
  std::vector<float> y0(p.n + 1, 777.0f);
  for (int64_t c = 0; c < p.n; ++c) y0[c] = accumulate ? 0.25f * static_cast<float>(c % 7) - 0.75f : 777.0f;
  const size_t n = static_cast<size_t>(p.n), k = static_cast<size_t>(p.k);
  std::vector<double> ref(n), mag(n);
  double hi = -INFINITY, lo = INFINITY;
  for (size_t c = 0; c < n; ++c) {
    double s = bias[c] + (accumulate ? y0[c] : 0.0), m = fabs(bias[c]) + (accumulate ? fabs(y0[c]) : 0.0);
    for (size_t i = 0; i < k; ++i) s += double(p.dense[c * k + i]) * x[i], m += fabs(double(p.dense[c * k + i]) * x[i]);
    ref[c] = s, mag[c] = m, hi = std::max(hi, s), lo = std::min(lo, s);
  }
  const sk_spmm_epilogue mm{-INFINITY, clamp ? static_cast<float>((hi + lo) / 2) : INFINITY, accumulate};
  std::vector<uint16_t> cols16(p.cols.begin(), p.cols.end() - 1);
  cols16.push_back(0xFFFF);  // the spare, as in pack(): kernels must not read it
  for (bool narrow : {false, true}) {
    std::vector<float> y = y0;
    if (narrow)
      u.fn16(n, x.data(), p.values.data(), cols16.data(), p.nnzmap.data(), bias.data(), y.data(), &mm);
    else
      u.fn(n, x.data(), p.values.data(), p.cols.data(), p.nnzmap.data(), bias.data(), y.data(), &mm);
    const char* cols = narrow ? "uint16" : "int32";
    for (size_t c = 0; c < n; ++c) {
      const double want = std::min<double>(ref[c], mm.max);
      CHECK(fabs(y[c] - want) <= 1e-6 * (1 + mag[c]), "%s %s n=%zu k=%zu: y[%zu] = %.9g, want %.9g", u.name, cols, n, k,
            c, y[c], want);
    }
    CHECK(y[n] == 777.0f, "%s %s wrote past n", u.name, cols);
  }
}

std::vector<float> normal_vector(Rng& rng, size_t length) {
  std::vector<float> v(length);
  for (float& e : v) e = static_cast<float>(rng.normal());
  return v;
}

SK_TEST(spmv_ukernel_counts_channels_clamp) {
  Rng rng{21};
  for (const auto& u : spmv_kernels())
    for (size_t n : {1, 2, 3, 4, 5, 9})
      for (size_t k : {77, 300})  // rows of up to 77 and 300 non-zeros: every step and tail of the dots
        for (double sparsity : {0.0, 0.5, 0.9, 1.0})
          for (bool clamp : {false, true}) {
            const Packed p = pack(random_dense(rng, n, k, sparsity), n, k, u.nr);
            check_spmv(u, p, normal_vector(rng, k), normal_vector(rng, n), clamp);
            check_spmv(u, p, normal_vector(rng, k), normal_vector(rng, n), clamp, true);
          }
}

SK_TEST(spmv_ukernel_column_65535) {  // the largest column uint16 holds, in a dot's vector steps and its tail
  Rng rng{22};
  const size_t n = 5, k = 65536;
  std::vector<float> dense = random_dense(rng, n, k, 0.999);
  for (size_t c = 0; c < n; ++c) dense[c * k + k - 1] = 1.5f + static_cast<float>(c);
  for (size_t i = 0; i < 40; ++i) dense[k + k - 2 - 97 * i] = 0.25f;  // channel 1: 40+ non-zeros, 65535 in the tail
  for (const auto& u : spmv_kernels())
    check_spmv(u, pack(dense, n, k, u.nr), normal_vector(rng, k), normal_vector(rng, n), false);
}
