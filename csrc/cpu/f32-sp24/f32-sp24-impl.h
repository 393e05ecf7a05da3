// The 2:4 panel micro-kernel (sp24.h), written once over a per-ISA traits
// type P and compiled by each ISA's file with its flags; everything lands in
// sk::cpu::<isa>. P gives:
//   Acc                      one row of x's accumulators for the panel's 8 rows
//   Group                    one group's kept values (2 × 8, widened to float32)
//                            and the permute controls decoded from its code word
//   zero()                   Acc of zeros
//   load<WT>(values, q, w)   Group q of the panel, w its code word
//   fma(acc, group, xq)      acc + each row's two kept values · the elements
//                            of xq[0..4) its code picks
//   store(acc, s)            s[r] = row r's sum (s: 8 floats, 32-byte aligned)
// and, where bfloat16 values pay for a path of their own (kSplitGroups > 0):
//   SplitAcc, SplitX, split_zero(), split_x(xq)   as above, for kSplitGroups groups
//   split_load(values, q, codes)  those groups' values, widened by a shift and
//                            a mask (even / odd halves of each 32-bit lane)
//                            instead of a zero-extending shuffle, and their code
//                            words, read at codes
//   split_fma(acc, group, sx), split_store(acc, s)
//   kCheckGroups, Check, check_zero(), check(bad, codes), check_ok(bad)
//                            sk::sp24_bad_nibbles on one vector: the code words
//                            of kCheckGroups groups at codes, OR-ed into bad
#pragma once
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <type_traits>

#include "../../core/sp24_meta.h"
#include "../f32-gemm/f32-gemm-impl.h"

