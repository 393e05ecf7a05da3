// The SpMM loop written once over a vector-ops struct (Ops: V, W lanes, set1,
// load, store, fma, clamp); each ISA's kernel file instantiates it inside its
// own sk::cpu::<isa> namespace (SK_ISA_NAMESPACE), so no inline code built
// with one ISA's flags is shared with another's.
//
// Loop order is XNNPACK's: per tile of MR rows, walk every group's non-zero
// blocks; per block one MR-row input load feeds the NR accumulator sets (the
// blocked variants' point: fewer loads per FMA). Where the ISA has masked
// loads, rows left over from MR run with a masked last vector: on the last
// tile when they fit in registers beside it (196 = 3·64 + 4 rows: 3 passes
// over the weights), else in one more pass (each pass re-reads every weight);
// elsewhere as XNNPACK does, in halved tiles down to one vector, then by row.
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
  static constexpr int kRegisters = 16;
  static constexpr bool kMasked = false;
  static V set1(float x) { return x; }
  static V load(const float* p) { return *p; }
  static void store(float* p, V v) { *p = v; }
  static V fma(V a, V b, V c) { return a * b + c; }
  static V add(V a, V b) { return a + b; }
  // NaN passes through: a comparison with NaN is false.
  static V clamp(V x, V lo, V hi) {
    x = x < lo ? lo : x;
    return x > hi ? hi : x;
  }
};

// G channels (1..4) of one group over kV vectors of rows: G accumulator sets
// of kV vectors. With kMasked the last vector holds only the lanes `mask`
// keeps (a tail of rows read and written with masked loads and stores).
// The three stream pointers are copied into locals and written back once:
// updated through the references inside the loop, they went through memory
// every non-zero (the references may alias one another, so GCC cannot keep
// them in registers), a store-to-load chain on the hot loop.
template <class Ops, int kV, int G, bool kMasked, class Mask>
static inline void spmm_group(const float*& input_ref, const float*& w_ref, const int32_t*& dmap_ref, uint32_t count,
                              const float* bias, float* out, size_t out_stride, bool accumulate, typename Ops::V lo,
                              typename Ops::V hi, Mask mask) {
  using V = typename Ops::V;
  const float* input = input_ref;
  const float* w = w_ref;
  const int32_t* dmap = dmap_ref;
  // Vector v of a row of rows (input or output): the last one masked with kMasked.
  const auto load = [&](const float* row, int v) {
    if constexpr (kMasked)
      if (v == kV - 1) return Ops::load_masked(row + v * Ops::W, mask);
    return Ops::load(row + v * Ops::W);
  };
  V acc[G][kV];
#pragma GCC unroll 4
  for (int g = 0; g < G; ++g) {
    const V b = Ops::set1(bias ? bias[g] : 0.0f);
#pragma GCC unroll 16
    for (int v = 0; v < kV; ++v) acc[g][v] = accumulate ? Ops::add(b, load(out + g * out_stride, v)) : b;
  }
  // All kV input vectors are loaded before the FMAs when they fit in
  // registers beside the accumulators and broadcasts; otherwise (64x1 on
  // AVX2: 8 + 8 + 1 of 16) one spilled, and there loading each vector right
  // before its FMAs wins; elsewhere it loses (bench/results/tuning-notes.md).
  constexpr bool kLoadsFirst = G * kV + kV + G <= Ops::kRegisters;
  for (; count != 0; --count) {
    const float* row = input;
    input += *dmap++;
    if constexpr (kLoadsFirst) {
      V x[kV];
#pragma GCC unroll 16
      for (int v = 0; v < kV; ++v) x[v] = load(row, v);
#pragma GCC unroll 4
      for (int g = 0; g < G; ++g) {
        const V wg = Ops::set1(w[g]);
#pragma GCC unroll 16
        for (int v = 0; v < kV; ++v) acc[g][v] = Ops::fma(x[v], wg, acc[g][v]);
      }
    } else {
      V wg[G];
#pragma GCC unroll 4
      for (int g = 0; g < G; ++g) wg[g] = Ops::set1(w[g]);
#pragma GCC unroll 16
      for (int v = 0; v < kV; ++v) {
        const V x = load(row, v);
#pragma GCC unroll 4
        for (int g = 0; g < G; ++g) acc[g][v] = Ops::fma(x, wg[g], acc[g][v]);
      }
    }
    w += G;
  }
  input_ref = input, w_ref = w, dmap_ref = dmap;
#pragma GCC unroll 4
  for (int g = 0; g < G; ++g)
#pragma GCC unroll 16
    for (int v = 0; v < kV; ++v) {
      const V y = Ops::clamp(acc[g][v], lo, hi);
      if constexpr (kMasked) {
        if (v == kV - 1)
          Ops::store_masked(out + g * out_stride + v * Ops::W, y, mask);
        else
          Ops::store(out + g * out_stride + v * Ops::W, y);
      } else {
        Ops::store(out + g * out_stride + v * Ops::W, y);
      }
    }
}

