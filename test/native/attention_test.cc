// Attention: every kernel set this CPU runs against the float64 oracle
// (csrc/cpu/reference/attention.cc, whose token rules are written apart from
// the kernels' csrc/core/mask_rules.h); the micro-kernels alone are in
// attention_ukernel_test.cc, NaN inputs in attention_nan_test.cc.
//
// Budgets (docs: DESIGN.md, Testing):
// - float32 out and every lse: max |got - ref| <= 1e-5 * max |ref| (max norm),
//   lse compared where finite; -inf exactly where the oracle has no visible key.
// - float16 / bfloat16 out: max |got - ref| <= 2 * max |round(ref) - ref|, the
//   error of the float64 result rounded to that type (FlashAttention's rule).
// - No NaN anywhere, and no write outside the output's elements.
#include <math.h>
#include <stdint.h>
#include <string.h>

#include <algorithm>
#include <functional>
#include <string>
#include <vector>

#include "../../csrc/core/cast_math.h"
#include "../../csrc/core/cpu_features.h"
#include "../../csrc/core/threadpool.h"
#include "../../csrc/cpu/dispatch.h"
#include "../../csrc/cpu/f32-attn/f32-attn.h"
#include "../../csrc/cpu/reference/attention.h"
#include "check.h"
#include "helpers.h"