namespace sk::cpu::SK_ISA_NAMESPACE {

// MR rows of x against one panel: each group is loaded and decoded once and
// used by every row (the rows' accumulators stay in registers). With few
// rows, U accumulator sets take alternate groups, so more FMA chains run at once.
template <class P, int MR, int WT>
static void sp24_rows(size_t nr, size_t groups, const float* x, size_t xs, const void* values, const uint8_t* meta,
                      const float* bias, float* out, size_t os, bool accumulate) {
  constexpr int U = MR <= 2 ? 2 : 1;
  typename P::Acc acc[U][MR];
#pragma GCC unroll 8
  for (int u = 0; u < U; ++u)
#pragma GCC unroll 8
    for (int i = 0; i < MR; ++i) acc[u][i] = P::zero();
  size_t q = 0;
  for (; q + U <= groups; q += U)
#pragma GCC unroll 8
    for (int u = 0; u < U; ++u) {
      uint32_t word;
      memcpy(&word, meta + 4 * (q + u), 4);
      const typename P::Group g = P::template load<WT>(values, q + u, word);
#pragma GCC unroll 8
      for (int i = 0; i < MR; ++i) acc[u][i] = P::fma(acc[u][i], g, x + i * xs + 4 * (q + u));
    }
  for (; q < groups; ++q) {
    uint32_t word;
    memcpy(&word, meta + 4 * q, 4);
    const typename P::Group g = P::template load<WT>(values, q, word);
#pragma GCC unroll 8
    for (int i = 0; i < MR; ++i) acc[0][i] = P::fma(acc[0][i], g, x + i * xs + 4 * q);
  }
  alignas(64) float s[U][MR][8];
#pragma GCC unroll 8
  for (int u = 0; u < U; ++u)
#pragma GCC unroll 8
    for (int i = 0; i < MR; ++i) P::store(acc[u][i], s[u][i]);
  for (int i = 0; i < MR; ++i) {
    float* o = out + i * os;
    for (size_t r = 0; r < nr; ++r) {
      float sum = s[0][i][r];
      for (int u = 1; u < U; ++u) sum += s[u][i][r];
      o[r] = sum + (accumulate ? o[r] : bias ? bias[r] : 0.0f);
    }
  }
}

// One row of x against NP panels side by side (decode, sp24.h): the values
// stream from memory at a few operations per cache line, and NP streams keep
// more misses in flight than one; software prefetch gained less
// (bench/results/tuning-notes.md).
// The code check rides along: a few integer operations per word, beside the
// vector work, instead of a separate pass over the codes.
template <class P, class = void>
struct SplitGroups : std::integral_constant<int, 0> {};
template <class P>
struct SplitGroups<P, std::void_t<decltype(P::kSplitGroups)>> : std::integral_constant<int, P::kSplitGroups> {};

// How far ahead of each panel stream the split path prefetches into L2. One
// line per stream per step (a step reads one line of each panel's values):
// paced, so no burst of misses stalls the FMAs, and the lines arrive across
// the 4 KiB page boundaries where the hardware's stream prefetchers restart.
// Nearer or farther was no faster (bench/results/tuning-notes.md).
constexpr size_t kGemvAheadBytes = 2048;

// bfloat16 values, kSplitGroups groups a step: returns the first group left
// for the one-group loop. The codes are checked a vector (kCheckGroups
// groups) at a time beside the steps; checking each step's word with
// integer operations took a fifth of the time on AVX-512 (the kernel was
// then bound by its instructions even with the values in L3).
template <class P, int NP>
static size_t sp24_gemv_split(size_t groups, const float* x, const void* values, size_t vstride, const uint8_t* meta,
                              size_t mstride, uint64_t& bad, float (*sums)[8]) {
  constexpr size_t S = static_cast<size_t>(SplitGroups<P>::value), B = P::kCheckGroups;
  static_assert(S == 2, "a step reads two code words");
  static_assert(B % S == 0, "a checked block is whole steps");
  constexpr size_t ahead = kGemvAheadBytes / (16 * sizeof(uint16_t));  // in groups
  typename P::SplitAcc acc[NP];
  const uint16_t* v[NP];
  const uint8_t* m[NP];
#pragma GCC unroll 4
  for (int j = 0; j < NP; ++j)
    acc[j] = P::split_zero(), v[j] = static_cast<const uint16_t*>(values) + j * vstride, m[j] = meta + j * mstride;
  typename P::Check chk = P::check_zero();
  const auto step = [&](size_t q) __attribute__((always_inline)) {
    const typename P::SplitX sx = P::split_x(x + 4 * q);
#pragma GCC unroll 4
    for (int j = 0; j < NP; ++j) acc[j] = P::split_fma(acc[j], P::split_load(v[j], q, m[j] + 4 * q), sx);
  };
  // prefetch (std::true_type): the lines `ahead` groups on exist (no pointer past the weight).
  const auto block = [&](size_t q, auto prefetch) __attribute__((always_inline)) {
#pragma GCC unroll 4
    for (int j = 0; j < NP; ++j) chk = P::check(chk, m[j] + 4 * q);
#pragma GCC unroll 16
    for (size_t s = 0; s < B; s += S) {
      if constexpr (decltype(prefetch)::value)
#pragma GCC unroll 4
        for (int j = 0; j < NP; ++j) __builtin_prefetch(v[j] + 16 * (q + s + ahead), 0, 2);
      step(q + s);
    }
  };
  size_t q = 0;
  for (; q + B + ahead <= groups; q += B) block(q, std::true_type{});
  for (; q + B <= groups; q += B) block(q, std::false_type{});
  uint64_t b = 0;
  for (; q + S <= groups; q += S) {
#pragma GCC unroll 4
    for (int j = 0; j < NP; ++j) {
      uint64_t codes;
      memcpy(&codes, m[j] + 4 * q, 8);
      b |= sk::sp24_bad_nibbles(codes);
    }
    step(q);
  }
  bad |= b | (P::check_ok(chk) ? 0 : 1);
#pragma GCC unroll 4
  for (int j = 0; j < NP; ++j) P::split_store(acc[j], sums[j]);
  return q;
}

template <class P, int NP, int WT>
static bool sp24_gemv_panels(size_t nr, size_t groups, const float* x, const void* values, size_t vstride,
                             const uint8_t* meta, size_t mstride, const float* bias, float* out) {
  constexpr size_t esize = WT == SK_F32 ? 4 : 2;
  uint64_t bad = 0;
  typename P::Acc acc[NP];
#pragma GCC unroll 4
  for (int j = 0; j < NP; ++j) acc[j] = P::zero();
  alignas(64) float split[NP][8] = {};
  size_t q = 0;
  if constexpr (WT == SK_BF16 && SplitGroups<P>::value > 0)
    q = sp24_gemv_split<P, NP>(groups, x, values, vstride, meta, mstride, bad, split);
  for (; q < groups; ++q)
#pragma GCC unroll 4
    for (int j = 0; j < NP; ++j) {
      uint32_t word;
      memcpy(&word, meta + j * mstride + 4 * q, 4);
      bad |= sk::sp24_bad_nibbles(0x4444444400000000ull | word);  // the high half: valid fill
      const void* v = static_cast<const uint8_t*>(values) + j * vstride * esize;
      acc[j] = P::fma(acc[j], P::template load<WT>(v, q, word), x + 4 * q);
    }
  alignas(64) float s[NP][8];
#pragma GCC unroll 4
  for (int j = 0; j < NP; ++j) P::store(acc[j], s[j]);
  for (int j = 0; j < NP; ++j)
    for (size_t r = 0; r < (j == NP - 1 ? nr : 8); ++r)
      out[8 * j + r] = s[j][r] + split[j][r] + (bias ? bias[8 * j + r] : 0.0f);
  return bad == 0;
}

template <class P, int WT>
static bool sp24_gemv_fit(size_t np, size_t nr, size_t groups, const float* x, const void* values, size_t vstride,
                          const uint8_t* meta, size_t mstride, const float* bias, float* out) {
  switch (np) {
    case 1: return sp24_gemv_panels<P, 1, WT>(nr, groups, x, values, vstride, meta, mstride, bias, out);
    case 2: return sp24_gemv_panels<P, 2, WT>(nr, groups, x, values, vstride, meta, mstride, bias, out);
    case 3: return sp24_gemv_panels<P, 3, WT>(nr, groups, x, values, vstride, meta, mstride, bias, out);
    default: return sp24_gemv_panels<P, 4, WT>(nr, groups, x, values, vstride, meta, mstride, bias, out);
  }
}

template <class P>
static bool sp24_gemv(size_t np, size_t nr, size_t groups, const float* x, const void* values, size_t vstride,
                      const uint8_t* meta, size_t mstride, sk_dtype wt, const float* bias, float* out) {
  switch (wt) {
    case SK_F16: return sp24_gemv_fit<P, SK_F16>(np, nr, groups, x, values, vstride, meta, mstride, bias, out);
    case SK_BF16: return sp24_gemv_fit<P, SK_BF16>(np, nr, groups, x, values, vstride, meta, mstride, bias, out);
    default: return sp24_gemv_fit<P, SK_F32>(np, nr, groups, x, values, vstride, meta, mstride, bias, out);
  }
}

// kV·W rows of x, transposed (xt [4·groups][kV·W]: element k of row i at
// xt[k·kV·W + i]), against nr ≤ 8 rows of one panel, vectorised along the
// rows of x (the SpMM kernels' order): per kept value one broadcast and kV
// FMAs whose x operand is the row of xt the code points at. The code becomes
// an address (integer work beside the vector pipes), not a permute per row
// of x as in sp24_rows, so only the kept products take vector slots.
template <class T, int kV, int WT>
static void sp24_spmm_rows(size_t nr, size_t groups, const float* xt, const void* values, const uint8_t* meta,
                           const float* bias, float* yt, size_t yt_stride, bool accumulate) {
  using V = typename T::V;
  constexpr size_t MR = kV * T::W;
  for (size_t r = 0; r < nr; ++r) {
    float* y = yt + r * yt_stride;
    V acc[kV];
    const V b = T::set1(bias ? bias[r] : 0.0f);
#pragma GCC unroll 16
    for (int v = 0; v < kV; ++v) acc[v] = accumulate ? T::load(y + v * T::W) : b;
    const uint8_t* codes = meta + r / 2;  // row r's nibble of each word
    const unsigned shift = 4 * static_cast<unsigned>(r % 2);
    const float* x = xt;
    for (size_t q = 0; q < groups; ++q, x += 4 * MR) {
      const unsigned code = (codes[4 * q] >> shift) & 15u;
      const float* x0 = x + (code & 3u) * MR;
      const float* x1 = x + (code >> 2) * MR;
      const V w0 = T::set1(scalar_w<T, WT>(values, 16 * q + r));
      const V w1 = T::set1(scalar_w<T, WT>(values, 16 * q + 8 + r));
#pragma GCC unroll 16
      for (int v = 0; v < kV; ++v) acc[v] = T::fma(T::load(x0 + v * T::W), w0, acc[v]);
#pragma GCC unroll 16
      for (int v = 0; v < kV; ++v) acc[v] = T::fma(T::load(x1 + v * T::W), w1, acc[v]);
    }
#pragma GCC unroll 16
    for (int v = 0; v < kV; ++v) T::store(y + v * T::W, acc[v]);
  }
}

template <class T, int kV>
static void sp24_spmm(size_t nr, size_t groups, const float* xt, const void* values, const uint8_t* meta, sk_dtype wt,
                      const float* bias, float* yt, size_t yt_stride, bool accumulate) {
  switch (wt) {
    case SK_F16: return sp24_spmm_rows<T, kV, SK_F16>(nr, groups, xt, values, meta, bias, yt, yt_stride, accumulate);
    case SK_BF16: return sp24_spmm_rows<T, kV, SK_BF16>(nr, groups, xt, values, meta, bias, yt, yt_stride, accumulate);
    default: return sp24_spmm_rows<T, kV, SK_F32>(nr, groups, xt, values, meta, bias, yt, yt_stride, accumulate);
  }
}

// mr (1..MR) rows: the instance with exactly mr accumulators.
template <class P, int MR, int WT>
static void sp24_fit(size_t mr, size_t nr, size_t groups, const float* x, size_t xs, const void* values,
                     const uint8_t* meta, const float* bias, float* out, size_t os, bool accumulate) {
  if constexpr (MR > 1)
    if (mr < MR) return sp24_fit<P, MR - 1, WT>(mr, nr, groups, x, xs, values, meta, bias, out, os, accumulate);
  sp24_rows<P, MR, WT>(nr, groups, x, xs, values, meta, bias, out, os, accumulate);
}

template <class P, int MR>
static void sp24_ukernel(size_t mr, size_t nr, size_t groups, const float* x, size_t xs, const void* values,
                         const uint8_t* meta, sk_dtype wt, const float* bias, float* out, size_t os, bool accumulate) {
  switch (wt) {
    case SK_F16: return sp24_fit<P, MR, SK_F16>(mr, nr, groups, x, xs, values, meta, bias, out, os, accumulate);
    case SK_BF16: return sp24_fit<P, MR, SK_BF16>(mr, nr, groups, x, xs, values, meta, bias, out, os, accumulate);
    default: return sp24_fit<P, MR, SK_F32>(mr, nr, groups, x, xs, values, meta, bias, out, os, accumulate);
  }
}

}  // namespace sk::cpu::SK_ISA_NAMESPACE

