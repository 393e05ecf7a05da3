// Linear micro-kernels on their own, for every kernel set this CPU runs
// (gemm.inc, sp24.inc), against float64 loops, XNNPACK-style edges: every
// mr ≤ MR and nc ≤ NR of the gemm tile (k_eq_1, k_lt/gt the unroll),
// accumulate and bias on/off; gemv rows below / above the 4-row unroll and K
// off the vector width; the 2:4 panel kernel every mr ≤ MR and nr ≤ 8 with
// group counts from 0 to many, bias / accumulate, strided x and out; the 2:4
// gemv every panel count ≤ 4 and nr ≤ 8 of the last panel, panels apart, and
// its code check (a bad code in the last row of the last panel, in the first,
// a middle and the last group); the 2:4
// SpMM kernel (rows of x transposed) every nr ≤ 8 with group counts from 0
// to many, bias / accumulate, an output stride past its rows;
// float32, float16 and bfloat16 weights. Budget: 1e-5 relative to the largest |term| sum (float32 sums).
#include <math.h>
#include <string.h>

#include <vector>

#include "../../csrc/core/cast_math.h"
#include "../../csrc/core/cpu_features.h"
#include "../../csrc/cpu/f32-gemm/gemm.h"
#include "../../csrc/cpu/f32-sp24/sp24.h"
#include "check.h"
#include "helpers.h"

using sktest::Rng;

// The float64 reference loops are not vectorized: aarch64 GCC 12 hits an
// internal compiler error (vect_transform_reduction) on their two-sum reductions.
#pragma GCC optimize("no-tree-vectorize")