namespace {

using sk::ScalarLanes;

using sktest::isas_here;
using sktest::Rng;

float decode(sk_dtype t, const std::vector<uint8_t>& buf, int64_t at) {
  if (t == SK_F32) return reinterpret_cast<const float*>(buf.data())[at];
  const uint32_t h = reinterpret_cast<const uint16_t*>(buf.data())[at];
  return ScalarLanes::flt(t == SK_F16 ? sk::f16_to_f32<ScalarLanes>(h) : sk::bf16_to_f32<ScalarLanes>(h));
}

double round_to(sk_dtype t, double x) {
  if (t == SK_F32) return static_cast<float>(x);
  const uint32_t u = ScalarLanes::bits(static_cast<float>(x));
  const uint32_t h = t == SK_F16 ? sk::f32_to_f16<ScalarLanes>(u) : sk::f32_to_bf16<ScalarLanes>(u);
  return ScalarLanes::flt(t == SK_F16 ? sk::f16_to_f32<ScalarLanes>(h) : sk::bf16_to_f32<ScalarLanes>(h));
}

// A tensor [n0, n1, n2, D] in one of three layouts: bhsd, bshd, or bhsd with
// padded rows and heads (elements outside the tensor must never be written).
struct Tensor {
  std::vector<uint8_t> data;
  int64_t sb, sh, ss;
};

enum Layout { kBhsd, kBshd, kPadded };

Tensor make_tensor(sk_dtype t, int64_t b, int64_t h, int64_t s, int64_t d, Layout layout, Rng* rng, double scale) {
  Tensor x;
  if (layout == kBhsd) x.ss = d, x.sh = s * d, x.sb = h * s * d;
  if (layout == kBshd) x.ss = h * d, x.sh = d, x.sb = s * h * d;
  if (layout == kPadded) x.ss = d + 5, x.sh = s * (d + 5) + 3, x.sb = h * (s * (d + 5) + 3) + 7;
  const int64_t n = b * x.sb + 8;
  const size_t es = sk_dtype_size(t);
  x.data.assign(static_cast<size_t>(n) * es, 0xFF);  // NaN in every dtype: a read of padding shows
  for (int64_t i = 0; i < b; ++i)
    for (int64_t j = 0; j < h; ++j)
      for (int64_t k = 0; k < s; ++k)
        for (int64_t e = 0; e < d; ++e) {
          const int64_t at = i * x.sb + j * x.sh + k * x.ss + e;
          const float v = static_cast<float>(scale * (rng ? rng->normal() : 0.0));
          if (t == SK_F32) {
            reinterpret_cast<float*>(x.data.data())[at] = v;
          } else {
            const uint32_t u = ScalarLanes::bits(v);
            reinterpret_cast<uint16_t*>(x.data.data())[at] =
                static_cast<uint16_t>(t == SK_F16 ? sk::f32_to_f16<ScalarLanes>(u) : sk::f32_to_bf16<ScalarLanes>(u));
          }
        }
  return x;
}

// A block mask that owns its arrays. classify(b, h, qb, kb) → 0 hidden, 1 full, 2 partial.
struct Mask {
  sk_block_mask m{};
  std::vector<int32_t> full_num, full_idx, partial_num, partial_idx, q_seg, kv_seg;
};

using Classify = std::function<int(int64_t b, int64_t h, int64_t qb, int64_t kb)>;

Mask* make_mask(Mask* out, int32_t batch, int32_t heads, int64_t sq, int64_t skv, int32_t qbs, int32_t kvbs,
                const Classify& classify) {
  sk_block_mask& m = out->m;
  m.batch = batch, m.heads = heads, m.q_block = qbs, m.kv_block = kvbs;
  m.n_q_blocks = static_cast<int32_t>((sq + qbs - 1) / qbs);
  m.n_kv_blocks = static_cast<int32_t>((skv + kvbs - 1) / kvbs);
  const size_t rows = static_cast<size_t>(batch) * heads * m.n_q_blocks;
  out->full_num.assign(rows, 0), out->partial_num.assign(rows, 0);
  out->full_idx.assign(rows * m.n_kv_blocks, -1), out->partial_idx.assign(rows * m.n_kv_blocks, -1);
  for (int32_t b = 0; b < batch; ++b)
    for (int32_t h = 0; h < heads; ++h)
      for (int32_t qb = 0; qb < m.n_q_blocks; ++qb) {
        const size_t row = (static_cast<size_t>(b) * heads + h) * m.n_q_blocks + qb;
        for (int32_t kb = 0; kb < m.n_kv_blocks; ++kb) {
          const int kind = classify(b, h, qb, kb);
          if (kind == 1) out->full_idx[row * m.n_kv_blocks + out->full_num[row]++] = kb;
          if (kind == 2) out->partial_idx[row * m.n_kv_blocks + out->partial_num[row]++] = kb;
        }
      }
  m.full_num = out->full_num.data(), m.full_idx = out->full_idx.data();
  m.partial_num = out->partial_num.data(), m.partial_idx = out->partial_idx.data();
  return out;
}

// Classifies each block by the rules' token visibility (all → full, none →
// hidden, some → partial); every_partial sends all non-hidden blocks through
// the per-token path.
Classify by_rules(const sk_mask_rules* rules, int64_t sq, int64_t skv, int32_t qbs, int32_t kvbs, bool every_partial) {
  return [=](int64_t b, int64_t h, int64_t qb, int64_t kb) {
    int seen = 0, total = 0;
    for (int64_t i = qb * qbs; i < std::min(sq, (qb + 1) * qbs); ++i)
      for (int64_t j = kb * kvbs; j < std::min(skv, (kb + 1) * kvbs); ++j, ++total)
        seen += sk_reference_rules_visible(*rules, b, h, i, j, skv - sq);
    if (seen == 0) return 0;
    return seen == total && !every_partial ? 1 : 2;
  };
}

struct Case {
  std::string name;
  sk_dtype dtype = SK_F32;
  int64_t batch = 1, heads_q = 2, heads_kv = 1, seq_q = 64, seq_kv = 64, head_dim = 64;
  bool causal = false;
  Layout layout = kBhsd;
  double scale = 0;  // 0: 1/sqrt(D)
  const Mask* mask = nullptr;
};

double max_abs(const std::vector<double>& v) {
  double m = 0;
  for (double x : v) m = fabs(x) > m ? fabs(x) : m;
  return m;
}

// Runs one case on every ISA here; returns the float32 outputs of the last ISA (for cross-checks).
void run_case(const Case& c, int threads = 2) {
  Rng rng{0x9E3779B97F4A7C15ull ^ std::hash<std::string>()(c.name)};
  Tensor q = make_tensor(c.dtype, c.batch, c.heads_q, c.seq_q, c.head_dim, c.layout, &rng, 1.0);
  Tensor k = make_tensor(c.dtype, c.batch, c.heads_kv, c.seq_kv, c.head_dim, c.layout, &rng, 1.0);
  Tensor v = make_tensor(c.dtype, c.batch, c.heads_kv, c.seq_kv, c.head_dim, c.layout, &rng, 1.0);
  sk_attention_params p{};
  p.q = q.data.data(), p.k = k.data.data(), p.v = v.data.data(), p.dtype = c.dtype;
  p.batch = c.batch, p.heads_q = c.heads_q, p.heads_kv = c.heads_kv;
  p.seq_q = c.seq_q, p.seq_kv = c.seq_kv, p.head_dim = c.head_dim;
  p.q_stride_b = q.sb, p.q_stride_h = q.sh, p.q_stride_s = q.ss;
  p.k_stride_b = k.sb, p.k_stride_h = k.sh, p.k_stride_s = k.ss;
  p.v_stride_b = v.sb, p.v_stride_h = v.sh, p.v_stride_s = v.ss;
  p.scale = static_cast<float>(c.scale != 0 ? c.scale : 1 / sqrt(static_cast<double>(c.head_dim)));
  p.causal = c.causal, p.mask = c.mask ? &c.mask->m : nullptr;
  const int64_t rows = c.batch * c.heads_q * c.seq_q;
  std::vector<double> ref(static_cast<size_t>(rows * c.head_dim)), ref_lse(static_cast<size_t>(rows));
  sk_attention_reference_f64(p, ref.data(), ref_lse.data());

  const double ref_max = max_abs(ref);
  double budget = 1e-5 * ref_max;
  if (c.dtype != SK_F32) {
    double rounding = 0;
    for (double x : ref) rounding = fmax(rounding, fabs(round_to(c.dtype, x) - x));
    budget = 2 * rounding;
  }
  double lse_max = 0;
  for (double x : ref_lse) lse_max = isfinite(x) ? fmax(lse_max, fabs(x)) : lse_max;

  sk::ThreadPool pool(threads);
  for (sk_isa isa : isas_here()) {
    const sk_pick<sk_attention_kernel> kern = sk_cpu_attention_pick(p, isa);
    CHECK(kern.ok(), "%s: no kernel for %s: %s", c.name.c_str(), sk_isa_name(isa), kern.reason.c_str());
    if (!kern.ok()) continue;
    Tensor out = make_tensor(c.dtype, c.batch, c.heads_q, c.seq_q, c.head_dim, c.layout, nullptr, 0);
    const std::vector<uint8_t> untouched = out.data;
    std::vector<float> lse(static_cast<size_t>(rows), 12345.0f);
    sk_attention_params run = p;
    run.out = out.data.data(), run.lse = lse.data();
    run.out_stride_b = out.sb, run.out_stride_h = out.sh, run.out_stride_s = out.ss;
    CHECK(sk_cpu_attention_run(run, kern, pool) == SK_OK, "%s: run failed", c.name.c_str());

    double err = 0, lse_err = 0;
    int nans = 0, bad_inf = 0, stray = 0;
    std::vector<char> inside(out.data.size() / sk_dtype_size(c.dtype), 0);
    for (int64_t b = 0; b < c.batch; ++b)
      for (int64_t h = 0; h < c.heads_q; ++h)
        for (int64_t i = 0; i < c.seq_q; ++i) {
          const int64_t row = (b * c.heads_q + h) * c.seq_q + i;
          for (int64_t d = 0; d < c.head_dim; ++d) {
            const int64_t at = b * out.sb + h * out.sh + i * out.ss + d;
            inside[at] = 1;
            const float got = decode(c.dtype, out.data, at);
            nans += got != got;
            err = fmax(err, fabs(got - ref[row * c.head_dim + d]));
          }
          nans += lse[row] != lse[row];
          if (isinf(ref_lse[row]) || isinf(lse[row]))
            bad_inf += !(ref_lse[row] == lse[row]);
          else
            lse_err = fmax(lse_err, fabs(lse[row] - ref_lse[row]));
        }
    const size_t es = sk_dtype_size(c.dtype);
    for (size_t e = 0; e < inside.size(); ++e) stray += !inside[e] && memcmp(&out.data[e * es], &untouched[e * es], es);
    CHECK(nans == 0, "%s [%s]: %d NaN", c.name.c_str(), sk_isa_name(isa), nans);
    CHECK(err <= budget, "%s [%s]: max error %.3g > budget %.3g (max |ref| %.3g)", c.name.c_str(), sk_isa_name(isa),
          err, budget, ref_max);
    CHECK(lse_err <= 1e-5 * fmax(1.0, lse_max), "%s [%s]: lse error %.3g", c.name.c_str(), sk_isa_name(isa), lse_err);
    CHECK(bad_inf == 0, "%s [%s]: %d rows disagree on -inf lse", c.name.c_str(), sk_isa_name(isa), bad_inf);
    CHECK(stray == 0, "%s [%s]: %d elements written outside the output", c.name.c_str(), sk_isa_name(isa), stray);
  }
}

sk_mask_rule rule(int32_t kind, int64_t window = 0, int64_t sink = 0, int64_t local = 0, const int32_t* q_seg = nullptr,
                  const int32_t* kv_seg = nullptr) {
  sk_mask_rule r{};
  r.kind = kind, r.window = window, r.sink = sink, r.local = local, r.q_seg = q_seg, r.kv_seg = kv_seg;
  return r;
}

}  // namespace

