// The decode task loop and the Quest page bound, written once over a traits
// type T (vector V of T::W floats: set1, load, store, add, sub, mul, fma, max,
// pow2_bits, zero_below) and the page type, and compiled by each ISA's file
// (f32-decode-<isa>.cc) with that ISA's flags after it defines
// SK_ISA_NAMESPACE and SK_VEC_WIDTH. Pages are read in their own type and
// widened in registers (Widen, csrc/cpu/widen.h); nothing is converted to a
// float32 copy first.
//
// Per group of pages of a task (up to 64 tokens), for all of the KV head's
// query rows at once:
//   S = K·Q (K channel-major [D][P]: vectors of tokens per channel, FMAs with
//   each row's broadcast q[d]) × each page's K scale, hidden keys → -inf;
//   online softmax per row (max m, sum l, rescale alpha); P ×= each page's V
//   scale; O = alpha ⊙ O + P·V (V token-major: vectors along D, broadcast p).
// Register tiles: rows × token vectors for S, rows × head-dim vectors for O,
// so each widened K or V vector serves several rows, and each broadcast
// several vectors. Vectors are widened in pairs (widen2): bfloat16 splits into
// its even and odd elements with a mask and a shift, no move across lanes,
// and results go back in order once (scores per tile, O at the task's end).
// PageAhead paces prefetches of the pages ahead through the tiles' loops.
#pragma once
#include <stdint.h>
#include <string.h>

#include <algorithm>

#include "../../core/cast_math.h"
#include "../../core/decode.h"
#include "../f32-attn/f32-attn-impl.h"  // exp2v and the online-softmax constants (kLog2e, kNegInf)
#include "decode.h"

