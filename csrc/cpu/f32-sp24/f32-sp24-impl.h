// The 2:4 linear micro-kernels, written once over a traits type T (LinOps of
// ../f32-gemm/ops-<isa>.h) and, for the gemv, K (the ISA's `fma_kept`:
// acc + W kept weights · the W elements of x they meet, picked out of 2·W
// elements of x by W / 4 code bytes; `fma_kept2`: the same for two vectors
// in a row, which lets an ISA decode their codes together). Compiled by each ISA's file
// with its flags; everything lands in sk::cpu::<isa>.
#pragma once
#include <stddef.h>
#include <stdint.h>

#include "../../core/sp24_meta.h"
#include "../f32-gemm/f32-gemm-impl.h"

namespace sk::cpu::SK_ISA_NAMESPACE {

// R rows' loops of the gemv, interleaved (R streams keep more memory misses in
// flight than one, as the dense gemv's 4 rows do): vectors of W kept weights
// (W / 4 code bytes, 2·W elements of x each), then the groups left over one by one.
template <class T, class K, int WT, int R>
static void sp24_rows(size_t kd, const float* x, const void* values, size_t half, const uint8_t* meta, size_t mbytes,
                      float* sums) {
  using V = typename T::V;
  constexpr int W = T::W;
  const size_t groups = kd / 4;
  size_t d = 0;  // dense position along K
  for (int r = 0; r < R; ++r) sums[r] = 0.0f;
  if constexpr (W > 1) {
    constexpr size_t kStep = 2 * W;  // dense elements per vector of kept values
    V a0[R], a1[R];
    for (int r = 0; r < R; ++r) a0[r] = a1[r] = T::zero();
    for (; d + 2 * kStep <= kd; d += 2 * kStep)
#pragma GCC unroll 4
      for (int r = 0; r < R; ++r)
        K::fma_kept2(a0[r], a1[r], load_w<T, WT>(values, r * half + d / 2), load_w<T, WT>(values, r * half + d / 2 + W), x + d,
                     meta + r * mbytes + d / 8);
    if (d + kStep <= kd) {
      for (int r = 0; r < R; ++r) a0[r] = K::fma_kept(a0[r], load_w<T, WT>(values, r * half + d / 2), x + d, meta + r * mbytes + d / 8);
      d += kStep;
    }
    for (int r = 0; r < R; ++r) sums[r] = T::hsum(T::add(a0[r], a1[r]));
  }
  for (int r = 0; r < R; ++r)
    for (size_t g = d / 4; g < groups; ++g) {
      const uint32_t code = (meta[r * mbytes + g / 2] >> (4 * (g % 2))) & 15u;
      sums[r] += scalar_w<T, WT>(values, r * half + 2 * g) * x[4 * g + (code & 3u)] +
                 scalar_w<T, WT>(values, r * half + 2 * g + 1) * x[4 * g + (code >> 2)];
    }
}

template <class T, class K, int WT>
static void sp24gemv_typed(size_t rows, size_t kd, const float* x, const void* values, const uint8_t* meta,
                           const float* bias, float* out) {
  const size_t half = kd / 2, mbytes = (kd / 4 + 1) / 2;
  const size_t esize = WT == SK_F32 ? 4 : 2;
  const auto at = [&](size_t r) { return static_cast<const uint8_t*>(values) + r * half * esize; };
  float sums[4];
  size_t r = 0;
  for (; r + 4 <= rows; r += 4) {
    sp24_rows<T, K, WT, 4>(kd, x, at(r), half, meta + r * mbytes, mbytes, sums);
    for (int i = 0; i < 4; ++i) out[r + i] = sums[i] + (bias ? bias[r + i] : 0.0f);
  }
  for (; r < rows; ++r) {
    sp24_rows<T, K, WT, 1>(kd, x, at(r), half, meta + r * mbytes, mbytes, sums);
    out[r] = sums[0] + (bias ? bias[r] : 0.0f);
  }
}

template <class T, class K>
static void sp24gemv(size_t rows, size_t kd, const float* x, const void* values, const uint8_t* meta, sk_dtype wt,
                     const float* bias, float* out) {
  switch (wt) {
    case SK_F16: return sp24gemv_typed<T, K, SK_F16>(rows, kd, x, values, meta, bias, out);
    case SK_BF16: return sp24gemv_typed<T, K, SK_BF16>(rows, kd, x, values, meta, bias, out);
    default: return sp24gemv_typed<T, K, SK_F32>(rows, kd, x, values, meta, bias, out);
  }
}

// One kept weight of NR rows against MV vectors of xᵀ (one row of the packed block).
template <class T, int MV, int NR>
static inline void sp24_fma(typename T::V (&acc)[MV], float w, const float* xrow) {
  const typename T::V b = T::set1(w);
#pragma GCC unroll 8
  for (int v = 0; v < MV; ++v) acc[v] = T::fma(b, T::load(xrow + v * T::W), acc[v]);
}

// Cᵀ tile: NR weight rows × MV·W rows of x. Two groups (one code byte) per
// step; rows past nr repeat the last valid row and are not stored.
template <class T, int MV, int NR, int WT>
static void sp24gemm_typed(size_t nr, size_t groups, const float* xt, const void* values, size_t vstride,
                           const uint8_t* meta, size_t mstride, float* ct, bool accumulate) {
  using V = typename T::V;
  constexpr int W = T::W, MR = MV * W;
  V acc[NR][MV];
  size_t vo[NR];
  const uint8_t* mp[NR];
#pragma GCC unroll 8
  for (int r = 0; r < NR; ++r) {
    const size_t row = static_cast<size_t>(r) < nr ? static_cast<size_t>(r) : nr - 1;
    vo[r] = row * vstride;
    mp[r] = meta + row * mstride;
#pragma GCC unroll 8
    for (int v = 0; v < MV; ++v) acc[r][v] = accumulate ? T::load(ct + r * MR + v * W) : T::zero();
  }
  size_t g = 0;
  for (; g + 2 <= groups; g += 2) {
    const float* x0 = xt + 4 * g * MR;
#pragma GCC unroll 8
    for (int r = 0; r < NR; ++r) {
      const uint32_t byte = mp[r][g / 2];
      const size_t v = vo[r] + 2 * g;
      sp24_fma<T, MV, NR>(acc[r], scalar_w<T, WT>(values, v), x0 + (byte & 3u) * MR);
      sp24_fma<T, MV, NR>(acc[r], scalar_w<T, WT>(values, v + 1), x0 + ((byte >> 2) & 3u) * MR);
      sp24_fma<T, MV, NR>(acc[r], scalar_w<T, WT>(values, v + 2), x0 + (4 + ((byte >> 4) & 3u)) * MR);
      sp24_fma<T, MV, NR>(acc[r], scalar_w<T, WT>(values, v + 3), x0 + (4 + (byte >> 6)) * MR);
    }
  }
  if (g < groups) {  // an odd last group: the low half of its byte
    const float* x0 = xt + 4 * g * MR;
    for (int r = 0; r < NR; ++r) {
      const uint32_t byte = mp[r][g / 2];
      const size_t v = vo[r] + 2 * g;
      sp24_fma<T, MV, NR>(acc[r], scalar_w<T, WT>(values, v), x0 + (byte & 3u) * MR);
      sp24_fma<T, MV, NR>(acc[r], scalar_w<T, WT>(values, v + 1), x0 + ((byte >> 2) & 3u) * MR);
    }
  }
  for (int r = 0; r < NR; ++r)
    if (static_cast<size_t>(r) < nr)
#pragma GCC unroll 8
      for (int v = 0; v < MV; ++v) T::store(ct + r * MR + v * W, acc[r][v]);
}

// dst[i] = w[off + i] as float32 for i < n, W at a time.
template <class T, int WT>
static void widen(const void* w, size_t off, size_t n, float* dst) {
  size_t i = 0;
  for (; i + T::W <= n; i += T::W) T::store(dst + i, load_w<T, WT>(w, off + i));
  for (; i < n; ++i) dst[i] = scalar_w<T, WT>(w, off + i);
}

template <class T, int MV, int NR, int WT>
static void sp24gemm_narrow(size_t nr, size_t groups, const float* xt, const void* values, size_t vstride,
                            const uint8_t* meta, size_t mstride, float* ct, bool accumulate) {
  constexpr size_t kChunk = 64;  // groups per widened chunk (even: chunks start on a code byte)
  constexpr int MR = MV * T::W;
  alignas(64) float buf[NR][2 * kChunk];
  if (groups == 0) return sp24gemm_typed<T, MV, NR, SK_F32>(nr, 0, xt, values, 0, meta, mstride, ct, accumulate);  // reads no value
  for (size_t g0 = 0; g0 < groups; g0 += kChunk) {
    const size_t gc = groups - g0 < kChunk ? groups - g0 : kChunk;
    for (size_t r = 0; r < nr; ++r) widen<T, WT>(values, r * vstride + 2 * g0, 2 * gc, buf[r]);
    sp24gemm_typed<T, MV, NR, SK_F32>(nr, gc, xt + 4 * g0 * MR, buf[0], 2 * kChunk, meta + g0 / 2, mstride, ct,
                                      accumulate || g0 > 0);
  }
}

// float16 / bfloat16 values are widened a chunk at a time with vector loads,
// so the tile broadcasts float32 (one load) instead of decoding each weight.
template <class T, int MV, int NR>
static void sp24gemm(size_t nr, size_t groups, const float* xt, const void* values, size_t vstride, const uint8_t* meta,
                     size_t mstride, sk_dtype wt, float* ct, bool accumulate) {
  switch (wt) {
    case SK_F16: return sp24gemm_narrow<T, MV, NR, SK_F16>(nr, groups, xt, values, vstride, meta, mstride, ct, accumulate);
    case SK_BF16: return sp24gemm_narrow<T, MV, NR, SK_BF16>(nr, groups, xt, values, vstride, meta, mstride, ct, accumulate);
    default: return sp24gemm_typed<T, MV, NR, SK_F32>(nr, groups, xt, values, vstride, meta, mstride, ct, accumulate);
  }
}

}  // namespace sk::cpu::SK_ISA_NAMESPACE