namespace {

#define SK_ISA_ID_scalar SK_ISA_SCALAR
#define SK_ISA_ID_avx2 SK_ISA_AVX2
#define SK_ISA_ID_avx512 SK_ISA_AVX512
#define SK_ISA_ID_neon SK_ISA_NEON

struct Gemm {
  const char* isa;
  sk_isa id;
  int mr, nr;
  sk_f32_gemm_ukernel_fn gemm;
  sk_f32_gemv_ukernel_fn gemv;
  sk_f32_packw_ukernel_fn packw;
};
struct Sp24 {
  const char* isa;
  sk_isa id;
  int mr;
  sk_f32_sp24_ukernel_fn fn;
  sk_f32_sp24_gemv_ukernel_fn gemv;
  int spmm_mr;
  sk_f32_sp24_spmm_ukernel_fn spmm;
};

template <class K>
std::vector<K> runnable(const std::vector<K>& all) {
  std::vector<K> here;
  for (const K& k : all)
    if (sktest::runs_here(k.id)) here.push_back(k);
  return here;
}

std::vector<Gemm> gemms() {
  std::vector<Gemm> all;
#define SK_GEMM_UKERNEL(isa, mr, nr)                                                                                   \
  all.push_back({#isa, SK_ISA_ID_##isa, mr, nr, sk_f32_gemm_ukernel_##mr##x##nr##__##isa, sk_f32_gemv_ukernel__##isa,  \
                 sk_f32_packw_ukernel_x##nr##__##isa});
#include "../../csrc/cpu/f32-gemm/gemm.inc"
#undef SK_GEMM_UKERNEL
  return runnable(all);
}

std::vector<Sp24> sp24s() {
  std::vector<Sp24> all;
#define SK_SP24_UKERNEL(isa, mr, smr)                                                                                  \
  all.push_back({#isa, SK_ISA_ID_##isa, mr, sk_f32_sp24_ukernel_##mr##x8__##isa, sk_f32_sp24_gemv_ukernel__##isa, smr, \
                 sk_f32_sp24_spmm_ukernel_##smr##x1__##isa});
#include "../../csrc/cpu/f32-sp24/sp24.inc"
#undef SK_SP24_UKERNEL
  return runnable(all);
}

// Weights of one dtype: storage bits and their exact float64 values.
struct Weights {
  std::vector<uint32_t> f32;
  std::vector<uint16_t> u16;
  std::vector<double> value;
  const void* data(sk_dtype t) const { return t == SK_F32 ? static_cast<const void*>(f32.data()) : u16.data(); }
};

Weights make_weights(size_t n, sk_dtype t, Rng& rng) {
  Weights w;
  for (size_t i = 0; i < n; ++i) {
    const float v = static_cast<float>(rng.normal());
    const uint32_t bits = sk::ScalarLanes::bits(v);
    if (t == SK_F32) {
      w.f32.push_back(bits);
      w.value.push_back(v);
    } else {
      const uint16_t h = static_cast<uint16_t>(t == SK_BF16 ? bits >> 16 : sk::f32_to_f16<sk::ScalarLanes>(bits));
      w.u16.push_back(h);
      const uint32_t back = t == SK_BF16 ? uint32_t(h) << 16 : sk::f16_to_f32<sk::ScalarLanes>(h);
      w.value.push_back(sk::ScalarLanes::flt(back));
    }
  }
  return w;
}

// Random valid 2:4 code words of one panel (8 rows' codes each), for `groups` groups.
std::vector<uint8_t> make_words(size_t groups, Rng& rng) {
  static const uint8_t kCodes[6] = {0x4, 0x8, 0x9, 0xC, 0xD, 0xE};
  std::vector<uint8_t> meta(4 * groups, 0);
  for (size_t g = 0; g < groups; ++g)
    for (int r = 0; r < 8; ++r)
      meta[4 * g + r / 2] |= static_cast<uint8_t>(kCodes[static_cast<int>(rng.uniform() * 6)] << (4 * (r % 2)));
  return meta;
}

// Position (0..3) of kept slot j of row r in group g.
int code_at(const uint8_t* meta, size_t g, int r, int j) {
  const int c = (meta[4 * g + r / 2] >> (4 * (r % 2))) & 15;
  return j == 0 ? c & 3 : c >> 2;
}

const sk_dtype kTypes[3] = {SK_F32, SK_F16, SK_BF16};

// Σ a[i]·b[i] and Σ |a[i]·b[i]| in float64.
void dot(size_t n, const float* a, size_t a_step, const double* b, double* sum, double* abs_sum) {
  for (size_t i = 0; i < n; ++i) {
    const double t = a[i * a_step] * b[i];
    *sum += t;
    *abs_sum += fabs(t);
  }
}

}  // namespace

SK_TEST(linear_gemm_ukernel_every_mr_nc_kc) {
  Rng rng{21};
  for (const Gemm& u : gemms())
    for (size_t kc : {1, 2, 7, 33})
      for (int mr = 1; mr <= u.mr; ++mr)
        for (int nc = 1; nc <= u.nr; ++nc)
          for (int mode = 0; mode < 3; ++mode) {  // 0: bias, 1: no bias, 2: accumulate
            const size_t lda = kc + 3, ldc = u.nr + 5;
            std::vector<float> a(u.mr * lda), bp(kc * u.nr), bias(u.nr), c(u.mr * ldc);
            for (float& x : a) x = static_cast<float>(rng.normal());
            for (float& x : bp) x = static_cast<float>(rng.normal());
            for (int j = 0; j < u.nr; ++j) bias[j] = j < nc ? static_cast<float>(rng.normal()) : 0.0f;
            for (float& x : c) x = static_cast<float>(rng.normal());
            for (size_t k = 0; k < kc; ++k)  // the packing zero-pads past nc
              for (int j = nc; j < u.nr; ++j) bp[k * u.nr + j] = 0.0f;
            const std::vector<float> c0 = c;
            u.gemm(mr, nc, kc, a.data(), lda, bp.data(), mode == 0 ? bias.data() : nullptr, c.data(), ldc, mode == 2);
            double err = 0;
            for (int m = 0; m < u.mr; ++m)
              for (size_t n = 0; n < ldc; ++n) {
                double want = c0[m * ldc + n], scale = 1;
                if (m < mr && n < static_cast<size_t>(nc)) {
                  want = mode == 0 ? bias[n] : mode == 2 ? c0[m * ldc + n] : 0.0;
                  for (size_t k = 0; k < kc; ++k) {
                    want += double(a[m * lda + k]) * bp[k * u.nr + n];
                    scale += fabs(double(a[m * lda + k]) * bp[k * u.nr + n]);
                  }
                }
                err = fmax(err, fabs(c[m * ldc + n] - want) / scale);
              }
            CHECK(err < 1e-5, "%s gemm mr %d nc %d kc %zu mode %d: err %g (outside the tile must be untouched)", u.isa,
                  mr, nc, kc, mode, err);
          }
}

SK_TEST(linear_packw_ukernel_every_nc_and_kc) {
  Rng rng{25};
  for (const Gemm& u : gemms())
    for (sk_dtype t : kTypes)
      for (size_t kc : {1, 3, 8, 17, 40})
        for (int nc = 1; nc <= u.nr; ++nc) {
          const size_t ldw = kc + 5;
          const Weights w = make_weights(nc * ldw, t, rng);
          std::vector<float> bp(kc * u.nr + 1, 7.0f);
          u.packw(nc, kc, w.data(t), ldw, t, bp.data());
          bool ok = bp[kc * u.nr] == 7.0f;  // nothing written past the panel
          for (size_t k = 0; k < kc; ++k)
            for (int j = 0; j < u.nr; ++j)
              ok = ok && bp[k * u.nr + j] == (j < nc ? static_cast<float>(w.value[j * ldw + k]) : 0.0f);
          CHECK(ok, "%s packw %s nc %d kc %zu", u.isa, sk_dtype_name(t), nc, kc);
        }
}

SK_TEST(linear_gemv_ukernel_rows_k_dtypes) {
  Rng rng{22};
  for (const Gemm& u : gemms())
    for (sk_dtype t : kTypes)
      for (size_t rows : {1, 3, 4, 5, 9})
        for (size_t kd : {0, 1, 7, 8, 17, 33, 100}) {
          const Weights w = make_weights(rows * kd, t, rng);
          std::vector<float> x(kd), bias(rows), out(rows + 1, 123.0f);
          for (float& v : x) v = static_cast<float>(rng.normal());
          for (float& v : bias) v = static_cast<float>(rng.normal());
          for (int with_bias = 0; with_bias < 2; ++with_bias) {
            u.gemv(rows, kd, x.data(), w.data(t), t, with_bias ? bias.data() : nullptr, out.data());
            double err = 0;
            for (size_t r = 0; r < rows; ++r) {
              double want = with_bias ? bias[r] : 0, scale = 1;
              dot(kd, x.data(), 1, w.value.data() + r * kd, &want, &scale);
              err = fmax(err, fabs(out[r] - want) / scale);
            }
            CHECK(err < 1e-5 && out[rows] == 123.0f, "%s gemv %s rows %zu k %zu: err %g", u.isa, sk_dtype_name(t), rows,
                  kd, err);
          }
        }
}

SK_TEST(linear_sp24_ukernel_every_mr_nr_and_group_count) {
  Rng rng{23};
  for (const Sp24& u : sp24s())
    for (sk_dtype t : kTypes)
      for (size_t groups : {0, 1, 2, 3, 16, 33, 130})
        for (int mr = 1; mr <= u.mr; ++mr)
          for (int nr = 1; nr <= 8; ++nr)
            for (int mode = 0; mode < 3; ++mode) {                        // 0: bias, 1: no bias, 2: accumulate
              if (groups > 3 && nr != 1 && nr != 5 && nr != 8) continue;  // the long K runs at a few widths
              const size_t xs = 4 * groups + 3, os = 11;                  // strided rows of x and out
              const Weights w = make_weights(16 * groups, t, rng);
              const std::vector<uint8_t> meta = make_words(groups, rng);
              std::vector<float> x(u.mr * xs), bias(8), out((u.mr + 1) * os);
              for (float& v : x) v = static_cast<float>(rng.normal());
              for (float& v : bias) v = static_cast<float>(rng.normal());
              for (float& v : out) v = static_cast<float>(rng.normal());
              const std::vector<float> out0 = out;
              u.fn(mr, nr, groups, x.data(), xs, w.data(t), meta.data(), t, mode == 0 ? bias.data() : nullptr,
                   out.data(), os, mode == 2);
              double err = 0;
              for (int i = 0; i <= u.mr; ++i)
                for (size_t r = 0; r < os; ++r) {
                  double want = out0[i * os + r], scale = 1;
                  if (i < mr && r < static_cast<size_t>(nr)) {
                    want = mode == 0 ? bias[r] : mode == 2 ? out0[i * os + r] : 0.0;
                    for (size_t g = 0; g < groups; ++g)
                      for (int j = 0; j < 2; ++j) {
                        const double term = w.value[16 * g + 8 * j + r] *
                                            x[i * xs + 4 * g + code_at(meta.data(), g, static_cast<int>(r), j)];
                        want += term, scale += fabs(term);
                      }
                  }
                  err = fmax(err, fabs(out[i * os + r] - want) / scale);
                }
              CHECK(err < 1e-5,
                    "%s sp24 %s groups %zu mr %d nr %d mode %d: err %g (outside the tile must be untouched)", u.isa,
                    sk_dtype_name(t), groups, mr, nr, mode, err);
            }
}

SK_TEST(linear_sp24_gemv_ukernel_every_np_nr_and_group_count) {
  Rng rng{26};
  for (const Sp24& u : sp24s())
    for (sk_dtype t : kTypes)
      for (size_t groups : {0, 1, 3, 16, 33, 86, 97})  // 86, 97: blocks with prefetch, without, steps
        for (size_t np = 1; np <= 4; ++np)
          for (size_t nr = 1; nr <= 8; ++nr)
            for (int with_bias = 0; with_bias < 2; ++with_bias) {
              if (groups > 3 && nr != 3 && nr != 8) continue;
              const size_t vstride = 16 * groups + 16,
                           mstride = 4 * groups + 4;  // panels apart, as in a K-strided weight
              const Weights w = make_weights(np * vstride, t, rng);
              std::vector<uint8_t> meta(np * mstride);
              for (size_t j = 0; j < np; ++j) {
                const std::vector<uint8_t> words = make_words(groups, rng);
                if (groups) memcpy(&meta[j * mstride], words.data(), words.size());
              }
              std::vector<float> x(4 * groups + 1), bias(8 * np), out(8 * np + 1, 123.0f);
              for (float& v : x) v = static_cast<float>(rng.normal());
              for (float& v : bias) v = static_cast<float>(rng.normal());
              const bool valid = u.gemv(np, nr, groups, x.data(), w.data(t), vstride, meta.data(), mstride, t,
                                        with_bias ? bias.data() : nullptr, out.data());
              double err = 0;
              bool untouched = out[8 * np] == 123.0f;
              for (size_t j = 0; j < np; ++j)
                for (size_t r = 0; r < 8; ++r) {
                  const size_t o = 8 * j + r;
                  if (j == np - 1 && r >= nr) {
                    untouched = untouched && out[o] == 123.0f;
                    continue;
                  }
                  double want = with_bias ? bias[o] : 0.0, scale = 1;
                  for (size_t g = 0; g < groups; ++g)
                    for (int s = 0; s < 2; ++s) {
                      const double term = w.value[j * vstride + 16 * g + 8 * s + r] *
                                          x[4 * g + code_at(&meta[j * mstride], g, static_cast<int>(r), s)];
                      want += term, scale += fabs(term);
                    }
                  err = fmax(err, fabs(out[o] - want) / scale);
                }
              CHECK(err < 1e-5 && untouched && valid, "%s sp24 gemv %s groups %zu np %zu nr %zu bias %d: err %g", u.isa,
                    sk_dtype_name(t), groups, np, nr, with_bias, err);
              // An invalid code anywhere it reads, a padding row's included, makes it return false: in
              // the first, a middle and the last group (codes checked a vector at a time, and one by one).
              for (size_t g : {size_t(0), groups / 2, groups - 1}) {
                if (groups == 0) break;
                const size_t j = np - 1, r = 7;
                uint8_t& byte = meta[j * mstride + 4 * g + r / 2];
                const uint8_t keep = byte;
                byte &= 0x0F;  // row 7's nibble (high half of byte 3): code 0
                CHECK(
                    !u.gemv(np, nr, groups, x.data(), w.data(t), vstride, meta.data(), mstride, t, nullptr, out.data()),
                    "%s sp24 gemv %s groups %zu np %zu: a bad code in row 7 of the last panel, group %zu", u.isa,
                    sk_dtype_name(t), groups, np, g);
                byte = keep;
              }
            }
}

SK_TEST(linear_sp24_spmm_ukernel_every_nr_and_group_count) {
  Rng rng{27};
  for (const Sp24& u : sp24s())
    for (sk_dtype t : kTypes)
      for (size_t groups : {0, 1, 2, 3, 16, 33})
        for (size_t nr = 1; nr <= 8; ++nr)
          for (int mode = 0; mode < 3; ++mode) {  // 0: bias, 1: no bias, 2: accumulate
            if (groups > 3 && nr != 1 && nr != 5 && nr != 8) continue;
            const size_t mr = static_cast<size_t>(u.spmm_mr), ys = mr + 3;  // xt [4·groups][mr]; yt rows ys apart
            const Weights w = make_weights(16 * groups, t, rng);
            const std::vector<uint8_t> meta = make_words(groups, rng);
            std::vector<float> xt(4 * groups * mr), bias(8), yt(9 * ys);
            for (float& v : xt) v = static_cast<float>(rng.normal());
            for (float& v : bias) v = static_cast<float>(rng.normal());
            for (float& v : yt) v = static_cast<float>(rng.normal());
            const std::vector<float> yt0 = yt;
            u.spmm(nr, groups, xt.data(), w.data(t), meta.data(), t, mode == 0 ? bias.data() : nullptr, yt.data(), ys,
                   mode == 2);
            double err = 0;
            for (size_t r = 0; r < 9; ++r)
              for (size_t i = 0; i < ys; ++i) {
                double want = yt0[r * ys + i], scale = 1;
                if (r < nr && i < mr) {
                  want = mode == 0 ? bias[r] : mode == 2 ? yt0[r * ys + i] : 0.0;
                  for (size_t g = 0; g < groups; ++g)
                    for (int j = 0; j < 2; ++j) {
                      const size_t k = 4 * g + static_cast<size_t>(code_at(meta.data(), g, static_cast<int>(r), j));
                      const double term = w.value[16 * g + 8 * j + r] * xt[k * mr + i];
                      want += term, scale += fabs(term);
                    }
                }
                err = fmax(err, fabs(yt[r * ys + i] - want) / scale);
              }
            CHECK(err < 1e-5,
                  "%s sp24 spmm %zux1 %s groups %zu nr %zu mode %d: err %g (outside the tile must be untouched)", u.isa,
                  mr, sk_dtype_name(t), groups, nr, mode, err);
          }
}