namespace sk::cpu::SK_ISA_NAMESPACE {

#include "../widen.h"
#include "page-read.h"

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

// Pages are taken in groups of up to group_tokens tokens: scored, softmaxed
// and multiplied with V together, so a q broadcast serves several token
// vectors and the softmax and O's load and store happen once per group.
// FP8 groups hold twice the tokens, the bytes of a 16-bit group: FP8 decode
// is near its FMA bound (the FMAs per token are the same for every type, the
// bytes not), and its softmax, reductions and O traffic per token halve.
constexpr int64_t kGroupTokens = 64, kGroupTokensFp8 = 128;  // the latter: sk_decode_scratch_floats
template <int kType>
constexpr int64_t group_tokens() {
  return kType == SK_F8E4M3FN ? kGroupTokensFp8 : kGroupTokens;
}
constexpr int kMaxGroupPages = 8;  // kGroupTokensFp8 / kKvMinPage
// FP8 page scales below this (a power of two: fp8_page_scale) stay finite times kE4m3Widen2p120.
constexpr float kExpScaleMax = 0x1p7f;
// s[r][v·W + ·] = kscale[v] · Σ_d q[r][d] · k_v[d·page + ·] for rows [0, MR)
// and NV token vectors v, k_v pointing at vector v's tokens of channel 0.
// Vectors are widened in pairs (2v, 2v + 1): one page's consecutive tokens,
// or, kSplit, two pages' (pages of one vector).
template <class T, int kType, bool kSplit, int MR, int NV>
static inline void score_tile(int64_t dims, int64_t page, const float* q, const uint8_t* const* k, const float* kscale,
                              float* s, int64_t ld, PageAhead& ahead) {
  using V = typename T::V;
  constexpr int W = T::W;
  V acc[MR][NV];
#pragma GCC unroll 16
  for (int r = 0; r < MR; ++r)
#pragma GCC unroll 4
    for (int j = 0; j < NV; ++j) acc[r][j] = T::set1(0.0f);
  const int64_t step = page * elem_bytes<kType>();
  for (int64_t d = 0; d < dims; ++d) {
    if (d % kStepEvery == 0) ahead.step();
    V kv[NV];
#pragma GCC unroll 4
    for (int j = 0; j + 1 < NV; j += 2)
      widen2<T, kType, kSplit>(k[j] + d * step, k[j + 1] + d * step, kv[j], kv[j + 1]);
    if constexpr (NV % 2) kv[NV - 1] = widen<T, kType>(k[NV - 1], d * page);
#pragma GCC unroll 16
    for (int r = 0; r < MR; ++r) {
      const V qb = T::set1(q[r * dims + d]);
#pragma GCC unroll 4
      for (int j = 0; j < NV; ++j) acc[r][j] = T::fma(qb, kv[j], acc[r][j]);
    }
  }
#pragma GCC unroll 16
  for (int r = 0; r < MR; ++r) {
#pragma GCC unroll 4
    for (int j = 0; j + 1 < NV; j += 2) in_order<T, kType>(acc[r][j], acc[r][j + 1]);
#pragma GCC unroll 4
    for (int j = 0; j < NV; ++j) T::store(s + r * ld + j * W, T::mul(acc[r][j], T::set1(kscale[j])));
  }
}

template <class T, int kType, bool kSplit, int MR, int NV>
static void score_any(int64_t rows, int64_t vecs, int64_t dims, int64_t page, const float* q, const uint8_t* const* k,
                      const float* kscale, float* s, int64_t ld, PageAhead& ahead) {
  if constexpr (MR > 1) {
    if (rows < MR) return score_any<T, kType, kSplit, MR - 1, NV>(rows, vecs, dims, page, q, k, kscale, s, ld, ahead);
  }
  if constexpr (NV > 1) {
    if (vecs < NV) return score_any<T, kType, kSplit, MR, NV - 1>(rows, vecs, dims, page, q, k, kscale, s, ld, ahead);
  }
  score_tile<T, kType, kSplit, MR, NV>(dims, page, q, k, kscale, s, ld, ahead);
}

// One group's pages as the tiles read them.
struct Group {
  int64_t pages;                     // 1 … kMaxGroupPages
  const uint8_t* v[kMaxGroupPages];  // each page's V block of the KV head
  int64_t n[kMaxGroupPages];         // tokens of each page in the sequence
};

// o[r][d0 + ·] = alpha[r] · o[r][d0 + ·] + Σ_pages Σ_{t < n} p[r][page · P + t] · v[t][d0 + ·]
// for rows [0, MR) and DV vectors of the head dim, o's vectors (2j, 2j + 1)
// being in widen2's lane order (the task puts them in order at its end).
template <class T, int kType, int MR, int DV>
static inline void pv_tile(int64_t dims, int64_t page, const Group& grp, const float* p, int64_t ld, const float* alpha,
                           int64_t d0, float* o, PageAhead& ahead) {
  using V = typename T::V;
  constexpr int W = T::W;
  V acc[MR][DV];
#pragma GCC unroll 16
  for (int r = 0; r < MR; ++r) {
    const V a = T::set1(alpha[r]);
#pragma GCC unroll 4
    for (int j = 0; j < DV; ++j) acc[r][j] = T::mul(T::load(o + r * dims + d0 + j * W), a);
  }
  for (int64_t pg = 0; pg < grp.pages; ++pg) {
    const uint8_t* v = grp.v[pg] + d0 * elem_bytes<kType>();
    const float* pp = p + pg * page;
    for (int64_t t = 0; t < grp.n[pg]; ++t) {
      if (t % kStepEvery == 0) ahead.step();
      const uint8_t* row = v + t * dims * elem_bytes<kType>();
      V vv[DV];
#pragma GCC unroll 4
      for (int j = 0; j + 1 < DV; j += 2)
        widen2<T, kType, false>(row + j * W * elem_bytes<kType>(), nullptr, vv[j], vv[j + 1]);
      if constexpr (DV % 2) vv[DV - 1] = widen<T, kType>(row, (DV - 1) * W);
#pragma GCC unroll 16
      for (int r = 0; r < MR; ++r) {
        const V pb = T::set1(pp[r * ld + t]);
#pragma GCC unroll 4
        for (int j = 0; j < DV; ++j) acc[r][j] = T::fma(pb, vv[j], acc[r][j]);
      }
    }
  }
#pragma GCC unroll 16
  for (int r = 0; r < MR; ++r)
#pragma GCC unroll 4
    for (int j = 0; j < DV; ++j) T::store(o + r * dims + d0 + j * W, acc[r][j]);
}

template <class T, int kType, int MR, int DV>
static void pv_any(int64_t rows, int64_t vecs, int64_t dims, int64_t page, const Group& grp, const float* p, int64_t ld,
                   const float* alpha, int64_t d0, float* o, PageAhead& ahead) {
  if constexpr (MR > 1) {
    if (rows < MR) return pv_any<T, kType, MR - 1, DV>(rows, vecs, dims, page, grp, p, ld, alpha, d0, o, ahead);
  }
  if constexpr (DV > 1) {
    if (vecs < DV) return pv_any<T, kType, MR, DV - 1>(rows, vecs, dims, page, grp, p, ld, alpha, d0, o, ahead);
  }
  pv_tile<T, kType, MR, DV>(dims, page, grp, p, ld, alpha, d0, o, ahead);
}

// Online softmax over one row's scores in a group (n entries, hidden ones
// -inf): folds them into m, l; leaves p · (its page's V scale) in s and the
// rescale of o in alpha.
template <class T>
__attribute__((always_inline)) static inline void softmax_row(int64_t n, int64_t page, float* s, const float* vscale,
                                                              float* m, float* l, float* alpha) {
  using V = typename T::V;
  constexpr int W = T::W;
  V mx = T::load(s);
  for (int64_t t = W; t < n; t += W) mx = T::max(mx, T::load(s + t));
  const float group_max = hmax<T>(mx);
  const float m_new = group_max > *m ? group_max : *m;
  if (m_new == kNegInf) {  // nothing visible yet: o stays 0
    memset(s, 0, static_cast<size_t>(n) * sizeof(float));
    *alpha = 1.0f;
    return;
  }
  *alpha = exp2f(*m - m_new);
  const V mv = T::set1(m_new);
  V sum = T::set1(0.0f);
  for (int64_t t = 0; t < n; t += W) {
    const V p = exp2v<T>(T::sub(T::load(s + t), mv));
    sum = T::add(sum, p);
    T::store(s + t, T::mul(p, T::set1(vscale[t / page])));
  }
  *l = *l * *alpha + hsum<T>(sum);
  *m = m_new;
}

// o's vector pairs (2j, 2j + 1) of every row, left in widen2's lane order by
// pv_tile (its tiles start on even vectors), in order.
template <class T, int kType>
static void o_in_order(int64_t rows, int64_t dims, float* o) {
  constexpr int W = T::W;
  if constexpr (kType == SK_BF16)
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t j = 0; (j + 2) * W <= dims; j += 2) {
        float* at = o + r * dims + j * W;
        typename T::V a = T::load(at), b = T::load(at + W);
        in_order<T, kType>(a, b);
        T::store(at, a);
        T::store(at + W, b);
      }
}

