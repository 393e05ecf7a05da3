// FP8 attention operands (sk_fp8_scales, docs/fp8.md) for the flash loop:
// codes widened in registers (csrc/cpu/widen.h) and multiplied by their
// tile's scale as they are written to the item's float32 scratch: a query
// row once per item, a chunk's K and V rows once for all of the item's
// queries, so the FP8 tensors are never converted to a float32 copy.
// Included by f32-attn-impl.h inside sk::cpu::<isa>, after vec-ops.h.
//
// Codes are quantize()'s: finite. A NaN code (only written by hand) reads as
// ±480 · scale on the vector paths (widen.h) and as NaN in a row's tail, so
// what a NaN code gives is undefined (docs/fp8.md, Limits); scales are
// quantize()'s too, at most FLT_MAX / 448, so scale · 256 stays finite.
#pragma once
#include <stdint.h>

#include "../widen.h"

// dst[i] = value(src[i]) · scale · (channel ? channel[i] : 1) for i < n.
// Widen's e4m3 factor is folded into the scale (exact: a power of two), so
// the vector and tail paths round the same products.
template <class T>
static inline void fp8_row(sk_dtype type, const uint8_t* src, int64_t n, float scale, const float* channel,
                           float* dst) {
  const bool e4 = type == SK_F8E4M3FN;
  const typename T::V s = T::set1(e4 ? scale * kE4m3Widen256 : scale);
  int64_t i = 0;
  for (; i + T::W <= n; i += T::W) {
    typename T::V x = T::mul(e4 ? Widen::e4m3_256(src + i) : Widen::e5m2(src + i), s);
    if (channel) x = T::mul(x, T::load(channel + i));
    T::store(dst + i, x);
  }
  for (; i < n; ++i) {
    const float x = TailLanes::flt(e4 ? e4m3fn_to_f32<TailLanes>(src[i]) : e5m2_to_f32<TailLanes>(src[i])) * scale;
    dst[i] = channel ? x * channel[i] : x;
  }
}

// Query row s of (b, h), widened and scaled.
static inline void fp8_q_row(const sk_attention_params& p, int64_t b, int64_t h, int64_t s, const uint8_t* src,
                             float* dst) {
  const sk_fp8_scales& f = *p.fp8;
  const int64_t tiles = (p.seq_q + f.tile - 1) / f.tile;
  fp8_row<VecOps>(p.dtype, src, p.head_dim, f.q[(b * p.heads_q + h) * tiles + s / f.tile], nullptr, dst);
}

// Keys [j0, j0 + kc) of (b, KV head g): K rows into kf and V rows into vf,
// [kc][D] each, widened and scaled (K per tile, V per tile and channel).
static inline void fp8_chunk(const sk_attention_params& p, int64_t b, int64_t g, int64_t j0, size_t kc, float* kf,
                             float* vf) {
  const sk_fp8_scales& f = *p.fp8;
  const int64_t d = p.head_dim;
  const int64_t tiles = (p.seq_kv + f.tile - 1) / f.tile;
  const int64_t row = (b * p.heads_kv + g) * tiles;
  const uint8_t* k = static_cast<const uint8_t*>(p.k) + b * p.k_stride_b + g * p.k_stride_h;
  const uint8_t* v = static_cast<const uint8_t*>(p.v) + b * p.v_stride_b + g * p.v_stride_h;
  for (size_t c = 0; c < kc; ++c) {
    const int64_t j = j0 + static_cast<int64_t>(c), t = row + j / f.tile;
    fp8_row<VecOps>(p.dtype, k + j * p.k_stride_s, d, f.k[t], nullptr, kf + c * d);
    fp8_row<VecOps>(p.dtype, v + j * p.v_stride_s, d, 1.0f, f.v + t * d, vf + c * d);
  }
}

// The lse's shift for smoothed K, in log2 units: q̂·mean · scale · log2 e of
// query column r of Qᵀ [D][ld] (already scaled by scale · log2 e); 0 unless
// K was smoothed.
static inline double fp8_lse_shift(const sk_attention_params& p, const sk_attention_item& it, size_t ld,
                                   const float* qt, int32_t r) {
  if (!p.fp8 || !p.fp8->k_mean) return 0.0;
  const int64_t g = it.h / (p.heads_q / p.heads_kv);
  const float* mean = p.fp8->k_mean + (it.b * p.heads_kv + g) * p.head_dim;
  double dot = 0.0;
  for (int64_t d = 0; d < p.head_dim; ++d) dot += static_cast<double>(qt[d * ld + r]) * mean[d];
  return dot;
}
