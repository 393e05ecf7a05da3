// The decode task loop and the Quest page bound, written once over a traits
// type T (vector V of T::W floats: set1, load, store, add, sub, mul, fma, max,
// pow2_bits, zero_below) and the page type, and compiled by each ISA's file
// (f32-decode-<isa>.cc) with that ISA's flags after it defines
// SK_ISA_NAMESPACE and SK_VEC_WIDTH. Pages are read in their own type and
// widened in registers (Widen, csrc/cpu/widen.h); nothing is converted to a
// float32 copy first.
//
// Per page of a task, for all of the KV head's query rows at once:
//   S = K·Q (K channel-major [D][P]: a vector of P's tokens per channel, FMAs
//   with each row's broadcast q[d]) × the page's K scale, hidden keys → -inf;
//   online softmax per row (max m, sum l, rescale alpha); P ×= the V scale;
//   O = alpha ⊙ O + P·V (V token-major: vectors along D, broadcast p).
// The register tiles: MR rows × one token vector for S, MR rows × DV head-dim
// vectors for O, so each widened K or V vector serves MR rows.
#pragma once
#include <stdint.h>
#include <string.h>

#include "../../core/cast_math.h"
#include "../../core/decode.h"
#include "../attention/f32-attn-impl.h"  // exp2v and the online-softmax constants (kLog2e, kNegInf)
#include "decode.h"

