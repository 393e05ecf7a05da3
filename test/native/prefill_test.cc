// Native tests of the prefill block scores on every kernel set this CPU runs:
// XAttention's antidiagonal scores, the key importance and the vertical and
// slash lines against double references of their definitions, and the row
// gather. (The TS tests cover the same against float64 through the addon;
// these also run under qemu for the NEON build.)
#include <math.h>

#include <algorithm>
#include <utility>
#include <vector>

#include "../../csrc/core/threadpool.h"
#include "../../csrc/cpu/prefill/prefill.h"
#include "check.h"
#include "helpers.h"

namespace {

struct Inputs {
  int64_t hq = 2, hkv = 1, s = 77, d = 16;
  std::vector<float> q, k;
};

Inputs make_inputs(uint64_t seed, int64_t s = 77) {
  Inputs x;
  x.s = s;
  sktest::Rng rng{seed};
  x.q.resize(static_cast<size_t>(x.hq * x.s * x.d)), x.k.resize(static_cast<size_t>(x.hkv * x.s * x.d));
  for (float& v : x.q) v = static_cast<float>(rng.normal());
  for (float& v : x.k) v = static_cast<float>(rng.normal());
  return x;
}

sk_block_scores_params params(const Inputs& x, int32_t method, int32_t block, int32_t stride, float* out) {
  sk_block_scores_params p{};
  p.q = x.q.data(), p.k = x.k.data(), p.out = out, p.dtype = SK_F32, p.method = method;
  p.batch = 1, p.heads_q = x.hq, p.heads_kv = x.hkv, p.seq = x.s, p.head_dim = x.d;
  p.q_stride_b = x.hq * x.s * x.d, p.q_stride_h = x.s * x.d, p.q_stride_s = x.d;
  p.k_stride_b = x.hkv * x.s * x.d, p.k_stride_h = x.s * x.d, p.k_stride_s = x.d;
  p.block = block, p.stride = stride, p.key_count = 64, p.scale = static_cast<float>(1 / sqrt(16.0)), p.causal = true;
  return p;
}

// max |a[i] - b[i]| (as std::max_element over the differences: the aarch64
// cross GCC 12 hits an internal error vectorizing an fmax reduction here).
double max_diff(const std::vector<float>& a, const std::vector<double>& b) {
  std::vector<double> d(b.size());
  for (size_t i = 0; i < b.size(); ++i) d[i] = fabs(a[i] - b[i]);
  return d.empty() ? 0.0 : *std::max_element(d.begin(), d.end());
}

double dotqk(const Inputs& x, int64_t h, int64_t i, int64_t j) {
  double s = 0;
  for (int64_t e = 0; e < x.d; ++e) s += static_cast<double>(x.q[(h * x.s + i) * x.d + e]) * x.k[j * x.d + e];
  return s;
}

}  // namespace

SK_TEST(prefill_xattention_scores_every_isa_stride_4_and_8) {
  const Inputs x = make_inputs(11);
  for (int32_t stride : {4, 8}) {
    const int32_t block = 16;
    const int64_t nb = (x.s + block - 1) / block, ns = (x.s + stride - 1) / stride, per = block / stride;
    std::vector<double> ref(static_cast<size_t>(x.hq * nb * nb), 0.0);
    for (int64_t h = 0; h < x.hq; ++h)
      for (int64_t r = 0; r < ns; ++r) {
        std::vector<double> l(static_cast<size_t>(r + 1));
        double m = -INFINITY, sum = 0;
        for (int64_t c = 0; c <= r; ++c) {
          double s = 0;
          for (int64_t t = 0; t < stride; ++t) {
            const int64_t i = r * stride + stride - 1 - t, j = c * stride + t;
            if (i < x.s && j < x.s) s += dotqk(x, h, i, j);
          }
          l[c] = s / sqrt(16.0) / stride, m = fmax(m, l[c]);
        }
        for (double v : l) sum += exp(v - m);
        for (int64_t c = 0; c <= r; ++c) ref[(h * nb + r / per) * nb + c / per] += exp(l[c] - m) / sum;
      }
    for (sk_isa isa : sktest::isas_here())
      for (int32_t per_pass : {1, 3, 4}) {  // 5 query blocks: alone, runs of 3 + 2, of 4 + 1
        std::vector<float> out(ref.size(), -1.0f);
        sk_block_scores_params p = params(x, SK_SCORE_XATTENTION, block, stride, out.data());
        p.blocks_per_pass = per_pass;
        const sk_prefill_kernels kn = sk_cpu_prefill_pick(p, isa);
        CHECK(kn.qk != nullptr, "no prefill kernels for %s", sk_isa_name(isa));
        sk::ThreadPool pool(2);
        CHECK(sk_cpu_block_scores_run(p, kn, pool) == SK_OK, "run failed");
        const double err = max_diff(out, ref), norm = *std::max_element(ref.begin(), ref.end());  // scores are ≥ 0
        CHECK(err <= 1e-5 * norm, "[%s] stride %d, %d blocks a pass: error %.3g of %.3g", sk_isa_name(isa), stride,
              per_pass, err, norm);
      }
  }
}

