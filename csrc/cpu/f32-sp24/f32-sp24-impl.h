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
#pragma once
#include <stddef.h>
#include <stdint.h>
#include <string.h>

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
  // One row of x (decode) streams the values from memory at a few FMAs per
  // cache line: prefetching them kAhead groups ahead keeps more misses in flight.
  constexpr size_t kBytes = 16 * (WT == SK_F32 ? 4 : 2), kAhead = 2048 / kBytes;
  size_t q = 0;
  for (; q + U <= groups; q += U)
#pragma GCC unroll 8
    for (int u = 0; u < U; ++u) {
      if constexpr (MR == 1) __builtin_prefetch(static_cast<const char*>(values) + (q + u + kAhead) * kBytes);
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

// Defines the micro-kernel of one sp24.inc line; P is the ISA's panel traits.
#define SK_DEFINE_SP24_UKERNEL(isa, mr, P)                                                                          \
  void sk_f32_sp24_ukernel_##mr##x8__##isa(size_t mr_, size_t nr, size_t groups, const float* x, size_t x_stride, \
                                           const void* values, const uint8_t* meta, sk_dtype w_type,              \
                                           const float* bias, float* out, size_t out_stride, bool accumulate) {   \
    sk::cpu::isa::sp24_ukernel<P, mr>(mr_, nr, groups, x, x_stride, values, meta, w_type, bias, out, out_stride,  \
                                      accumulate);                                                                \
  }