SK_TEST(attention_dense_odd_lengths) {
  for (int64_t s : {1, 7, 1000})
    for (bool causal : {false, true}) {
      Case c;
      c.name = "dense S=" + std::to_string(s) + (causal ? " causal" : "");
      c.seq_q = c.seq_kv = s, c.causal = causal, c.heads_q = s == 1000 ? 1 : 2;
      run_case(c);
    }
}

SK_TEST(attention_seqlen_not_a_multiple_of_the_block_1000_tokens_block_128) {
  Mask mask;
  make_mask(&mask, 1, 1, 1000, 1000, 128, 128, [](int64_t, int64_t, int64_t, int64_t) { return 1; });
  for (bool causal : {false, true}) {
    Case c;
    c.name = std::string("all-full mask, block 128") + (causal ? " causal" : "");
    c.seq_q = c.seq_kv = 1000, c.heads_q = 1, c.causal = causal, c.mask = &mask;
    run_case(c);
  }
}

SK_TEST(attention_causal_chunked_prefill_and_rows_with_no_key) {
  const int64_t shapes[][2] = {{100, 300}, {1, 257}, {300, 100}, {65, 64}};  // Sq > Skv: the first rows see nothing
  for (const auto& s : shapes) {
    Case c;
    c.name = "causal Sq=" + std::to_string(s[0]) + " Skv=" + std::to_string(s[1]);
    c.seq_q = s[0], c.seq_kv = s[1], c.causal = true;
    run_case(c);
  }
}