// Every channel over kV vectors of rows starting at `input` / `out`.
template <class Ops, int kV, int NR, bool kMasked = false, class Mask = int>
static inline void spmm_tile(size_t nc, const float* input, const float* w, const int32_t* dmap, const uint32_t* nnzmap,
                             const float* bias, float* out, size_t out_stride, const sk_spmm_epilogue* params,
                             Mask mask = Mask{}) {
  const typename Ops::V lo = Ops::set1(params->min), hi = Ops::set1(params->max);
  size_t c = 0;
  if (NR > 1)
    for (; c + NR <= nc; c += NR)
      spmm_group<Ops, kV, NR, kMasked>(input, w, dmap, *nnzmap++, bias ? bias + c : nullptr, out + c * out_stride,
                                       out_stride, params->accumulate, lo, hi, mask);
  for (; c < nc; ++c)
    spmm_group<Ops, kV, 1, kMasked>(input, w, dmap, *nnzmap++, bias ? bias + c : nullptr, out + c * out_stride,
                                    out_stride, params->accumulate, lo, hi, mask);
}

// Rows [m, mc) with tiles of T, T/2, ... down to one vector, then single rows
// (ISAs without masked loads: NEON, scalar; XNNPACK's halving remainder).
template <class Ops, int T, int NR>
static inline void spmm_rest(size_t m, size_t mc, size_t nc, const float* input, const float* w, const int32_t* dmap,
                             const uint32_t* nnzmap, const float* bias, float* out, size_t out_stride,
                             const sk_spmm_epilogue* params) {
  if constexpr (T >= Ops::W) {
    if (mc - m >= static_cast<size_t>(T)) {
      spmm_tile<Ops, T / Ops::W, NR>(nc, input + m, w, dmap, nnzmap, bias, out + m, out_stride, params);
      m += T;
    }
    spmm_rest<Ops, T / 2, NR>(m, mc, nc, input, w, dmap, nnzmap, bias, out, out_stride, params);
  } else {
    for (; m < mc; ++m) spmm_tile<ScalarOps, 1, NR>(nc, input + m, w, dmap, nnzmap, bias, out + m, out_stride, params);
  }
}

// The last `rows` (< MR) rows in one pass over the weights: ceil(rows / W)
// vectors, the last one masked (ISAs with masked loads: AVX2, AVX-512).
template <class Ops, int kV, int NR>
static inline void spmm_masked_rest(size_t rows, size_t nc, const float* input, const float* w, const int32_t* dmap,
                                    const uint32_t* nnzmap, const float* bias, float* out, size_t out_stride,
                                    const sk_spmm_epilogue* params) {
  if constexpr (kV > 1) {
    if (rows <= static_cast<size_t>((kV - 1) * Ops::W)) {
      spmm_masked_rest<Ops, kV - 1, NR>(rows, nc, input, w, dmap, nnzmap, bias, out, out_stride, params);
      return;
    }
  }
  spmm_tile<Ops, kV, NR, true>(nc, input, w, dmap, nnzmap, bias, out, out_stride, params,
                               Ops::mask(rows - (kV - 1) * Ops::W));
}

template <class Ops, int MR, int NR>
static inline void spmm(size_t mc, size_t nc, const float* input, const float* w, const int32_t* dmap,
                        const uint32_t* nnzmap, const float* bias, float* out, size_t out_stride,
                        const sk_spmm_epilogue* params) {
  static_assert(MR % Ops::W == 0 && NR >= 1 && NR <= 4, "MR whole vectors, NR 1..4");
  constexpr int kV = MR / Ops::W;
  size_t m = 0;
  // A rest of up to kAbsorb vectors rides on the last whole tile (kV +
  // kAbsorb vectors, the last masked) where the accumulators still fit in
  // registers: a pass of its own would walk every weight again for a few
  // rows, each non-zero a load from a random row of x.
  constexpr int kAbsorb = Ops::kMasked && NR * (kV + 2) + NR + 1 <= Ops::kRegisters ? 2 : 0;
  if constexpr (kAbsorb > 0) {
    const size_t whole = mc / MR * MR, rest = mc - whole;
    if (whole > 0 && rest > 0 && rest <= static_cast<size_t>(kAbsorb * Ops::W)) {
      for (; m + MR < whole; m += MR)
        spmm_tile<Ops, kV, NR>(nc, input + m, w, dmap, nnzmap, bias, out + m, out_stride, params);
      spmm_masked_rest<Ops, kV + kAbsorb, NR>(MR + rest, nc, input + m, w, dmap, nnzmap, bias, out + m, out_stride,
                                              params);
      return;
    }
  }
  for (; m + MR <= mc; m += MR)
    spmm_tile<Ops, kV, NR>(nc, input + m, w, dmap, nnzmap, bias, out + m, out_stride, params);
  if (m == mc) return;
  if constexpr (Ops::kMasked)
    spmm_masked_rest<Ops, MR / Ops::W, NR>(mc - m, nc, input + m, w, dmap, nnzmap, bias, out + m, out_stride, params);
  else
    spmm_rest<Ops, MR / 2, NR>(m, mc, nc, input, w, dmap, nnzmap, bias, out, out_stride, params);
}

}  // namespace sk::cpu::SK_ISA_NAMESPACE

// Defines sk_f32_spmm_ukernel_<MR>x<NR>__<isa> from the template above.
#define SK_DEFINE_SPMM_UKERNEL(isa, mr, nr, ops)                                                                       \
  void sk_f32_spmm_ukernel_##mr##x##nr##__##isa(size_t mc, size_t nc, const float* input, const float* weights,        \
                                                const int32_t* dmap, const uint32_t* nnzmap, const float* bias,        \
                                                float* output, size_t output_stride, const sk_spmm_epilogue* params) { \
    sk::cpu::isa::spmm<sk::cpu::isa::ops, mr, nr>(mc, nc, input, weights, dmap, nnzmap, bias, output, output_stride,   \
                                                  params);                                                             \
  }
