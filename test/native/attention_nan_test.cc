// The NaN rule (docs/attention.md): a NaN in q_i, or in k_j of a key j that
// row i sees, makes row i's output and lse NaN; a NaN in v_j[d] makes
// out_i[d] NaN for each row i that sees key j; everything else comes out as
// it would without the NaN, bit for bit. Checked on every ISA here,
// with the picked tiles and other query / key tile sizes, and with the same
// visibility given as a causal flag, as causal blocks, and as every block
// partial (other key-tile orders): the set of NaN rows never changes.
#include <math.h>
#include <stdint.h>

#include <string>
#include <vector>

#include "../../csrc/core/threadpool.h"
#include "../../csrc/cpu/dispatch.h"
#include "check.h"
#include "helpers.h"

namespace {

constexpr int64_t kS = 150, kD = 40, kHq = 2;  // 3 key tiles of 64, GQA 2:1
constexpr int64_t kNanAt = 7;                  // the poisoned element of a row

struct Run {
  std::vector<float> out, lse;
};

// Causal visibility as a block mask: full below the diagonal, partial on it
// (causal rule); every_partial sends every visible block through the rules.
struct CausalMask {
  sk_block_mask m{};
  std::vector<int32_t> full_num, full_idx, partial_num, partial_idx;
  CausalMask(int32_t block, bool every_partial) {
    const int32_t n = static_cast<int32_t>((kS + block - 1) / block);
    m.batch = m.heads = 1, m.q_block = m.kv_block = block, m.n_q_blocks = m.n_kv_blocks = n;
    full_num.assign(n, 0), partial_num.assign(n, 0), full_idx.assign(n * n, 0), partial_idx.assign(n * n, 0);
    for (int32_t qb = 0; qb < n; ++qb)
      for (int32_t kb = 0; kb <= qb; ++kb) {
        if (kb < qb && !every_partial)
          full_idx[qb * n + full_num[qb]++] = kb;
        else
          partial_idx[qb * n + partial_num[qb]++] = kb;
      }
    m.full_num = full_num.data(), m.full_idx = full_idx.data();
    m.partial_num = partial_num.data(), m.partial_idx = partial_idx.data();
    m.rules.n_terms = 1, m.rules.n_rules[0] = 1, m.rules.rules[0][0].kind = SK_RULE_CAUSAL;
  }
};

// Runs attention with the ISA's kernel and, when q_tile > 0, other tiles.
Run run(sk_attention_params p, sk_isa isa, int32_t q_tile, int32_t kv_tile) {
  Run r{std::vector<float>(kHq * kS * kD), std::vector<float>(kHq * kS)};
  p.out = r.out.data(), p.lse = r.lse.data();
  sk_pick<sk_attention_kernel> k = sk_cpu_attention_pick(p, isa);
  CHECK(k.ok(), "%s: %s", sk_isa_name(isa), k.reason.c_str());
  if (q_tile > 0) {
    sk_attention_tiling& t = k.kernel.tiling;
    t.q_tile = q_tile, t.kv_tile = kv_tile, t.scratch = sk_attention_scratch_layout(p.head_dim, q_tile, kv_tile);
    k.scratch_bytes = t.scratch.floats * sizeof(float);
  }
  sk::ThreadPool pool(2);
  CHECK(sk_cpu_attention_run(p, k, pool) == SK_OK, "%s: run failed", sk_isa_name(isa));
  return r;
}

}  // namespace

SK_TEST(attention_nan_reaches_exactly_the_rows_that_read_it) {
  sktest::Rng rng{99};
  std::vector<float> q(kHq * kS * kD), kv(kS * kD);
  for (float& x : q) x = static_cast<float>(rng.normal());
  for (float& x : kv) x = static_cast<float>(rng.normal());
  sk_attention_params base{};
  base.dtype = SK_F32, base.batch = 1, base.heads_q = kHq, base.heads_kv = 1, base.seq_q = base.seq_kv = kS;
  base.head_dim = kD, base.scale = 0.15f;
  base.q_stride_b = base.out_stride_b = kHq * kS * kD, base.q_stride_h = base.out_stride_h = kS * kD;
  base.q_stride_s = base.out_stride_s = base.k_stride_s = base.v_stride_s = kD;
  base.k_stride_b = base.v_stride_b = base.k_stride_h = base.v_stride_h = kS * kD;
  const CausalMask blocks32(32, false), partial16(16, true);

  struct Poison {
    const char* what;
    char tensor;  // 'q', 'k' or 'v'
    int64_t row;  // token (q: of head 0)
  };
  // Under causality query i reads keys 0..i: a NaN key j reaches rows i >= j.
  const Poison poisons[] = {{"q row 10", 'q', 10},
                            {"k row 70", 'k', 70},
                            {"k row 0 (every row reads it)", 'k', 0},
                            {"v row 0 (every row reads it)", 'v', 0},
                            {"v row 149 (the last row reads it)", 'v', 149}};
  struct Tiling {
    int32_t q, kv;
  };
  const Tiling tilings[] = {{0, 0}, {32, 32}, {64, 48}, {128, 16}};
  for (const Poison& poison : poisons) {
    std::vector<float> pq = q, pk = kv, pv = kv;
    std::vector<float>& target = poison.tensor == 'q' ? pq : poison.tensor == 'k' ? pk : pv;
    target[poison.row * kD + kNanAt] = NAN;
    for (sk_isa isa : sktest::isas_here())
      for (const Tiling& t : tilings)
        for (int vis = 0; vis < 3; ++vis) {  // causal flag; causal blocks of 32; every block of 16 partial
          sk_attention_params clean = base, p = base;
          clean.q = q.data(), clean.k = kv.data(), clean.v = kv.data();
          p.q = pq.data(), p.k = pk.data(), p.v = pv.data();
          clean.causal = p.causal = vis == 0;
          clean.mask = p.mask = vis == 0 ? nullptr : vis == 1 ? &blocks32.m : &partial16.m;
          const Run want = run(clean, isa, t.q, t.kv), got = run(p, isa, t.q, t.kv);
          int wrong_nan = 0, wrong_value = 0;
          for (int64_t h = 0; h < kHq; ++h)
            for (int64_t i = 0; i < kS; ++i) {
              const bool reads = poison.tensor == 'q' ? h == 0 && i == poison.row : i >= poison.row;
              const int64_t row = h * kS + i;
              // A NaN in v_j[d] reaches out_i[d] only; one in q_i or k_j the whole row and its lse.
              const bool scores = poison.tensor != 'v';
              for (int64_t d = 0; d < kD; ++d) {
                const float x = got.out[row * kD + d];
                if (reads && (scores || d == kNanAt))
                  wrong_nan += x == x;
                else
                  wrong_value += x != want.out[row * kD + d];
              }
              if (reads && scores)
                wrong_nan += got.lse[row] == got.lse[row];
              else
                wrong_value += got.lse[row] != want.lse[row];
            }
          CHECK(wrong_nan == 0 && wrong_value == 0,
                "%s [%s, tiles %dx%d, visibility %d]: %d values not NaN in rows "
                "that read the NaN, %d values changed in rows that do not",
                poison.what, sk_isa_name(isa), t.q, t.kv, vis, wrong_nan, wrong_value);
        }
  }
}
