// x86 pieces of the one-channel SpMV dots (AVX2, AVX-512), compiled inside
// each ISA's own namespace (SK_ISA_NAMESPACE) with its flags, as
// f32-spmv-impl.h is.
#pragma once
#include <stdint.h>

#include "../x86-intrinsics.h"

#ifndef SK_ISA_NAMESPACE
#error "define SK_ISA_NAMESPACE before including f32-spmv-x86.h"
#endif

namespace sk::cpu::SK_ISA_NAMESPACE {

// x at four columns: scalar loads inserted into a vector, not a gather
// (bench/results/tuning-notes.md, "SpMV on AVX2").
template <class Col>
static inline __m128 load4(const float* x, const Col* c) {
  __m128 v = _mm_load_ss(x + c[0]);
  v = _mm_insert_ps(v, _mm_load_ss(x + c[1]), 0x10);
  v = _mm_insert_ps(v, _mm_load_ss(x + c[2]), 0x20);
  return _mm_insert_ps(v, _mm_load_ss(x + c[3]), 0x30);
}

}  // namespace sk::cpu::SK_ISA_NAMESPACE
