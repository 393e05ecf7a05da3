// FP8 attention (sk_fp8_scales, docs/fp8.md): every kernel set this CPU runs
// (NEON under qemu) against the float64 oracle over the dequantised values:
// random finite codes of both FP8 types, per-tile q / k scales, per-channel v
// scales, a K mean (smoothing), head dims with vector tails, a window mask.
// Budget: max |out - ref| <= 1e-5 · max |ref| (float32's); lse within 1e-5 ·
// max(1, |lse|), -inf exactly where the oracle's row sees no key.
#include <math.h>
#include <stdint.h>

#include <string>
#include <vector>

#include "../../csrc/core/cast_math.h"
#include "../../csrc/core/threadpool.h"
#include "../../csrc/cpu/dispatch.h"
#include "../../csrc/cpu/f32-attn/attention.h"
#include "../../csrc/cpu/reference/attention.h"
#include "check.h"
#include "helpers.h"

namespace {

using sk::ScalarLanes;
using sktest::isas_here;
using sktest::Rng;

float fp8_value(sk_dtype t, uint8_t c) {
  return ScalarLanes::flt(t == SK_F8E4M3FN ? sk::e4m3fn_to_f32<ScalarLanes>(c) : sk::e5m2_to_f32<ScalarLanes>(c));
}

// A random finite code of type t.
uint8_t random_code(sk_dtype t, Rng* rng) {
  for (;;) {
    const uint8_t c = static_cast<uint8_t>(rng->uniform() * 256);
    if (isfinite(fp8_value(t, c))) return c;
  }
}

// max(a, b), NaN-sticky; not fmax in a loop: aarch64 GCC 12's vectoriser
// fails on that reduction here (an internal compiler error).
double worse(double a, double b) { return b > a || b != b ? b : a; }

struct Fp8Case {
  std::string name;
  sk_dtype type;
  int64_t batch, heads_q, heads_kv, seq, head_dim, tile;
  bool causal, smooth;
  int64_t window;  // > 0: a window rule on partial blocks
};

void run_fp8(const Fp8Case& c) {
  Rng rng{0x5DEECE66Dull ^ std::hash<std::string>()(c.name)};
  const int64_t D = c.head_dim, S = c.seq, T = (S + c.tile - 1) / c.tile;
  const int64_t nq = c.batch * c.heads_q * S * D, nkv = c.batch * c.heads_kv * S * D;
  std::vector<uint8_t> q(nq), k(nkv), v(nkv);
  for (auto* x : {&q, &k, &v})
    for (uint8_t& b : *x) b = random_code(c.type, &rng);
  // Scales that bring the codes' range (up to 448 or 57344) to O(1).
  const double unit = c.type == SK_F8E4M3FN ? 1.0 / 448 : 1.0 / 57344;
  std::vector<float> qs(c.batch * c.heads_q * T), ks(c.batch * c.heads_kv * T), vs(c.batch * c.heads_kv * T * D);
  std::vector<float> mean(c.batch * c.heads_kv * D);
  for (float& s : qs) s = static_cast<float>(unit * (0.5 + rng.uniform()) * 3);
  for (float& s : ks) s = static_cast<float>(unit * (0.5 + rng.uniform()) * 3);
  for (float& s : vs) s = static_cast<float>(unit * (0.5 + rng.uniform()));
  for (float& m : mean) m = c.smooth ? static_cast<float>(4 * rng.normal()) : 0.0f;
  // The oracle's float32 inputs: code · scale (+ mean for K).
  std::vector<float> qf(nq), kf(nkv), vf(nkv);
  for (int64_t bh = 0; bh < c.batch * c.heads_q; ++bh)
    for (int64_t s = 0; s < S; ++s)
      for (int64_t d = 0; d < D; ++d) {
        const int64_t at = (bh * S + s) * D + d;
        qf[at] = fp8_value(c.type, q[at]) * qs[bh * T + s / c.tile];
      }
  for (int64_t bh = 0; bh < c.batch * c.heads_kv; ++bh)
    for (int64_t s = 0; s < S; ++s)
      for (int64_t d = 0; d < D; ++d) {
        const int64_t at = (bh * S + s) * D + d, t = bh * T + s / c.tile;
        kf[at] = static_cast<float>(static_cast<double>(fp8_value(c.type, k[at])) * ks[t] + mean[bh * D + d]);
        vf[at] = fp8_value(c.type, v[at]) * vs[t * D + d];
      }
  sk_block_mask mask{};
  std::vector<int32_t> full_num, full_idx, partial_num, partial_idx;
  if (c.window > 0) {  // every block within reach of the window partial, the rest hidden
    mask.batch = mask.heads = 1, mask.q_block = mask.kv_block = static_cast<int32_t>(c.tile);
    mask.n_q_blocks = mask.n_kv_blocks = static_cast<int32_t>(T);
    full_num.assign(T, 0), partial_num.assign(T, 0), full_idx.assign(T * T, 0), partial_idx.assign(T * T, 0);
    for (int64_t qb = 0; qb < T; ++qb)
      for (int64_t kb = 0; kb <= qb; ++kb)
        if ((qb - kb) * c.tile < c.window + c.tile) partial_idx[qb * T + partial_num[qb]++] = static_cast<int32_t>(kb);
    mask.full_num = full_num.data(), mask.full_idx = full_idx.data();
    mask.partial_num = partial_num.data(), mask.partial_idx = partial_idx.data();
    mask.rules.n_terms = 1, mask.rules.n_rules[0] = 1;
    mask.rules.rules[0][0].kind = SK_RULE_WINDOW, mask.rules.rules[0][0].window = c.window;
  }
  sk_attention_params p{};
  p.batch = c.batch, p.heads_q = c.heads_q, p.heads_kv = c.heads_kv, p.seq_q = p.seq_kv = S, p.head_dim = D;
  p.q_stride_b = c.heads_q * S * D, p.q_stride_h = S * D, p.q_stride_s = D;
  p.k_stride_b = p.v_stride_b = c.heads_kv * S * D, p.k_stride_h = p.v_stride_h = S * D;
  p.k_stride_s = p.v_stride_s = D;
  p.out_stride_b = p.q_stride_b, p.out_stride_h = p.q_stride_h, p.out_stride_s = D;
  p.scale = static_cast<float>(1 / sqrt(static_cast<double>(D)));
  p.causal = c.causal, p.mask = c.window > 0 ? &mask : nullptr;
  p.dtype = SK_F32, p.q = qf.data(), p.k = kf.data(), p.v = vf.data();
  const int64_t rows = c.batch * c.heads_q * S;
  std::vector<double> ref(rows * D), ref_lse(rows);
  sk_attention_reference_f64(p, ref.data(), ref_lse.data());
  double ref_max = 0;
  for (double x : ref) ref_max = worse(ref_max, fabs(x));

  const sk_fp8_scales scales{c.tile, qs.data(), ks.data(), vs.data(), c.smooth ? mean.data() : nullptr};
  p.dtype = c.type, p.q = q.data(), p.k = k.data(), p.v = v.data(), p.fp8 = &scales;
  sk::ThreadPool pool(2);
  for (sk_isa isa : isas_here()) {
    const sk_pick<sk_attention_kernel> kern = sk_cpu_attention_pick(p, isa);
    CHECK(kern.ok(), "%s: no kernel for %s: %s", c.name.c_str(), sk_isa_name(isa), kern.reason.c_str());
    if (!kern.ok()) continue;
    std::vector<float> out(rows * D, 12345.0f), lse(rows, 12345.0f);
    sk_attention_params run = p;
    run.out = out.data(), run.lse = lse.data();
    CHECK(sk_cpu_attention_run(run, kern, pool) == SK_OK, "%s: run failed", c.name.c_str());
    double err = 0, lse_err = 0;
    int bad_inf = 0;
    for (int64_t r = 0; r < rows; ++r) {
      for (int64_t d = 0; d < D; ++d) err = worse(err, fabs(out[r * D + d] - ref[r * D + d]));
      if (isinf(ref_lse[r]) || isinf(lse[r]))
        bad_inf += !(ref_lse[r] == lse[r]);
      else
        lse_err = worse(lse_err, fabs(lse[r] - ref_lse[r]) / (fabs(ref_lse[r]) > 1.0 ? fabs(ref_lse[r]) : 1.0));
    }
    CHECK(err <= 1e-5 * ref_max, "%s [%s]: max error %.3g (max |ref| %.3g)", c.name.c_str(), sk_isa_name(isa), err,
          ref_max);
    CHECK(lse_err <= 1e-5, "%s [%s]: lse error %.3g", c.name.c_str(), sk_isa_name(isa), lse_err);
    CHECK(bad_inf == 0, "%s [%s]: %d rows disagree on -inf lse", c.name.c_str(), sk_isa_name(isa), bad_inf);
  }
}

}  // namespace

SK_TEST(fp8_attention_every_isa_against_the_dequantised_oracle) {
  run_fp8({"e4m3 dense causal smoothed, D 64", SK_F8E4M3FN, 1, 2, 1, 150, 64, 32, true, true, 0});
  run_fp8({"e5m2 GQA batch 2, D 80 (vector tails)", SK_F8E5M2, 2, 4, 2, 100, 80, 16, false, true, 0});
  run_fp8({"e4m3 window mask (partial blocks, unsmoothed), D 36", SK_F8E4M3FN, 1, 2, 2, 200, 36, 64, false, false, 90});
  run_fp8({"e5m2 window mask causal, D 128", SK_F8E5M2, 1, 1, 1, 257, 128, 128, true, true, 200});
}