template <int kType>
struct PageType {
  static constexpr int value = kType;
};

// The group of pages from the task's c0 (grp.pages set): their K token vectors and scales, V blocks and
// lengths, scales times the reading's factor; NaN in l for a page that saw a non-finite value, as float32
// gives. True when FP8 pages are read as kF8Exp: every page's scales × 2^120 finite.
template <class T, int kType>
static bool read_group(const sk_decode_task& t, const KvPageLayout& lay, int32_t c0, Group& grp, const uint8_t** kvec,
                       float* kscale, float* vscale) {
  constexpr int W = T::W;
  const int64_t page = t.cache.page_size, heads = t.cache.kv_heads, vecs_per_page = page / W;
  bool exp_ok = kType == SK_F8E4M3FN;
  for (int64_t pg = 0; pg < grp.pages; ++pg) {
    const uint8_t* block = t.kv[c0 + pg];
    const float* scales = reinterpret_cast<const float*>(t.meta[c0 + pg] + lay.scales);
    const float ks = scales[t.g];
    vscale[pg] = scales[heads + t.g];
    if (!(ks == ks && vscale[pg] == vscale[pg]))
      for (int64_t r = 0; r < t.rows; ++r) t.l[r] = __builtin_nanf("");
    exp_ok = exp_ok && fabsf(ks) < kExpScaleMax && fabsf(vscale[pg]) < kExpScaleMax;
    const uint8_t* k = block + lay.k;
    for (int64_t j = 0; j < vecs_per_page; ++j) {
      kvec[pg * vecs_per_page + j] = k + j * W * elem_bytes<kType>();
      kscale[pg * vecs_per_page + j] = ks;
    }
    grp.v[pg] = block + lay.v;
    const int64_t j0 = static_cast<int64_t>(t.page_index[c0 + pg]) * page;
    grp.n[pg] = t.length - j0 < page ? t.length - j0 : page;
  }
  const float factor = exp_ok ? kE4m3Widen2p120 : widen_factor<kType>();
  for (int64_t j = 0; j < grp.pages * vecs_per_page; ++j) kscale[j] *= factor;
  for (int64_t pg = 0; pg < grp.pages; ++pg) vscale[pg] *= factor;
  return exp_ok;
}