namespace sk::cpu::SK_ISA_NAMESPACE {

#include "../widen.h"

// W elements of the page type at element offset i of base, as float32 lanes.
template <class T, int kType>
static inline typename T::V widen(const uint8_t* base, int64_t i) {
  if constexpr (kType == SK_F32) return Widen::f32(reinterpret_cast<const float*>(base) + i);
  else if constexpr (kType == SK_F16) return Widen::f16(reinterpret_cast<const uint16_t*>(base) + i);
  else if constexpr (kType == SK_BF16) return Widen::bf16(reinterpret_cast<const uint16_t*>(base) + i);
  else return Widen::e4m3_256(base + i);
}

// What a widened element is to be multiplied by (FP8: Widen's 1/256 undone with the page scale).
template <int kType>
constexpr float widen_factor() { return kType == SK_F8E4M3FN ? kE4m3Widen256 : 1.0f; }

template <int kType>
constexpr int64_t elem_bytes() { return kType == SK_F32 ? 4 : kType == SK_F8E4M3FN ? 1 : 2; }

template <class T>
static inline float hmax(typename T::V v) {
  float a[T::W];
  T::store(a, v);
  float m = a[0];
  for (int i = 1; i < T::W; ++i) m = a[i] > m ? a[i] : m;
  return m;
}

template <class T>
static inline float hsum(typename T::V v) {
  float a[T::W];
  T::store(a, v);
  float s = 0.0f;
  for (int i = 0; i < T::W; ++i) s += a[i];
  return s;
}

// s[r][t] = kscale · Σ_d q[r][d] · k[d][t] for rows [0, MR) of q and one
// vector of tokens at t0; k is the head's [D][P] block.
template <class T, int kType, int MR>
static inline void score_rows(int64_t dims, int64_t page, const float* q, const uint8_t* k, int64_t t0, float kscale,
                              float* s) {
  using V = typename T::V;
  V acc[MR];
#pragma GCC unroll 16
  for (int r = 0; r < MR; ++r) acc[r] = T::set1(0.0f);
  for (int64_t d = 0; d < dims; ++d) {
    const V kv = widen<T, kType>(k, d * page + t0);
#pragma GCC unroll 16
    for (int r = 0; r < MR; ++r) acc[r] = T::fma(T::set1(q[r * dims + d]), kv, acc[r]);
  }
  const V ks = T::set1(kscale);
#pragma GCC unroll 16
  for (int r = 0; r < MR; ++r) T::store(s + r * page + t0, T::mul(acc[r], ks));
}

template <class T, int kType, int MR>
static void score_any(int64_t rows, int64_t dims, int64_t page, const float* q, const uint8_t* k, int64_t t0,
                      float kscale, float* s) {
  if constexpr (MR > 1) {
    if (rows < MR) return score_any<T, kType, MR - 1>(rows, dims, page, q, k, t0, kscale, s);
  }
  score_rows<T, kType, MR>(dims, page, q, k, t0, kscale, s);
}

// o[r][d0 + ·] = alpha[r] · o[r][d0 + ·] + Σ_{t < n} p[r][t] · v[t][d0 + ·] for
// rows [0, MR) and DV vectors of the head dim; v is the head's [P][D] block.
template <class T, int kType, int MR, int DV>
static inline void pv_rows(int64_t dims, int64_t page, int64_t n, const float* p, const float* alpha,
                           const uint8_t* v, int64_t d0, float* o) {
  using V = typename T::V;
  constexpr int W = T::W;
  V acc[MR][DV];
#pragma GCC unroll 16
  for (int r = 0; r < MR; ++r) {
    const V a = T::set1(alpha[r]);
#pragma GCC unroll 4
    for (int j = 0; j < DV; ++j) acc[r][j] = T::mul(T::load(o + r * dims + d0 + j * W), a);
  }
  for (int64_t t = 0; t < n; ++t) {
    V vv[DV];
#pragma GCC unroll 4
    for (int j = 0; j < DV; ++j) vv[j] = widen<T, kType>(v, t * dims + d0 + j * W);
#pragma GCC unroll 16
    for (int r = 0; r < MR; ++r) {
      const V pb = T::set1(p[r * page + t]);
#pragma GCC unroll 4
      for (int j = 0; j < DV; ++j) acc[r][j] = T::fma(pb, vv[j], acc[r][j]);
    }
  }
#pragma GCC unroll 16
  for (int r = 0; r < MR; ++r)
#pragma GCC unroll 4
    for (int j = 0; j < DV; ++j) T::store(o + r * dims + d0 + j * W, acc[r][j]);
}

template <class T, int kType, int MR, int DV>
static void pv_any(int64_t rows, int64_t vecs, int64_t dims, int64_t page, int64_t n, const float* p,
                   const float* alpha, const uint8_t* v, int64_t d0, float* o) {
  if constexpr (MR > 1) {
    if (rows < MR) return pv_any<T, kType, MR - 1, DV>(rows, vecs, dims, page, n, p, alpha, v, d0, o);
  }
  if constexpr (DV > 1) {
    if (vecs < DV) return pv_any<T, kType, MR, DV - 1>(rows, vecs, dims, page, n, p, alpha, v, d0, o);
  }
  pv_rows<T, kType, MR, DV>(dims, page, n, p, alpha, v, d0, o);
}

// Online softmax over one page's scores of row r (page entries, hidden ones
// -inf): folds them into m, l; leaves p · vscale in s and the rescale of o in alpha.
template <class T>
static inline void softmax_row(int64_t page, float* s, float vscale, float* m, float* l, float* alpha) {
  using V = typename T::V;
  constexpr int W = T::W;
  V mx = T::load(s);
  for (int64_t t = W; t < page; t += W) mx = T::max(mx, T::load(s + t));
  const float page_max = hmax<T>(mx);
  const float m_new = page_max > *m ? page_max : *m;
  if (m_new == kNegInf) {  // nothing visible yet: o stays 0
    memset(s, 0, static_cast<size_t>(page) * sizeof(float));
    *alpha = 1.0f;
    return;
  }
  *alpha = exp2f(*m - m_new);
  const V mv = T::set1(m_new), vs = T::set1(vscale);
  V sum = T::set1(0.0f);
  for (int64_t t = 0; t < page; t += W) {
    const V p = exp2v<T>(T::sub(T::load(s + t), mv));
    sum = T::add(sum, p);
    T::store(s + t, T::mul(p, vs));
  }
  *l = *l * *alpha + hsum<T>(sum);
  *m = m_new;
}

template <class T, int kType, int MR, int DV>
static void decode_task(const sk_decode_task& t, float* scratch) {
  constexpr int W = T::W;
  const int64_t page = t.cache.page_size, dims = t.cache.head_dim, heads = t.cache.kv_heads, rows = t.rows;
  const KvPageLayout lay = kv_page_layout(elem_bytes<kType>(), heads, dims, page);
  float* s = scratch;            // [rows][page]
  float* alpha = s + rows * page;  // [rows]
  for (int64_t r = 0; r < rows; ++r) t.m[r] = kNegInf, t.l[r] = 0.0f;
  memset(t.o, 0, static_cast<size_t>(rows * dims) * sizeof(float));
  const int64_t all_see = kv_visible_end(t.length, t.seq_q, 0);  // keys below this are visible to every row
  for (int32_t c = 0; c < t.count; ++c) {
    const uint8_t* base = t.pages[c];
    const int64_t j0 = static_cast<int64_t>(t.page_index[c]) * page;
    const int64_t n = t.length - j0 < page ? t.length - j0 : page;
    const float* scales = reinterpret_cast<const float*>(base + lay.scales);
    const float kscale = scales[t.g] * widen_factor<kType>(), vscale = scales[heads + t.g] * widen_factor<kType>();
    if (!(kscale == kscale && vscale == vscale))  // an FP8 page that saw a non-finite value: NaN out, as float32 gives
      for (int64_t r = 0; r < rows; ++r) t.l[r] = __builtin_nanf("");
    const uint8_t* k = base + lay.k + t.g * lay.k_head;
    const uint8_t* v = base + lay.v + t.g * lay.v_head;
    for (int64_t r0 = 0; r0 < rows; r0 += MR)
      for (int64_t t0 = 0; t0 < page; t0 += W)
        score_any<T, kType, MR>(rows - r0, dims, page, t.q + r0 * dims, k, t0, kscale, s + r0 * page);
    if (j0 + page > all_see)  // the last pages: partial, or cut by the causal rule among the queries
      for (int64_t r = 0; r < rows; ++r) {
        int64_t end = kv_visible_end(t.length, t.seq_q, r % t.seq_q) - j0;
        end = end < 0 ? 0 : end;
        for (int64_t i = end; i < page; ++i) s[r * page + i] = kNegInf;
      }
    for (int64_t r = 0; r < rows; ++r) softmax_row<T>(page, s + r * page, vscale, t.m + r, t.l + r, alpha + r);
    const int64_t vecs = dims / W;
    for (int64_t r0 = 0; r0 < rows; r0 += MR)
      for (int64_t d0 = 0; d0 < vecs; d0 += DV)
        pv_any<T, kType, MR, DV>(rows - r0, vecs - d0, dims, page, n, s + r0 * page, alpha + r0, v, d0 * W,
                                 t.o + r0 * dims);
  }
}

template <class T, int MR, int DV>
static void decode_any(const sk_decode_task& t, float* scratch) {
  switch (t.cache.type) {
    case SK_F32: return decode_task<T, SK_F32, MR, DV>(t, scratch);
    case SK_F16: return decode_task<T, SK_F16, MR, DV>(t, scratch);
    case SK_BF16: return decode_task<T, SK_BF16, MR, DV>(t, scratch);
    default: return decode_task<T, SK_F8E4M3FN, MR, DV>(t, scratch);
  }
}

template <class T, int kType>
static void quest_page(const float* q, int32_t rows, const uint8_t* page, const sk_kv_pages& c, float* score) {
  using V = typename T::V;
  constexpr int W = T::W;
  const int64_t dims = c.head_dim, heads = c.kv_heads;
  const KvPageLayout lay = kv_page_layout(elem_bytes<kType>(), heads, dims, c.page_size);
  const float* scales = reinterpret_cast<const float*>(page + lay.scales);
  for (int64_t g = 0; g < heads; ++g) {
    const uint8_t* lo = page + lay.meta + g * lay.meta_head;
    const uint8_t* hi = lo + lay.meta_head / 2;
    const float* qg = q + g * rows * dims;
    V acc[2] = {T::set1(0.0f), T::set1(0.0f)};  // two chains: the max adds latency to each FMA-free step
    for (int64_t d = 0; d < dims; d += W) {
      const V mn = widen<T, kType>(lo, d), mx = widen<T, kType>(hi, d);
      for (int32_t r = 0; r < rows; ++r) {
        const V qv = T::load(qg + r * dims + d);
        acc[r & 1] = T::add(acc[r & 1], T::max(T::mul(qv, mn), T::mul(qv, mx)));
      }
    }
    score[g] = hsum<T>(T::add(acc[0], acc[1])) * scales[g] * widen_factor<kType>();
  }
}

template <class T>
static void quest_any(const float* q, int32_t rows, const uint8_t* page, const sk_kv_pages* c, float* score) {
  switch (c->type) {
    case SK_F32: return quest_page<T, SK_F32>(q, rows, page, *c, score);
    case SK_F16: return quest_page<T, SK_F16>(q, rows, page, *c, score);
    case SK_BF16: return quest_page<T, SK_BF16>(q, rows, page, *c, score);
    default: return quest_page<T, SK_F8E4M3FN>(q, rows, page, *c, score);
  }
}

}  // namespace sk::cpu::SK_ISA_NAMESPACE