SK_TEST(attention_gqa_8_to_1_batch_3_and_mqa) {
  for (int64_t hkv : {1, 2}) {
    Case c;
    c.name = "gqa Hq=8 Hkv=" + std::to_string(hkv) + " B=3";
    c.batch = 3, c.heads_q = 8, c.heads_kv = hkv, c.seq_q = 77, c.seq_kv = 93, c.head_dim = 32, c.causal = hkv == 2;
    c.layout = kBshd;
    run_case(c);
  }
}

SK_TEST(attention_head_dims_and_layouts) {
  const int64_t dims[] = {8, 13, 32, 64, 72, 80, 96, 128, 256};
  int n = 0;
  for (int64_t d : dims) {
    Case c;
    c.head_dim = d, c.seq_q = 70, c.seq_kv = 90, c.causal = n % 2 == 1, c.layout = static_cast<Layout>(n++ % 3);
    c.name = "D=" + std::to_string(d) + " layout " + std::to_string(c.layout);
    run_case(c);
  }
}

SK_TEST(attention_sharp_softmax_rescales) {
  Case c;  // logits ~ N(0, 64): the running max moves by large steps between chunks
  c.name = "scale 1, D=64", c.seq_q = 130, c.seq_kv = 500, c.scale = 1.0, c.causal = true;
  run_case(c);
}

