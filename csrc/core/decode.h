// Paged KV cache math shared by the CPU and CUDA builds (SK_HD, no STL): the
// page block layout, the FP8 page-scale rule, which pages a query must keep
// (sink, recent, its own), causal limits, and merging partial softmax states.
// docs/decode.md describes the same rules for users.
#pragma once
#include <math.h>
#include <stdint.h>

#include "cast_math.h"
#include "hd.h"

namespace sk {

constexpr int32_t kKvMinPage = 16;  // tokens; pages are multiples of 16 (one AVX-512 vector of tokens)
constexpr int32_t kKvMaxPage = 128;
constexpr int32_t kKvMaxHeadDim = 256;    // head dims are multiples of 16 up to this
constexpr int32_t kDecodeMaxQueries = 8;  // Tq: speculative decoding verifies a few tokens
constexpr int64_t kKvPageAlign = 64;      // bytes: every part of a page block starts on a cache line
constexpr float kE4m3Max = 448.0f;        // float8e4m3fn's largest finite value, 1.75 · 2^8
constexpr int kFp8MinScaleExp = -126;     // page scales stay normal float32 values

// A page holds pageSize tokens of every KV head in two kinds of blocks:
//   a (page, KV head) block, one per KV head:
//     T k[D][P]    keys channel-major: one channel's tokens are contiguous
//     T v[P][D]    values token-major
//   the page's metadata block:
//     float scales[2][Hkv]   FP8: the page's 2^e per KV head for K, then V (NaN once a value was not finite); else 1
//     T meta[Hkv][2][D]      element-wise min, then max, of the page's stored keys (Quest)
// with T the page type (codes of it for FP8: value = code · scale). Pages
// live in slabs (csrc/core/kv_pages.h) that keep each KV head's blocks of
// consecutive pages next to each other, so reading a KV head's pages in
// order is one stream; a page's block of KV head g lies g · head_stride
// bytes past its block of KV head 0. Every part starts on a 64-byte boundary.
struct KvPageLayout {
  int64_t k, v, kv_bytes;           // offsets in a (page, KV head) block, and its size
  int64_t scales, meta, meta_head;  // offsets in a metadata block; bytes per KV head of meta
  int64_t meta_bytes;               // the metadata block's size
};

SK_HD int64_t kv_align(int64_t n) { return (n + kKvPageAlign - 1) / kKvPageAlign * kKvPageAlign; }

// elem: bytes per element of the page type.
SK_HD KvPageLayout kv_page_layout(int64_t elem, int64_t kv_heads, int64_t head_dim, int64_t page) {
  KvPageLayout l{};
  l.k = 0;
  l.v = kv_align(page * head_dim * elem);
  l.kv_bytes = l.v + kv_align(page * head_dim * elem);
  l.scales = 0;
  l.meta = kv_align(2 * kv_heads * 4);
  l.meta_head = 2 * head_dim * elem;
  l.meta_bytes = l.meta + kv_align(kv_heads * l.meta_head);
  return l;
}

SK_HD int64_t kv_pages_for(int64_t tokens, int64_t page) { return (tokens + page - 1) / page; }

// 2^e as a float32, e in [-126, 127].
SK_HD float exp2_int(int e) { return ScalarLanes::flt(static_cast<uint32_t>(e + 127) << 23); }

// The FP8 page-scale rule: a page's values x are stored as e4m3fn(x / 2^e)
// with e the smallest integer ≥ kFp8MinScaleExp such that every |x| seen by
// the page fits, |x| ≤ 448 · 2^e. A power of two keeps rescaling exact: when
// an append brings a larger value, e grows and the codes already in the page
// are re-encoded as code · 2^(e_old − e_new), which changes nothing but the
// few that fall below e4m3fn's normal range (rounded to nearest even again).
// amax must be finite and ≥ 0.
SK_HD int fp8_scale_exp(float amax) {
  const uint32_t b = ScalarLanes::bits(amax);
  const int biased = static_cast<int>(b >> 23);
  if (biased == 0) return kFp8MinScaleExp;  // 0 or subnormal: 448 · 2^-126 holds it
  const uint32_t mantissa = b & 0x7FFFFFu;
  // amax = (1 + m) · 2^(biased-127) ≤ 1.75 · 2^(8+e)  ⟺  e ≥ biased − 135 + (1 + m > 1.75)
  const int e = biased - 127 - 8 + (mantissa > 0x600000u ? 1 : 0);
  return e < kFp8MinScaleExp ? kFp8MinScaleExp : e;
}

// The page scale for a chunk whose largest |x| is amax (NaN when a value was
// not finite: the page's attention output is then NaN, as it would be in float32).
SK_HD float fp8_page_scale(float amax, bool finite) {
  return finite ? exp2_int(fp8_scale_exp(amax)) : ScalarLanes::flt(kF32Inf | kF32Quiet);
}

// A code of the page encoded at scale 2^e_old, re-encoded at the larger 2^e_new.
SK_HD uint32_t fp8_rescale_code(uint32_t code, float ratio /* 2^(e_old − e_new) */) {
  const float x = ScalarLanes::flt(e4m3fn_to_f32<ScalarLanes>(code)) * ratio;
  return f32_to_e4m3fn<ScalarLanes>(ScalarLanes::bits(x), true);
}

// Decode queries: q row i of Tq (0-based) is token len − Tq + i and sees
// keys j < kv_visible_end(len, tq, i) (bottom-right causal among themselves).
SK_HD int64_t kv_visible_end(int64_t len, int64_t tq, int64_t i) { return len - tq + i + 1; }

// Pages a selection always keeps for a sequence of len tokens (len ≥ tq ≥ 1):
// the sink pages [0, kv_sink_end) holding the first `sink` tokens, and the
// recent pages [kv_recent_begin, pages) holding the last max(recent, tq)
// tokens, so the queries' own keys are always there.
SK_HD int64_t kv_sink_end(int64_t sink, int64_t page, int64_t pages) {
  const int64_t n = kv_pages_for(sink, page);
  return n < pages ? n : pages;
}
SK_HD int64_t kv_recent_begin(int64_t len, int64_t recent, int64_t tq, int64_t page) {
  int64_t w = recent > tq ? recent : tq;
  if (w > len) w = len;
  return (len - w) / page;
}

// A partial softmax state in base 2: running max m (of scaled logits in log2
// units), sum l of 2^(s − m), and an unnormalised output row o. Merging two
// states of disjoint key sets gives the state of their union.
struct SoftmaxMerge {
  float m, l, a, b;  // the merged max and sum; each side's weight 2^(m_side − m)
};
SK_HD SoftmaxMerge softmax_merge(float m1, float l1, float m2, float l2) {
  SoftmaxMerge r{};
  r.m = m1 > m2 ? m1 : m2;
  if (l1 <= 0.0f && l2 <= 0.0f) return SoftmaxMerge{r.m, 0.0f, 0.0f, 0.0f};
  r.a = l1 > 0.0f ? exp2f(m1 - r.m) : 0.0f;
  r.b = l2 > 0.0f ? exp2f(m2 - r.m) : 0.0f;
  r.l = l1 * r.a + l2 * r.b;
  return r;
}

}  // namespace sk