// Defines the micro-kernels of one sp24.inc line; P is the ISA's panel traits.
#define SK_DEFINE_SP24_UKERNEL(isa, mr, smr, P)                                                                        \
  void sk_f32_sp24_ukernel_##mr##x8__##isa(size_t mr_, size_t nr, size_t groups, const float* x, size_t x_stride,      \
                                           const void* values, const uint8_t* meta, sk_dtype w_type,                   \
                                           const float* bias, float* out, size_t out_stride, bool accumulate) {        \
    sk::cpu::isa::sp24_ukernel<P, mr>(mr_, nr, groups, x, x_stride, values, meta, w_type, bias, out, out_stride,       \
                                      accumulate);                                                                     \
  }                                                                                                                    \
  bool sk_f32_sp24_gemv_ukernel__##isa(size_t np, size_t nr, size_t groups, const float* x, const void* values,        \
                                       size_t vstride, const uint8_t* meta, size_t mstride, sk_dtype w_type,           \
                                       const float* bias, float* out) {                                                \
    return sk::cpu::isa::sp24_gemv<P>(np, nr, groups, x, values, vstride, meta, mstride, w_type, bias, out);           \
  }                                                                                                                    \
  void sk_f32_sp24_spmm_ukernel_##smr##x1__##isa(size_t nr, size_t groups, const float* xt, const void* values,        \
                                                 const uint8_t* meta, sk_dtype w_type, const float* bias, float* yt,   \
                                                 size_t yt_stride, bool accumulate) {                                  \
    sk::cpu::isa::sp24_spmm<sk::cpu::isa::LinOps, smr / sk::cpu::isa::LinOps::W>(nr, groups, xt, values, meta, w_type, \
                                                                                 bias, yt, yt_stride, accumulate);     \
  }
