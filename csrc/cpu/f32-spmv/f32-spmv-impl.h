// The SpMV loop for blocked groups (and the one-channel fallback), written
// once in plain C++ and compiled inside each ISA's namespace with its flags:
// with NR values per block, one x[col] load feeds NR products, which the
// compiler keeps in one short vector. Kernels that vectorise the one-channel
// dot (AVX2, AVX-512) override it in their own files. Every loop is a
// template on the column type: int32_t, or uint16_t for K ≤ 65536 (the
// `spmv16` kernels; a quarter fewer bytes to stream per non-zero).
#pragma once
#include <stddef.h>
#include <stdint.h>

#include "../../core/params.h"

#ifndef SK_ISA_NAMESPACE
#error "define SK_ISA_NAMESPACE before including f32-spmv-impl.h"
#endif

namespace sk::cpu::SK_ISA_NAMESPACE {

static inline float spmv_clamp(float v, const sk_spmm_epilogue* p) {
  v = v < p->min ? p->min : v;  // NaN passes through
  return v > p->max ? p->max : v;
}

// One channel: four running sums break the add chain's latency.
template <class Col>
static inline float spmv_dot(uint32_t count, const float* x, const float*& w, const Col*& cols) {
  float s0 = 0, s1 = 0, s2 = 0, s3 = 0;
  uint32_t i = 0;
  for (; i + 4 <= count; i += 4) {
    s0 += w[i] * x[cols[i]];
    s1 += w[i + 1] * x[cols[i + 1]];
    s2 += w[i + 2] * x[cols[i + 2]];
    s3 += w[i + 3] * x[cols[i + 3]];
  }
  for (; i < count; ++i) s0 += w[i] * x[cols[i]];
  w += count, cols += count;
  return (s0 + s1) + (s2 + s3);
}

// Dot(count, x, w, cols) computes one channel's sum and advances w and cols.
template <int NR, class Col, class Dot>
static inline void spmv(size_t nc, const float* x, const float* w, const Col* cols, const uint32_t* nnzmap,
                        const float* bias, float* y, const sk_spmm_epilogue* params, Dot dot) {
  size_t c = 0;
  if (NR > 1)
    for (; c + NR <= nc; c += NR) {
      float acc[NR];
      for (int g = 0; g < NR; ++g) acc[g] = (bias ? bias[c + g] : 0.0f) + (params->accumulate ? y[c + g] : 0.0f);
      for (uint32_t count = *nnzmap++; count != 0; --count) {
        const float xv = x[*cols++];
        for (int g = 0; g < NR; ++g) acc[g] += w[g] * xv;
        w += NR;
      }
      for (int g = 0; g < NR; ++g) y[c + g] = spmv_clamp(acc[g], params);
    }
  for (; c < nc; ++c)
    y[c] =
        spmv_clamp((bias ? bias[c] : 0.0f) + (params->accumulate ? y[c] : 0.0f) + dot(*nnzmap++, x, w, cols), params);
}

}  // namespace sk::cpu::SK_ISA_NAMESPACE

// Defines an ISA's two kernels for one NR from its one-channel dot template.
#define SK_DEFINE_SPMV_UKERNEL(isa, nr, dot)                                                                           \
  void sk_f32_spmv_ukernel_1x##nr##__##isa(size_t nc, const float* x, const float* weights, const int32_t* cols,       \
                                           const uint32_t* nnzmap, const float* bias, float* y,                        \
                                           const sk_spmm_epilogue* params) {                                           \
    sk::cpu::isa::spmv<nr>(nc, x, weights, cols, nnzmap, bias, y, params, dot<int32_t>);                               \
  }                                                                                                                    \
  void sk_f32_spmv16_ukernel_1x##nr##__##isa(size_t nc, const float* x, const float* weights, const uint16_t* cols,    \
                                             const uint32_t* nnzmap, const float* bias, float* y,                      \
                                             const sk_spmm_epilogue* params) {                                         \
    sk::cpu::isa::spmv<nr>(nc, x, weights, cols, nnzmap, bias, y, params, dot<uint16_t>);                              \
  }