SK_TEST(attention_masks_with_partial_blocks_of_each_rule_kind) {
  const int64_t sq = 300, skv = 333;
  std::vector<int32_t> qs(sq), ks(skv);
  for (int64_t i = 0; i < sq; ++i) qs[i] = i < 280 ? static_cast<int32_t>(i / 90) : -2 /* the query segment */;
  for (int64_t j = 0; j < skv; ++j) ks[j] = j < 20 ? -1 /* the prefix */ : static_cast<int32_t>((j - 20) / 100);
  struct Kind {
    const char* name;
    sk_mask_rules rules;
  };
  std::vector<Kind> kinds(6);
  kinds[0] = {"causal rule", {1, {1}, {{rule(SK_RULE_CAUSAL)}}}};
  kinds[1] = {"window 37", {1, {1}, {{rule(SK_RULE_WINDOW, 37)}}}};
  kinds[2] = {"streaming sink 5 local 40", {1, {1}, {{rule(SK_RULE_STREAMING, 0, 5, 40)}}}};
  kinds[3] = {"documents", {1, {1}, {{rule(SK_RULE_DOCUMENTS, 0, 0, 0, qs.data(), ks.data())}}}};
  kinds[4] = {"documents AND causal OR window 16", {2, {2, 1}, {{}, {rule(SK_RULE_WINDOW, 16)}}}};
  kinds[4].rules.rules[0][0] = rule(SK_RULE_DOCUMENTS, 0, 0, 0, qs.data(), ks.data());
  kinds[4].rules.rules[0][1] = rule(SK_RULE_CAUSAL);
  kinds[5] = {"no rules (partial = full)", {0, {}, {}}};
  for (const Kind& kind : kinds)
    for (int variant = 0; variant < 3; ++variant) {
      // 0: exact classes, 32×48 blocks; 1: every block partial, 16×16; 2: exact, 64×128, causal flag too
      const int32_t qbs = variant == 0   ? 32
                          : variant == 1 ? 16
                                         : 64,
                    kvbs = variant == 0   ? 48
                           : variant == 1 ? 16
                                          : 128;
      Mask mask;
      make_mask(&mask, 1, 1, sq, skv, qbs, kvbs, by_rules(&kind.rules, sq, skv, qbs, kvbs, variant == 1));
      mask.m.rules = kind.rules;
      Case c;
      c.name = std::string(kind.name) + " variant " + std::to_string(variant);
      c.seq_q = sq, c.seq_kv = skv, c.mask = &mask, c.causal = variant == 2, c.head_dim = 48;
      run_case(c);
    }
}

SK_TEST(attention_per_head_masks_hidden_rows_and_batch_broadcast) {
  // Per (b, h, qb, kb) random classes with a window rule on the partial
  // blocks; query block 2 of head 1 has no block at all (zeros, lse -inf).
  const int64_t sq = 200, skv = 260;
  for (int32_t mask_batch : {1, 2}) {
    Mask mask;
    make_mask(&mask, mask_batch, 3, sq, skv, 32, 32, [](int64_t b, int64_t h, int64_t qb, int64_t kb) {
      if (h == 1 && qb == 2) return 0;
      const uint64_t x = (b * 131 + h * 31 + qb * 7 + kb) * 0x9E3779B97F4A7C15ull;
      return static_cast<int>((x >> 60) % 3);
    });
    mask.m.rules = {1, {1}, {{rule(SK_RULE_WINDOW, 50)}}};
    Case c;
    c.name = "random classes, mask batch " + std::to_string(mask_batch);
    c.batch = 2, c.heads_q = 3, c.heads_kv = 3, c.seq_q = sq, c.seq_kv = skv, c.mask = &mask, c.layout = kBshd;
    run_case(c);
  }
}

SK_TEST(attention_float16_and_bfloat16) {
  Mask mask;
  sk_mask_rules window = {1, {1}, {{rule(SK_RULE_WINDOW, 70)}}};
  make_mask(&mask, 1, 1, 257, 257, 64, 64, by_rules(&window, 257, 257, 64, 64, false));
  mask.m.rules = window;
  for (sk_dtype t : {SK_F16, SK_BF16}) {
    const std::string tn = sk_dtype_name(t);
    Case a;
    a.name = tn + " dense causal", a.dtype = t, a.seq_q = 200, a.seq_kv = 300, a.causal = true;
    run_case(a);
    Case b;
    b.name = tn + " window mask", b.dtype = t, b.seq_q = b.seq_kv = 257, b.mask = &mask, b.head_dim = 80;
    run_case(b);
    Case g;
    g.name = tn + " gqa bshd D=128", g.dtype = t, g.heads_q = 4, g.heads_kv = 2, g.seq_q = 33, g.seq_kv = 129;
    g.head_dim = 128, g.layout = kPadded;
    run_case(g);
  }
}

