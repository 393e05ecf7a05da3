// The SpMM loop written once over a vector-ops struct (Ops: V, W lanes, set1,
// load, store, fma, clamp); each ISA's kernel file instantiates it inside its
// own sk::cpu::<isa> namespace (SK_ISA_NAMESPACE), so no inline code built
// with one ISA's flags is shared with another's.
//
// Loop order is XNNPACK's: per tile of T rows, walk every group's non-zero
// blocks; per block one T-row input load feeds the NR accumulator sets (the
// blocked variants' point: fewer loads per FMA). Rows left over from MR run
// as successively halved tiles down to one vector, then one row at a time.
#pragma once
#include <stddef.h>
#include <stdint.h>

#include "../../core/params.h"

#ifndef SK_ISA_NAMESPACE
#error "define SK_ISA_NAMESPACE before including f32-spmm-impl.h"
#endif

namespace sk::cpu::SK_ISA_NAMESPACE {

// One float per "vector": the row-at-a-time tail of every ISA.
struct ScalarOps {
  using V = float;
  static constexpr int W = 1;
  static V set1(float x) { return x; }
  static V load(const float* p) { return *p; }
  static void store(float* p, V v) { *p = v; }
  static V fma(V a, V b, V c) { return a * b + c; }
  // NaN passes through: a comparison with NaN is false.
  static V clamp(V x, V lo, V hi) {
    x = x < lo ? lo : x;
    return x > hi ? hi : x;
  }
};

// G channels (1..4) of one group over T rows: G accumulator sets of T / W vectors.
template <class Ops, int T, int G>
static inline void spmm_group(const float*& input, const float*& w, const int32_t*& dmap, uint32_t count,
                              const float* bias, float* out, size_t out_stride, typename Ops::V lo,
                              typename Ops::V hi) {
  using V = typename Ops::V;
  constexpr int kV = T / Ops::W;
  static_assert(T % Ops::W == 0, "a tile is whole vectors");
  V acc[G][kV];
#pragma GCC unroll 4
  for (int g = 0; g < G; ++g) {
    const V b = Ops::set1(bias ? bias[g] : 0.0f);
#pragma GCC unroll 16
    for (int v = 0; v < kV; ++v) acc[g][v] = b;
  }
  for (; count != 0; --count) {
    V x[kV];
#pragma GCC unroll 16
    for (int v = 0; v < kV; ++v) x[v] = Ops::load(input + v * Ops::W);
    input += *dmap++;
#pragma GCC unroll 4
    for (int g = 0; g < G; ++g) {
      const V wg = Ops::set1(w[g]);
#pragma GCC unroll 16
      for (int v = 0; v < kV; ++v) acc[g][v] = Ops::fma(x[v], wg, acc[g][v]);
    }
    w += G;
  }
#pragma GCC unroll 4
  for (int g = 0; g < G; ++g)
#pragma GCC unroll 16
    for (int v = 0; v < kV; ++v) Ops::store(out + g * out_stride + v * Ops::W, Ops::clamp(acc[g][v], lo, hi));
}

// Every channel over exactly T rows starting at `input` / `out`.
template <class Ops, int T, int NR>
static inline void spmm_tile(size_t nc, const float* input, const float* w, const int32_t* dmap,
                             const uint32_t* nnzmap, const float* bias, float* out, size_t out_stride,
                             const sk_spmm_minmax* params) {
  const typename Ops::V lo = Ops::set1(params->min), hi = Ops::set1(params->max);
  size_t c = 0;
  if (NR > 1)
    for (; c + NR <= nc; c += NR)
      spmm_group<Ops, T, NR>(input, w, dmap, *nnzmap++, bias ? bias + c : nullptr, out + c * out_stride, out_stride,
                             lo, hi);
  for (; c < nc; ++c)
    spmm_group<Ops, T, 1>(input, w, dmap, *nnzmap++, bias ? bias + c : nullptr, out + c * out_stride, out_stride, lo,
                          hi);
}

// Rows [m, mc) with tiles of T, T/2, ... down to one vector, then single rows.
template <class Ops, int T, int NR>
static inline void spmm_rest(size_t m, size_t mc, size_t nc, const float* input, const float* w, const int32_t* dmap,
                             const uint32_t* nnzmap, const float* bias, float* out, size_t out_stride,
                             const sk_spmm_minmax* params) {
  if constexpr (T >= Ops::W) {
    if (mc - m >= static_cast<size_t>(T)) {
      spmm_tile<Ops, T, NR>(nc, input + m, w, dmap, nnzmap, bias, out + m, out_stride, params);
      m += T;
    }
    spmm_rest<Ops, T / 2, NR>(m, mc, nc, input, w, dmap, nnzmap, bias, out, out_stride, params);
  } else {
    for (; m < mc; ++m) spmm_tile<ScalarOps, 1, NR>(nc, input + m, w, dmap, nnzmap, bias, out + m, out_stride, params);
  }
}

template <class Ops, int MR, int NR>
static inline void spmm(size_t mc, size_t nc, const float* input, const float* w, const int32_t* dmap,
                        const uint32_t* nnzmap, const float* bias, float* out, size_t out_stride,
                        const sk_spmm_minmax* params) {
  static_assert(MR % Ops::W == 0 && NR >= 1 && NR <= 4, "MR whole vectors, NR 1..4");
  size_t m = 0;
  for (; m + MR <= mc; m += MR)
    spmm_tile<Ops, MR, NR>(nc, input + m, w, dmap, nnzmap, bias, out + m, out_stride, params);
  if (m < mc) spmm_rest<Ops, MR / 2, NR>(m, mc, nc, input, w, dmap, nnzmap, bias, out, out_stride, params);
}

}  // namespace sk::cpu::SK_ISA_NAMESPACE

// Defines sk_f32_spmm_ukernel_<MR>x<NR>__<isa> from the template above.
#define SK_DEFINE_SPMM_UKERNEL(isa, mr, nr, ops)                                                            \
  void sk_f32_spmm_ukernel_##mr##x##nr##__##isa(size_t mc, size_t nc, const float* input, const float* weights, \
                                                const int32_t* dmap, const uint32_t* nnzmap, const float* bias,  \
                                                float* output, size_t output_stride, const sk_spmm_minmax* params) { \
    sk::cpu::isa::spmm<sk::cpu::isa::ops, mr, nr>(mc, nc, input, weights, dmap, nnzmap, bias, output,          \
                                                  output_stride, params);                                      \
  }