// Defines the SpMM tile of one sp24.inc line.
#define SK_DEFINE_SP24_GEMM(isa, mr, nr)                                                                             \
  void sk_f32_sp24gemm_ukernel_##mr##x##nr##__##isa(size_t nr_, size_t groups, const float* xt, const void* values,  \
                                                    size_t vstride, const uint8_t* meta, size_t mstride,             \
                                                    sk_dtype w_type, float* ct, bool accumulate) {                    \
    using T = sk::cpu::isa::LinOps;                                                                                  \
    static_assert((mr) % T::W == 0, "sp24.inc: mr must be a multiple of the lanes");                                \
    sk::cpu::isa::sp24gemm<T, (mr) / T::W, nr>(nr_, groups, xt, values, vstride, meta, mstride, w_type, ct,          \
                                               accumulate);                                                          \
  }

// Defines an ISA's gemv; K is its `fma_kept` type.
#define SK_DEFINE_SP24_GEMV(isa, K)                                                                                  \
  void sk_f32_sp24gemv_ukernel__##isa(size_t rows, size_t kd, const float* x, const void* values,                   \
                                      const uint8_t* meta, sk_dtype w_type, const float* bias, float* out) {         \
    sk::cpu::isa::sp24gemv<sk::cpu::isa::LinOps, K>(rows, kd, x, values, meta, w_type, bias, out);                  \
  }