// f(PageType<how the group's pages are read>{}): FP8 groups whose scales allow
// it by the shift (kF8Exp, read_group), the rest as their type.
template <int kType, class F>
static inline void with_reading(bool exp_ok, F&& f) {
  if constexpr (kType == SK_F8E4M3FN)
    if (exp_ok) return f(PageType<kF8Exp>{});
  f(PageType<kType>{});
}

// Score tile SMR rows × SNV token vectors, P·V tile PMR rows × PDV head-dim
// vectors; kSplit: a page holds an odd number of token vectors, so score
// pairs may span two pages.
template <class T, int kType, bool kSplit, int SMR, int SNV, int PMR, int PDV>
static void decode_task(const sk_decode_task& t, float* scratch) {
  static_assert(SNV % 2 == 0 && PDV % 2 == 0, "tiles start on a vector pair");
  constexpr int W = T::W;
  const int64_t page = t.cache.page_size, dims = t.cache.head_dim, heads = t.cache.kv_heads, rows = t.rows;
  const KvPageLayout lay = kv_page_layout(elem_bytes<kType>(), heads, dims, page);
  const int64_t per_group = page >= group_tokens<kType>() ? 1 : group_tokens<kType>() / page;
  const int64_t ld = per_group * page;
  float* s = scratch;            // [rows][ld]
  float* alpha = s + rows * ld;  // [rows]
  for (int64_t r = 0; r < rows; ++r) t.m[r] = kNegInf, t.l[r] = 0.0f;
  memset(t.o, 0, static_cast<size_t>(rows * dims) * sizeof(float));
  const int64_t all_see = kv_visible_end(t.length, t.seq_q, 0);  // keys below this are visible to every row
  constexpr int64_t kMaxVecs = (kGroupTokensFp8 > kKvMaxPage ? kGroupTokensFp8 : kKvMaxPage) / W;
  const uint8_t* kvec[kMaxVecs];  // the group's token vectors (channel 0), and their K scales
  float kscale[kMaxVecs], vscale[kMaxGroupPages];
  const int64_t dvecs = dims / W, vecs_per_page = page / W;
  PageAhead ahead{t.kv, t.meta, lay.kv_bytes};
  ahead.next = kAheadGroups * per_group;
  {  // lines per step: a group's blocks over its steps (score tiles × dims, P·V tiles × tokens), rounded up
    const int64_t steps = ((rows + SMR - 1) / SMR * ((per_group * vecs_per_page + SNV - 1) / SNV) * dims +
                           (rows + PMR - 1) / PMR * ((dvecs + PDV - 1) / PDV) * per_group * page) /
                          kStepEvery;
    ahead.rate = (per_group * lay.kv_bytes / 64 + steps - 1) / steps + 1;
  }
  for (int32_t c0 = 0; c0 < t.count; c0 += static_cast<int32_t>(per_group)) {
    ahead.end = std::min<int64_t>(t.count, c0 + (kAheadGroups + 1) * per_group);
    Group grp{};
    grp.pages = t.count - c0 < per_group ? t.count - c0 : per_group;
    const bool exp_ok = read_group<T, kType>(t, lay, c0, grp, kvec, kscale, vscale);
    const int64_t vecs = grp.pages * vecs_per_page, n = grp.pages * page;
    auto scores = [&](auto read) {
      for (int64_t r0 = 0; r0 < rows; r0 += SMR)
        for (int64_t v0 = 0; v0 < vecs; v0 += SNV)
          score_any<T, decltype(read)::value, kSplit, SMR, SNV>(rows - r0, vecs - v0, dims, page, t.q + r0 * dims,
                                                                kvec + v0, kscale + v0, s + r0 * ld + v0 * W, ld,
                                                                ahead);
    };
    auto values = [&](auto read) {
      for (int64_t r0 = 0; r0 < rows; r0 += PMR)
        for (int64_t d0 = 0; d0 < dvecs; d0 += PDV)
          pv_any<T, decltype(read)::value, PMR, PDV>(rows - r0, dvecs - d0, dims, page, grp, s + r0 * ld, ld,
                                                     alpha + r0, d0 * W, t.o + r0 * dims, ahead);
    };
    with_reading<kType>(exp_ok, scores);
    // The last pages: partial, or cut by the causal rule among the queries.
    for (int64_t pg = 0; pg < grp.pages; ++pg) {
      const int64_t j0 = static_cast<int64_t>(t.page_index[c0 + pg]) * page;
      if (j0 + page <= all_see) continue;
      for (int64_t r = 0; r < rows; ++r) {
        int64_t end = kv_visible_end(t.length, t.seq_q, r % t.seq_q) - j0;
        end = end < 0 ? 0 : end;
        for (int64_t i = end; i < page; ++i) s[r * ld + pg * page + i] = kNegInf;
      }
    }
    for (int64_t r = 0; r < rows; ++r) softmax_row<T>(n, page, s + r * ld, vscale, t.m + r, t.l + r, alpha + r);
    with_reading<kType>(exp_ok, values);
  }
  o_in_order<T, kType>(rows, dims, t.o);
}

