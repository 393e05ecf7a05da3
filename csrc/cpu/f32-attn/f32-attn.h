// Declarations of the attention kernel sets listed in attention.inc.
//
// qk: st[m * st_stride + n] = Σ_{d < kc} k[m * k_stride + d] · qt[d * qt_stride + n]
//     for m < mr ≤ MR (keys) and n < nc ≤ NR (queries; nc a multiple of the lanes).
// pv: ot[m * ot_stride + n] = alpha[n] · ot[m * ot_stride + n] + Σ_{c < kc} v[c * v_stride + m] · pt[c * pt_stride + n]
//     for m < mr ≤ MR (head-dim elements) and n < nc ≤ NR (queries).
// vexp2: y[i] = 2^x[i] for x ≤ 0 (within 1 ulp; 0 below 2^-126, and for -inf; NaN for NaN).
#pragma once
#include <stddef.h>

#include "attention.h"

#define SK_ATTN_UKERNEL(isa, mr, nr, lanes)                                                                            \
  void sk_f32_attn_ukernel_##mr##x##nr##__##isa(const sk_attention_params* p, const sk_attention_tiling* t,            \
                                                const sk_attention_item* item, void* scratch);                         \
  void sk_f32_attn_qk_ukernel_##mr##x##nr##__##isa(size_t mr_, size_t nc, size_t kc, const float* k, size_t k_stride,  \
                                                   const float* qt, size_t qt_stride, float* st, size_t st_stride);    \
  void sk_f32_attn_pv_ukernel_##mr##x##nr##__##isa(size_t mr_, size_t nc, size_t kc, const float* v, size_t v_stride,  \
                                                   const float* pt, size_t pt_stride, const float* alpha, float* ot,   \
                                                   size_t ot_stride);                                                  \
  void sk_f32_vexp2_ukernel__##isa(size_t n, const float* x, float* y);
#include "attention.inc"
#undef SK_ATTN_UKERNEL