SK_TEST(attention_thread_count_does_not_change_the_bits) {
  Rng rng{7};
  const int64_t S = 300, D = 64;
  Tensor q = make_tensor(SK_F32, 1, 4, S, D, kBhsd, &rng, 1), k = make_tensor(SK_F32, 1, 4, S, D, kBhsd, &rng, 1);
  sk_attention_params p{};
  p.q = q.data.data(), p.k = k.data.data(), p.v = k.data.data(), p.dtype = SK_F32;
  p.batch = 1, p.heads_q = p.heads_kv = 4, p.seq_q = p.seq_kv = S, p.head_dim = D, p.scale = 0.125f, p.causal = true;
  p.q_stride_b = p.k_stride_b = p.v_stride_b = p.out_stride_b = q.sb;
  p.q_stride_h = p.k_stride_h = p.v_stride_h = p.out_stride_h = q.sh;
  p.q_stride_s = p.k_stride_s = p.v_stride_s = p.out_stride_s = q.ss;
  for (sk_isa isa : isas_here()) {
    std::vector<float> first;
    for (int threads : {1, 3}) {
      std::vector<float> out(static_cast<size_t>(4 * S * D));
      p.out = out.data();
      sk::ThreadPool pool(threads);
      const sk_pick<sk_attention_kernel> kern = sk_cpu_attention_pick(p, isa);
      CHECK(kern.ok(), "%s: no kernel: %s", sk_isa_name(isa), kern.reason.c_str());
      if (!kern.ok()) continue;
      CHECK(sk_cpu_attention_run(p, kern, pool) == SK_OK, "%s, %d threads: run failed", sk_isa_name(isa), threads);
      if (first.empty())
        first = out;
      else
        CHECK(first == out, "%s: 1 and 3 threads differ", sk_isa_name(isa));
    }
  }
}

// PBS-Attn's rule: keys stored permuted per (batch, key head), each query sees
// the keys whose original position is not after it. Batch 2, GQA 4:2, so the
// kernels must pick the row of kv_pos by batch and key head.
SK_TEST(attention_permuted_causal_rule_per_batch_and_key_head) {
  const int64_t batch = 2, hq = 4, hkv = 2, s = 150;
  std::vector<int32_t> pos(static_cast<size_t>(batch * hkv * s));
  Rng rng{77};
  for (int64_t row = 0; row < batch * hkv; ++row) {
    int32_t* p = pos.data() + row * s;
    for (int64_t j = 0; j < s; ++j) p[j] = static_cast<int32_t>(j);
    for (int64_t seg = 0; seg + 64 <= s; seg += 64)  // shuffle inside segments of 64; the tail keeps its order
      for (int64_t j = 63; j > 0; --j) std::swap(p[seg + j], p[seg + static_cast<int64_t>(rng.uniform() * (j + 1))]);
  }
  sk_mask_rules rules{1, {1}, {{rule(SK_RULE_PERMUTED_CAUSAL)}}};
  rules.rules[0][0].kv_pos = pos.data();
  rules.rules[0][0].pos_stride_h = s, rules.rules[0][0].pos_stride_b = hkv * s, rules.rules[0][0].pos_group = hq / hkv;
  for (int variant = 0; variant < 2; ++variant) {
    Mask mask;
    make_mask(&mask, batch, hq, s, s, 32, 32, by_rules(&rules, s, s, 32, 32, variant == 1));
    mask.m.rules = rules;
    Case c;
    c.name = std::string("permuted causal") + (variant ? " every block partial" : " exact classes");
    c.batch = batch, c.heads_q = hq, c.heads_kv = hkv, c.seq_q = c.seq_kv = s, c.mask = &mask;
    run_case(c);
  }
}
