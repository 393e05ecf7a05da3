// Attention micro-kernels on their own, for every kernel set this CPU runs:
// the qk / pv tile kernels against plain loops for every mr and column count,
// and the vectorized exp2 (budget: 2 ulp, exact 0 and 1 at the edges).
#include <math.h>
#include <stdint.h>
#include <string.h>

#include <algorithm>
#include <vector>

#include "../../csrc/core/cpu_features.h"
#include "../../csrc/cpu/f32-attn/f32-attn.h"
#include "check.h"
#include "helpers.h"

using sktest::isas_here;
using sktest::Rng;

namespace {

// The micro-kernels of one kernel set against float64 loops, every mr and nc.
struct Ukernels {
  const char* isa;
  sk_isa id;
  int mr, nr, lanes;
  decltype(&sk_f32_attn_qk_ukernel_4x4__scalar) qk;
  decltype(&sk_f32_attn_pv_ukernel_4x4__scalar) pv;
  decltype(&sk_f32_vexp2_ukernel__scalar) vexp2;
};

std::vector<Ukernels> ukernels() {
  std::vector<Ukernels> all;
#define SK_ISA_ID_scalar SK_ISA_SCALAR
#define SK_ISA_ID_avx2 SK_ISA_AVX2
#define SK_ISA_ID_avx512 SK_ISA_AVX512
#define SK_ISA_ID_neon SK_ISA_NEON
#define SK_ATTN_UKERNEL(isa, mr, nr, width)                                                                            \
  all.push_back({#isa, SK_ISA_ID_##isa, mr, nr, width, sk_f32_attn_qk_ukernel_##mr##x##nr##__##isa,                    \
                 sk_f32_attn_pv_ukernel_##mr##x##nr##__##isa, sk_f32_vexp2_ukernel__##isa});
#include "../../csrc/cpu/f32-attn/attention.inc"
#undef SK_ATTN_UKERNEL
  std::vector<Ukernels> here;
  sk_cpu_features f = sk_cpu_detect();
  for (const Ukernels& u : all)
    if (sk_isa_supported(u.id, f)) here.push_back(u);
  return here;
}

}  // namespace

SK_TEST(attention_qk_and_pv_ukernels_every_mr_and_nc) {
  Rng rng{11};
  for (const Ukernels& u : ukernels())
    for (size_t kc : {1, 3, 17, 64})
      for (int mr = 1; mr <= u.mr; ++mr)
        for (int nc = u.lanes; nc <= u.nr; nc += u.lanes) {
          const size_t lda = kc + 3, ldb = u.nr + 5, ldc = u.nr + 7;
          std::vector<float> a(u.mr * lda * (kc + 1)), b(kc * ldb), c(u.mr * ldc), alpha(u.nr);
          for (float& x : a) x = static_cast<float>(rng.normal());
          for (float& x : b) x = static_cast<float>(rng.normal());
          for (float& x : alpha) x = static_cast<float>(rng.uniform());
          for (float& x : c) x = static_cast<float>(rng.normal());
          std::vector<float> c0 = c;
          double err = 0, err_pv = 0;
          u.qk(mr, nc, kc, a.data(), lda, b.data(), ldb, c.data(), ldc);
          for (int m = 0; m < u.mr; ++m)
            for (size_t n = 0; n < ldc; ++n) {
              double want = c0[m * ldc + n];
              if (m < mr && n < static_cast<size_t>(nc)) {
                want = 0;
                for (size_t k = 0; k < kc; ++k) want += double(a[m * lda + k]) * b[k * ldb + n];
              }
              err = fmax(err, fabs(c[m * ldc + n] - want) / (1 + fabs(want)));
            }
          c = c0;  // pv: A is column-major (element m of key k at a[k * lda + m])
          u.pv(mr, nc, kc, a.data(), lda, b.data(), ldb, alpha.data(), c.data(), ldc);
          for (int m = 0; m < u.mr; ++m)
            for (size_t n = 0; n < ldc; ++n) {
              double want = c0[m * ldc + n];
              if (m < mr && n < static_cast<size_t>(nc)) {
                want *= alpha[n];
                for (size_t k = 0; k < kc; ++k) want += double(a[k * lda + m]) * b[k * ldb + n];
              }
              err_pv = fmax(err_pv, fabs(c[m * ldc + n] - want) / (1 + fabs(want)));
            }
          CHECK(err < 1e-5, "%s qk mr=%d nc=%d kc=%zu: error %.3g", u.isa, mr, nc, kc, err);
          CHECK(err_pv < 1e-5, "%s pv mr=%d nc=%d kc=%zu: error %.3g", u.isa, mr, nc, kc, err_pv);
        }
}

SK_TEST(attention_vexp2_within_2_ulp_and_exact_at_the_edges_and_nan) {
  std::vector<float> x;
  for (int i = 0; i <= 200000; ++i) x.push_back(-126.0f * static_cast<float>(i) / 200000.0f);
  for (int i = 0; i <= 100000; ++i) x.push_back(-static_cast<float>(i) / 100000.0f);  // the softmax's usual range
  for (float e : {0.0f, -1.0f, -0.5f, -125.0f, -126.0f, -126.5f, -127.0f, -150.0f, -1e30f, -INFINITY}) x.push_back(e);
  for (int i = 0; i < 19; ++i) x.push_back(i % 2 ? NAN : -NAN);  // NaN stays NaN, in vector lanes and in the tail
  for (const Ukernels& u : ukernels()) {
    std::vector<float> y(x.size());
    u.vexp2(x.size(), x.data(), y.data());
    double worst = 0;
    int bad_edges = 0;
    for (size_t i = 0; i < x.size(); ++i) {
      const double want = exp2(static_cast<double>(x[i]));
      if (x[i] != x[i]) {
        bad_edges += y[i] == y[i];  // NaN → NaN (the NaN rule)
      } else if (x[i] >= -126.0f) {
        const double ulp = nextafterf(static_cast<float>(want), INFINITY) - static_cast<float>(want);
        worst = fmax(worst, fabs(y[i] - want) / ulp);
        bad_edges += x[i] == rintf(x[i]) && y[i] != static_cast<float>(want);  // integers: exact powers of two
      } else {
        bad_edges += y[i] != 0.0f;  // below 2^-126, -inf: exactly 0
      }
    }
    CHECK(worst <= 2.0, "%s: vexp2 max error %.3g ulp", u.isa, worst);
    CHECK(bad_edges == 0, "%s: %d edge values wrong", u.isa, bad_edges);
  }
}
