// The attention flash loop and its micro-kernels, written once over a traits
// type T (vector V of T::W floats: set1, load, store, add, sub, mul, fma, max,
// pow2_bits, zero_below, finite_or_zero) and compiled by each ISA's file
// (f32-attn-<MR>x<NR>-<isa>.cc) with that ISA's flags. The file defines
// SK_ISA_NAMESPACE and SK_VEC_WIDTH first; everything here lands in
// sk::cpu::<isa> (or is static), so nothing built with AVX flags is merged
// into baseline code. Standard-library templates are avoided for that reason.
//
// Per work item (see attention.h): Qᵀ is packed once, pre-scaled by
// scale·log2(e) so the softmax works in base 2; for each key chunk
//   Sᵀ = K·Qᵀ (qk), hidden tokens → -inf, online softmax down each query
//   column (running max m, sum l, rescale alpha), Oᵀ = alpha·Oᵀ + Vᵀ·Pᵀ (pv);
// then out = Oᵀᵀ / l and lse = (m + log2 l)·ln 2.
#pragma once
#include <stdint.h>
#include <string.h>

#include "../../core/cast_math.h"
#include "../../core/params.h"
#include "attention.h"

namespace sk::cpu::SK_ISA_NAMESPACE {

// This ISA's own scalar lanes type, so its cast_math instantiations are private.
struct TailLanes : ScalarLanes {};

#include "../cast/lanes.h"
#include "../vec-ops.h"
#include "fp8-tiles.h"

constexpr float kLog2e = 1.4426950408889634f;
constexpr double kLn2 = 0.6931471805599453;
constexpr float kNegInf = -__builtin_inff();

// 2^x = 2^n · 2^f with n = rint(x), |f| ≤ 1/2. Adding kExp2Magic (1.5·2^23 + 127)
// rounds x to an integer and leaves n + 127 in the low mantissa bits, which
// shifted left by 23 are the float32 bits of 2^n. 2^f is a degree-6
// polynomial (relative error 2^-28.9; the whole function is within 0.94 ulp).
// Below 2^-126 (and for -inf) the result is 0; NaN gives NaN, so a NaN score
// reaches its row's sum and output (the NaN rule, docs/attention.md).
constexpr float kExp2Magic = 12583039.0f;
constexpr float kExp2Min = -126.0f;
constexpr float kExp2Poly[7] = {
    1.0f, 6.931471825e-01f, 2.402264774e-01f, 5.550332367e-02f, 9.618437849e-03f, 1.339887269e-03f, 1.535334159e-04f};

template <class T>
static inline typename T::V exp2v(typename T::V x) {
  using V = typename T::V;
  const V t = T::add(x, T::set1(kExp2Magic));
  const V f = T::sub(x, T::sub(t, T::set1(kExp2Magic)));
  V p = T::set1(kExp2Poly[6]);
  for (int i = 5; i >= 0; --i) p = T::fma(p, f, T::set1(kExp2Poly[i]));
  return T::zero_below(T::mul(p, T::pow2_bits(t)), x, T::set1(kExp2Min));
}

template <class T>
static void vexp2(size_t n, const float* x, float* y) {
  constexpr int W = T::W;
  size_t i = 0;
  for (; i + W <= n; i += W) T::store(y + i, exp2v<T>(T::load(x + i)));
  if (i < n) {
    float buf[W] = {};
    memcpy(buf, x + i, (n - i) * sizeof(float));
    T::store(buf, exp2v<T>(T::load(buf)));
    memcpy(y + i, buf, (n - i) * sizeof(float));
  }
}

// One register tile: M rows × NV vectors. qk (kPV false): A row-major (row
// stride a_ld), C = A·B. pv (kPV true): A column-major (column stride a_ld),
// C = alpha ⊙ C + A·B with alpha per column. B is row-major (stride ldb).
template <class T, int M, int NV, bool kPV>
static inline void gemm_tile(size_t kc, const float* a, size_t a_ld, const float* b, size_t ldb, const float* alpha,
                             float* c, size_t ldc) {
  using V = typename T::V;
  constexpr int W = T::W;
  V acc[M][NV];
#pragma GCC unroll 8
  for (int n = 0; n < NV; ++n) {
    const V s = kPV ? T::load(alpha + n * W) : T::set1(0.0f);
#pragma GCC unroll 16
    for (int m = 0; m < M; ++m) acc[m][n] = kPV ? T::mul(T::load(c + m * ldc + n * W), s) : s;
  }
  const float* ar[M];
#pragma GCC unroll 16
  for (int m = 0; m < M; ++m) ar[m] = kPV ? a + m : a + m * a_ld;
  const size_t a_step = kPV ? a_ld : 1;
  for (size_t k = 0; k < kc; ++k) {
    V bv[NV];
#pragma GCC unroll 8
    for (int n = 0; n < NV; ++n) bv[n] = T::load(b + n * W);
#pragma GCC unroll 16
    for (int m = 0; m < M; ++m) {
      const V av = T::set1(ar[m][k * a_step]);
#pragma GCC unroll 8
      for (int n = 0; n < NV; ++n) acc[m][n] = T::fma(av, bv[n], acc[m][n]);
    }
    b += ldb;
  }
#pragma GCC unroll 16
  for (int m = 0; m < M; ++m)
#pragma GCC unroll 8
    for (int n = 0; n < NV; ++n) T::store(c + m * ldc + n * W, acc[m][n]);
}

// Picks the instance for a remainder tile (mr < M or nv < NV).
template <class T, int M, int NV, bool kPV>
static void gemm_any(size_t mr, size_t nv, size_t kc, const float* a, size_t a_ld, const float* b, size_t ldb,
                     const float* alpha, float* c, size_t ldc) {
  if constexpr (M > 1) {
    if (mr < M) return gemm_any<T, M - 1, NV, kPV>(mr, nv, kc, a, a_ld, b, ldb, alpha, c, ldc);
  }
  if constexpr (NV > 1) {
    if (nv < NV) return gemm_any<T, M, NV - 1, kPV>(mr, nv, kc, a, a_ld, b, ldb, alpha, c, ldc);
  }
  gemm_tile<T, M, NV, kPV>(kc, a, a_ld, b, ldb, alpha, c, ldc);
}

template <class T, int MR, int NR>
static void qk(size_t mr, size_t nc, size_t kc, const float* k, size_t k_stride, const float* qt, size_t qt_stride,
               float* st, size_t st_stride) {
  gemm_any<T, MR, NR / T::W, false>(mr, nc / T::W, kc, k, k_stride, qt, qt_stride, nullptr, st, st_stride);
}

template <class T, int MR, int NR>
static void pv(size_t mr, size_t nc, size_t kc, const float* v, size_t v_stride, const float* pt, size_t pt_stride,
               const float* alpha, float* ot, size_t ot_stride) {
  gemm_any<T, MR, NR / T::W, true>(mr, nc / T::W, kc, v, v_stride, pt, pt_stride, alpha, ot, ot_stride);
}

// A row of n elements of dtype → float32.
static inline void decode_row(sk_dtype type, const void* src, float* dst, int64_t n) {
  if (type == SK_F32) {
    memcpy(dst, src, static_cast<size_t>(n) * sizeof(float));
    return;
  }
  const uint16_t* s = static_cast<const uint16_t*>(src);
  int64_t i = 0;
  auto put = [&](auto lanes, int64_t at) {
    using L = decltype(lanes);
    typename L::U u = L::load_u(s + at);
    L::store_f(dst + at, L::flt(type == SK_F16 ? f16_to_f32<L>(u) : bf16_to_f32<L>(u)));
  };
  for (; i + VecLanes::kWidth <= n; i += VecLanes::kWidth) put(VecLanes{}, i);
  for (; i < n; ++i) put(TailLanes{}, i);
}

static inline void encode(sk_dtype type, void* dst, int64_t at, float x) {
  if (type == SK_F32) {
    static_cast<float*>(dst)[at] = x;
    return;
  }
  const uint32_t u = TailLanes::bits(x);
  static_cast<uint16_t*>(dst)[at] =
      static_cast<uint16_t>(type == SK_F16 ? f32_to_f16<TailLanes>(u) : f32_to_bf16<TailLanes>(u));
}

// Online softmax over a chunk's Sᵀ [kc][ld], U query vectors at a time from
// column n: folds the chunk into m and l, leaves Pᵀ in st and the rescale of
// Oᵀ in alpha. A column with nothing visible yet keeps m = -inf and l = 0. A
// NaN score makes its P, and so l and the column of Oᵀ, NaN for good,
// whatever the running max's max() kept (x86's maxps drops a NaN first
// operand, NEON's fmax keeps it): no ISA or chunk order decides the result.
template <class T, int U>
static inline void softmax_cols(size_t kc, size_t ld, size_t n, float* st, float* m, float* l, float* alpha) {
  using V = typename T::V;
  constexpr int W = T::W;
  V mx[U], mu[U], sum[U];
  for (int u = 0; u < U; ++u) mx[u] = T::load(m + n + u * W);
  for (size_t c = 0; c < kc; ++c)
    for (int u = 0; u < U; ++u) mx[u] = T::max(mx[u], T::load(st + c * ld + n + u * W));
  for (int u = 0; u < U; ++u) {
    mu[u] = T::finite_or_zero(mx[u]);  // exponents of a hidden column: 2^(-inf - 0) = 0
    const V a = exp2v<T>(T::sub(T::load(m + n + u * W), mu[u]));
    T::store(alpha + n + u * W, a);
    T::store(m + n + u * W, mx[u]);
    sum[u] = T::mul(T::load(l + n + u * W), a);
  }
  for (size_t c = 0; c < kc; ++c)
    for (int u = 0; u < U; ++u) {
      float* s = st + c * ld + n + u * W;
      const V p = exp2v<T>(T::sub(T::load(s), mu[u]));
      T::store(s, p);
      sum[u] = T::add(sum[u], p);
    }
  for (int u = 0; u < U; ++u) T::store(l + n + u * W, sum[u]);
}

template <class T>
static void softmax(size_t kc, size_t ld, float* st, float* m, float* l, float* alpha) {
  constexpr size_t kGroup = 4 * T::W;  // four independent max / sum chains
  size_t n = 0;
  for (; n + kGroup <= ld; n += kGroup) softmax_cols<T, 4>(kc, ld, n, st, m, l, alpha);
  for (; n < ld; n += T::W) softmax_cols<T, 1>(kc, ld, n, st, m, l, alpha);
}

// The NaN rule for V (docs/attention.md): a NaN in v_j[d] reaches out_i[d]
// of each row i that sees key j, and no other. P·V would also carry it to
// rows that do not see j but share its chunk (their P is 0, and 0 · NaN is
// NaN), so a chunk whose V holds a NaN takes it out of the product and puts
// it back in the rows that see the key. Only when V holds a NaN at all (the
// driver's one scan per call, tiling.v_nan): then each chunk's check costs
// one FMA per V vector (x · 0 is NaN exactly for NaN and ±inf), and the rest
// runs only on a hit.
template <class T>
static inline bool maybe_nan(const float* v, size_t stride, size_t rows, size_t cols) {
  using V = typename T::V;
  constexpr size_t W = T::W;
  const V zero = T::set1(0.0f);
  V acc = zero;
  float tail = 0.0f;
  for (size_t r = 0; r < rows; ++r) {
    size_t d = 0;
    for (; d + W <= cols; d += W) acc = T::fma(T::load(v + r * stride + d), zero, acc);
    for (; d < cols; ++d) tail += v[r * stride + d] * 0.0f;
  }
  float lanes[W];
  T::store(lanes, acc);
  for (size_t w = 0; w < W; ++w) tail += lanes[w];
  return tail != tail;
}

// V's NaNs out of the product: the chunk's V copied to vf (unless it is
// there already) with each NaN as 0; has_nan[c] says which keys had one.
static inline bool v_nan_out(const float*& vr, size_t& vs, float* vf, size_t kc, size_t dims, bool* has_nan) {
  bool any = false;
  for (size_t c = 0; c < kc; ++c) {
    has_nan[c] = false;
    for (size_t d = 0; d < dims; ++d) {
      const float x = vr[c * vs + d];
      has_nan[c] = has_nan[c] || x != x;
      vf[c * dims + d] = x == x ? x : 0.0f;
    }
    any = any || has_nan[c];
  }
  vr = vf, vs = dims;
  return any;
}

// The NaNs back into Oᵀ [D][ld]: column n of row d for each key c with a NaN
// at d (in the original V row, decoded into row) that query n sees (seen[c]).
static inline void v_nan_back(const sk_attention_params& p, const char* v_row0, size_t kc, size_t dims, int32_t rows,
                              size_t ld, const bool* has_nan, const uint8_t* seen, float* row, float* ot) {
  const size_t esize = sk_dtype_size(p.dtype);
  for (size_t c = 0; c < kc; ++c) {
    if (!has_nan[c]) continue;
    decode_row(p.dtype, v_row0 + c * p.v_stride_s * esize, row, p.head_dim);
    for (size_t d = 0; d < dims; ++d)
      if (row[d] != row[d])
        for (int32_t n = 0; n < rows; ++n)
          if (seen[c * ld + n]) ot[d * ld + n] = row[d];
  }
}

// Qᵀ [D][ld] from the item's rows, scaled into base 2 (scale·log2 e);
// padding lanes are zero (they compute finite junk that is never stored).
static inline void pack_qt(const sk_attention_params& p, const sk_attention_item& it, size_t ld, float* row,
                           float* qt) {
  const size_t esize = sk_dtype_size(p.dtype);
  const float qscale = p.scale * kLog2e;
  const char* q =
      static_cast<const char*>(p.q) + (it.b * p.q_stride_b + it.h * p.q_stride_h + it.q0 * p.q_stride_s) * esize;
  for (int32_t r = 0; r < it.rows; ++r) {
    if (p.fp8)
      fp8_q_row(p, it.b, it.h, it.q0 + r, reinterpret_cast<const uint8_t*>(q + r * p.q_stride_s), row);
    else
      decode_row(p.dtype, q + r * p.q_stride_s * esize, row, p.head_dim);
    for (int64_t d = 0; d < p.head_dim; ++d) qt[d * ld + r] = row[d] * qscale;
  }
  for (int64_t d = 0; d < p.head_dim; ++d)
    for (size_t r = static_cast<size_t>(it.rows); r < ld; ++r) qt[d * ld + r] = 0.0f;
}

// out rows = Oᵀᵀ / l and lse = (m + log2 l)·ln 2 (plus smoothed K's shift,
// from Qᵀ); a row with no visible key (l = 0) gets zeros and lse = -inf; a
// row that read a NaN (l is NaN) gets NaN. FP8 inputs write float32.
static inline void store_rows(const sk_attention_params& p, const sk_attention_item& it, size_t ld, const float* ot,
                              const float* m, const float* l, const float* qt) {
  const sk_dtype out_type = p.fp8 ? SK_F32 : p.dtype;
  const size_t esize = sk_dtype_size(out_type);
  char* out = static_cast<char*>(p.out) + (it.b * p.out_stride_b + it.h * p.out_stride_h) * esize;
  for (int32_t r = 0; r < it.rows; ++r) {
    const float inv = l[r] != 0.0f ? 1.0f / l[r] : 0.0f;
    void* row = out + (it.q0 + r) * p.out_stride_s * esize;
    for (int64_t d = 0; d < p.head_dim; ++d) encode(out_type, row, d, ot[d * ld + r] * inv);
    if (p.lse) {
      const int64_t at = (it.b * p.heads_q + it.h) * p.seq_q + it.q0 + r;
      const double m2 = m[r] + fp8_lse_shift(p, it, ld, qt, r);
      p.lse[at] = l[r] != 0.0f ? static_cast<float>(m2 * kLn2 + __builtin_log(l[r])) : kNegInf;
    }
  }
}

template <class T, int MR, int NR>
static void flash(const sk_attention_params& p, const sk_attention_tiling& t, const sk_attention_item& it,
                  void* scratch) {
  constexpr size_t W = T::W, kMR = MR, kNR = NR;
  const size_t dims = static_cast<size_t>(p.head_dim);
  const int32_t rows = it.rows;
  const size_t ld = (static_cast<size_t>(rows) + W - 1) / W * W;  // lanes: rows padded to the vector
  const int64_t g = it.h / (p.heads_q / p.heads_kv);
  const int64_t offset = p.seq_kv - p.seq_q;  // bottom-right causal alignment
  const size_t esize = sk_dtype_size(p.dtype);
  const sk_attention_scratch& lay = t.scratch;
  float* base = static_cast<float*>(scratch);
  float *qt = base + lay.qt, *ot = base + lay.ot, *st = base + lay.st, *kf = base + lay.kf, *vf = base + lay.vf;
  float *m = base + lay.m, *l = base + lay.l, *alpha = base + lay.alpha;
  uint8_t* seen = reinterpret_cast<uint8_t*>(base + lay.seen);
  bool has_nan[kAttentionMaxTile];

  pack_qt(p, it, ld, kf, qt);
  for (size_t i = 0; i < dims * ld; ++i) ot[i] = 0.0f;
  for (size_t r = 0; r < ld; ++r) m[r] = kNegInf, l[r] = 0.0f;

  const char* kb = static_cast<const char*>(p.k) + (it.b * p.k_stride_b + g * p.k_stride_h) * esize;
  const char* vb = static_cast<const char*>(p.v) + (it.b * p.v_stride_b + g * p.v_stride_h) * esize;
  sk::KvWalk<0> walk = sk_attention_walk(p, t.kv_tile, it);
  for (sk::KvTile ch; walk.step(ch);) {
    const size_t kc = static_cast<size_t>(ch.count);
    const float* kr = reinterpret_cast<const float*>(kb + ch.start * p.k_stride_s * esize);
    const float* vr = reinterpret_cast<const float*>(vb + ch.start * p.v_stride_s * esize);
    size_t ks = static_cast<size_t>(p.k_stride_s), vs = static_cast<size_t>(p.v_stride_s);
    if (p.fp8) {  // FP8: widened and scaled once for all of the item's queries
      fp8_chunk(p, it.b, g, ch.start, kc, kf, vf);
      kr = kf, vr = vf, ks = vs = dims;
    } else if (p.dtype != SK_F32) {  // float16 / bfloat16: decode the chunk once for all of the item's queries
      for (size_t c = 0; c < kc; ++c) {
        decode_row(p.dtype, kb + (ch.start + c) * p.k_stride_s * esize, kf + c * dims, p.head_dim);
        decode_row(p.dtype, vb + (ch.start + c) * p.v_stride_s * esize, vf + c * dims, p.head_dim);
      }
      kr = kf, vr = vf, ks = vs = dims;
    }
    const bool v_nan = t.v_nan && maybe_nan<T>(vr, vs, kc, dims) && v_nan_out(vr, vs, vf, kc, dims, has_nan);
    // Sᵀ = K·Qᵀ
    for (size_t k0 = 0; k0 < kc; k0 += kMR)
      for (size_t n0 = 0; n0 < ld; n0 += kNR)
        qk<T, MR, NR>(kc - k0 < kMR ? kc - k0 : kMR, ld - n0 < kNR ? ld - n0 : kNR, dims, kr + k0 * ks, ks, qt + n0, ld,
                      st + k0 * ld + n0, ld);
    // Hidden tokens → -inf: the mask's rules on a partial block, then the causal cut.
    if (ch.rule_test) sk_attention_apply_rules(&p, it.b, it.h, it.q0, rows, ch.start, ch.count, st, ld);
    if (ch.causal_test)
      for (size_t c = 0; c < kc; ++c) {
        const int64_t first = ch.start + static_cast<int64_t>(c) - offset - it.q0;  // the first row that sees key c
        for (int64_t r = 0; r < first && r < rows; ++r) st[c * ld + r] = kNegInf;
      }
    if (v_nan)  // before the softmax turns the hidden -inf into 0
      for (size_t c = 0; c < kc; ++c)
        for (size_t n = 0; n < ld && has_nan[c]; ++n) seen[c * ld + n] = st[c * ld + n] != kNegInf;
    softmax<T>(kc, ld, st, m, l, alpha);
    // Oᵀ = alpha ⊙ Oᵀ + Vᵀ·Pᵀ
    for (size_t d0 = 0; d0 < dims; d0 += kMR)
      for (size_t n0 = 0; n0 < ld; n0 += kNR)
        pv<T, MR, NR>(dims - d0 < kMR ? dims - d0 : kMR, ld - n0 < kNR ? ld - n0 : kNR, kc, vr + d0, vs, st + n0, ld,
                      alpha + n0, ot + d0 * ld + n0, ld);
    if (v_nan) v_nan_back(p, vb + ch.start * p.v_stride_s * esize, kc, dims, rows, ld, has_nan, seen, kf, ot);
  }
  store_rows(p, it, ld, ot, m, l, qt);
}

}  // namespace sk::cpu::SK_ISA_NAMESPACE