template <class T, int kType, int SMR, int SNV, int PMR, int PDV>
static void decode_pages(const sk_decode_task& t, float* scratch) {
  if ((t.cache.page_size / T::W) % 2)
    decode_task<T, kType, true, SMR, SNV, PMR, PDV>(t, scratch);
  else
    decode_task<T, kType, false, SMR, SNV, PMR, PDV>(t, scratch);
}

template <class T, int SMR, int SNV, int PMR, int PDV>
static void decode_any(const sk_decode_task& t, float* scratch) {
  switch (t.cache.type) {
    case SK_F32: return decode_pages<T, SK_F32, SMR, SNV, PMR, PDV>(t, scratch);
    case SK_F16: return decode_pages<T, SK_F16, SMR, SNV, PMR, PDV>(t, scratch);
    case SK_BF16: return decode_pages<T, SK_BF16, SMR, SNV, PMR, PDV>(t, scratch);
    default: return decode_pages<T, SK_F8E4M3FN, SMR, SNV, PMR, PDV>(t, scratch);
  }
}

#include "quest-bound.h"

// dst[i] = element i of src (of the page type), for n a multiple of 16: the
// Widen loads alone, so the native tests hold them to the scalar decoders.
// FP8 codes are read both ways (e4m3_256 and kF8Exp's e4m3_2m120); a code
// the two read apart comes out NaN.
template <class T>
static void widen_row(sk_dtype type, const void* src, size_t n, float* dst) {
  const uint8_t* s = static_cast<const uint8_t*>(src);
  auto row = [&](auto kind) {
    constexpr int kType = decltype(kind)::value;
    const typename T::V f = T::set1(widen_factor<kType>());
    for (size_t i = 0; i < n; i += T::W) T::store(dst + i, T::mul(widen<T, kType>(s, static_cast<int64_t>(i)), f));
  };
  switch (type) {
    case SK_F32: return row(PageType<SK_F32>{});
    case SK_F16: return row(PageType<SK_F16>{});
    case SK_BF16: return row(PageType<SK_BF16>{});
    default: break;
  }
  row(PageType<SK_F8E4M3FN>{});
  float other[T::W];
  const typename T::V f = T::set1(widen_factor<kF8Exp>());
  for (size_t i = 0; i < n; i += T::W) {
    T::store(other, T::mul(widen<T, kF8Exp>(s, static_cast<int64_t>(i)), f));
    for (int l = 0; l < T::W; ++l)
      if (memcmp(other + l, dst + i + l, sizeof(float)) != 0) dst[i + l] = __builtin_nanf("");
  }
}

}  // namespace sk::cpu::SK_ISA_NAMESPACE