// 64 keys of 77 (one chunk of scratch), and 600 of 700: three chunks (256,
// 256, 88), each against its own max before the rescaling to the common one.
SK_TEST(prefill_key_importance_every_isa) {
  for (const auto& [s, keys] : {std::pair<int64_t, int64_t>{77, 64}, {700, 600}}) {
    const Inputs x = make_inputs(12, s);
    std::vector<double> ref(static_cast<size_t>(x.hq * x.s), 0.0);
    for (int64_t h = 0; h < x.hq; ++h)
      for (int64_t i = x.s - 16; i < x.s; ++i) {
        std::vector<double> l(static_cast<size_t>(keys));
        double m = -INFINITY, sum = 0;
        for (int64_t j = 0; j < keys; ++j) l[j] = dotqk(x, h, i, j) / 4.0, m = fmax(m, l[j]);
        for (double v : l) sum += exp(v - m);
        for (int64_t j = 0; j < keys; ++j) ref[h * x.s + j] += exp(l[j] - m) / sum / 16;
      }
    for (sk_isa isa : sktest::isas_here()) {
      std::vector<float> out(ref.size(), -1.0f);
      sk_block_scores_params p = params(x, SK_SCORE_KEY_IMPORTANCE, 16, 1, out.data());
      p.key_count = keys;
      const sk_prefill_kernels kn = sk_cpu_prefill_pick(p, isa);
      sk::ThreadPool pool(2);
      CHECK(kn.qk && sk_cpu_block_scores_run(p, kn, pool) == SK_OK, "[%s] run failed", sk_isa_name(isa));
      const double err = max_diff(out, ref);
      CHECK(err <= 1e-6, "[%s] %lld keys: importance error %.3g", sk_isa_name(isa), static_cast<long long>(keys), err);
    }
  }
}

// The vertical and slash lines of the last 16 queries (causal: the scored
// queries see keys up to themselves): 77 keys (one chunk), 700 (three).
SK_TEST(prefill_vertical_slash_lines_every_isa) {
  for (int64_t s : {77, 700}) {
    const Inputs x = make_inputs(14, s);
    std::vector<double> ref(static_cast<size_t>(x.hq * 2 * x.s), 0.0);
    for (int64_t h = 0; h < x.hq; ++h)
      for (int64_t i = x.s - 16; i < x.s; ++i) {
        std::vector<double> l(static_cast<size_t>(i + 1));
        double m = -INFINITY, sum = 0;
        for (int64_t j = 0; j <= i; ++j) l[j] = dotqk(x, h, i, j) / 4.0, m = fmax(m, l[j]);
        for (double v : l) sum += exp(v - m);
        for (int64_t j = 0; j <= i; ++j) {
          ref[h * 2 * x.s + j] += exp(l[j] - m) / sum / 16;
          ref[h * 2 * x.s + x.s + i - j] += exp(l[j] - m) / sum / 16;
        }
      }
    for (sk_isa isa : sktest::isas_here()) {
      std::vector<float> out(ref.size(), -1.0f);
      sk_block_scores_params p = params(x, SK_SCORE_VERTICAL_SLASH, 16, 1, out.data());
      p.key_count = x.s;
      const sk_prefill_kernels kn = sk_cpu_prefill_pick(p, isa);
      sk::ThreadPool pool(2);
      CHECK(kn.qk && sk_cpu_block_scores_run(p, kn, pool) == SK_OK, "[%s] run failed", sk_isa_name(isa));
      const double err = max_diff(out, ref);
      CHECK(err <= 1e-6, "[%s] %lld keys: line error %.3g", sk_isa_name(isa), static_cast<long long>(s), err);
    }
  }
}

SK_TEST(prefill_pick_refuses_a_stride_that_does_not_divide_the_block) {
  const Inputs x = make_inputs(13);
  float out[1];
  const sk_block_scores_params p = params(x, SK_SCORE_XATTENTION, 16, 6, out);
  for (sk_isa isa : sktest::isas_here())
    CHECK(sk_cpu_prefill_pick(p, isa).qk == nullptr, "[%s] accepted stride 6", sk_isa_name(isa));
}

SK_TEST(prefill_gather_rows_bf16_rows) {
  std::vector<uint16_t> src(2 * 5 * 3), dst(src.size());
  for (size_t i = 0; i < src.size(); ++i) src[i] = static_cast<uint16_t>(i);
  const int32_t idx[10] = {4, 3, 2, 1, 0, 0, 2, 4, 1, 3};
  sk_gather_rows_params p{src.data(), dst.data(), idx, 2, 1, 2, 5, 3, 30, 15, 3};
  sk::ThreadPool pool(2);
  sk_cpu_gather_rows_run(p, pool);
  for (int64_t h = 0; h < 2; ++h)
    for (int64_t s = 0; s < 5; ++s)
      for (int64_t e = 0; e < 3; ++e)
        CHECK(dst[(h * 5 + s) * 3 + e] == src[(h * 5 + idx[h * 5 + s]) * 3 + e], "gather mismatch at %lld %lld",
              (long long)h, (long long)s);
}
