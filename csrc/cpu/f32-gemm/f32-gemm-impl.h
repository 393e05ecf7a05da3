// The dense linear micro-kernels, written once over a traits type T (LinOps
// of ops-<isa>.h: vector V of T::W floats) and compiled by each ISA's file
// with its flags. Everything lands in sk::cpu::<isa> (SK_ISA_NAMESPACE), so
// nothing built with AVX flags is merged into baseline code.
#pragma once
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "../../core/dtype.h"

namespace sk::cpu::SK_ISA_NAMESPACE {

// W consecutive weights as float32, from float32, float16 or bfloat16 storage.
template <class T, int WT>
static inline typename T::V load_w(const void* w, size_t i) {
  if constexpr (WT == SK_F32)
    return T::load(static_cast<const float*>(w) + i);
  else if constexpr (WT == SK_F16)
    return T::load_f16(static_cast<const uint16_t*>(w) + i);
  else
    return T::load_bf16(static_cast<const uint16_t*>(w) + i);
}

template <class T, int WT>
static inline float scalar_w(const void* w, size_t i) {
  if constexpr (WT == SK_F32)
    return static_cast<const float*>(w)[i];
  else if constexpr (WT == SK_F16)
    return T::f16(static_cast<const uint16_t*>(w)[i]);
  else {
    const uint32_t bits = uint32_t(static_cast<const uint16_t*>(w)[i]) << 16;
    float f;
    memcpy(&f, &bits, 4);
    return f;
  }
}

// One register tile: M rows × NV vectors of C. B is a packed panel [kc][NV·W].
template <class T, int M, int NV>
static inline void gemm_tile(size_t nc, size_t kc, const float* a, size_t lda, const float* bp, const float* bias,
                             float* c, size_t ldc, bool accumulate) {
  using V = typename T::V;
  constexpr int W = T::W, NR = NV * W;
  const bool full = nc == static_cast<size_t>(NR);
  float part[M][NR];  // the C tile when nc < NR (right edge of the matrix)
  V acc[M][NV];
#pragma GCC unroll 16
  for (int m = 0; m < M; ++m) {
    const float* crow = c + m * ldc;
    if (accumulate && !full) {
      memset(part[m], 0, sizeof part[m]);
      memcpy(part[m], crow, nc * sizeof(float));
      crow = part[m];
    }
#pragma GCC unroll 8
    for (int n = 0; n < NV; ++n)
      acc[m][n] = accumulate ? T::load(crow + n * W) : bias ? T::load(bias + n * W) : T::zero();
  }
  const float* ar[M];
#pragma GCC unroll 16
  for (int m = 0; m < M; ++m) ar[m] = a + m * lda;
  for (size_t k = 0; k < kc; ++k) {
    V bv[NV];
#pragma GCC unroll 8
    for (int n = 0; n < NV; ++n) bv[n] = T::load(bp + n * W);
#pragma GCC unroll 16
    for (int m = 0; m < M; ++m) {
      const V av = T::set1(ar[m][k]);
#pragma GCC unroll 8
      for (int n = 0; n < NV; ++n) acc[m][n] = T::fma(av, bv[n], acc[m][n]);
    }
    bp += NR;
  }
#pragma GCC unroll 16
  for (int m = 0; m < M; ++m) {
    if (full) {
#pragma GCC unroll 8
      for (int n = 0; n < NV; ++n) T::store(c + m * ldc + n * W, acc[m][n]);
    } else {
#pragma GCC unroll 8
      for (int n = 0; n < NV; ++n) T::store(part[m] + n * W, acc[m][n]);
      memcpy(c + m * ldc, part[m], nc * sizeof(float));
    }
  }
}

// Picks the instance for the bottom edge (mr < M rows).
template <class T, int M, int NV>
static void gemm_rows(size_t mr, size_t nc, size_t kc, const float* a, size_t lda, const float* bp, const float* bias,
                      float* c, size_t ldc, bool accumulate) {
  if constexpr (M > 1) {
    if (mr < M) return gemm_rows<T, M - 1, NV>(mr, nc, kc, a, lda, bp, bias, c, ldc, accumulate);
  }
  gemm_tile<T, M, NV>(nc, kc, a, lda, bp, bias, c, ldc, accumulate);
}

// bp[k * NR + j] = w[j * ldw + k] as float32 for j < nc, k < kc; 0 for nc ≤ j < NR.
// Square tiles of T::Pack::kPack rows × elements are transposed in registers.
template <class T, int NR, int WT>
static void packw_typed(size_t nc, size_t kc, const void* w, size_t ldw, float* bp) {
  using Pk = typename T::Pack;
  constexpr int P = Pk::kPack;
  static_assert(NR % P == 0, "a panel holds whole packing tiles");
  const auto load = [&](size_t i) {
    if constexpr (WT == SK_F32)
      return Pk::load(static_cast<const float*>(w) + i);
    else if constexpr (WT == SK_F16)
      return Pk::load_f16(static_cast<const uint16_t*>(w) + i);
    else
      return Pk::load_bf16(static_cast<const uint16_t*>(w) + i);
  };
  size_t j = 0;
  for (; j + P <= nc; j += P) {
    size_t k = 0;
    for (; k + P <= kc; k += P) {
      typename Pk::P r[P];
#pragma GCC unroll 16
      for (int t = 0; t < P; ++t) r[t] = load((j + t) * ldw + k);
      Pk::transpose_store(r, bp + k * NR + j, NR);
    }
    for (; k < kc; ++k)
      for (int t = 0; t < P; ++t) bp[k * NR + j + t] = scalar_w<T, WT>(w, (j + t) * ldw + k);
  }
  for (; j < nc; ++j)
    for (size_t k = 0; k < kc; ++k) bp[k * NR + j] = scalar_w<T, WT>(w, j * ldw + k);
  if (nc < static_cast<size_t>(NR))
    for (size_t k = 0; k < kc; ++k) memset(bp + k * NR + nc, 0, (NR - nc) * sizeof(float));
}

template <class T, int NR>
static void packw(size_t nc, size_t kc, const void* w, size_t ldw, sk_dtype wt, float* bp) {
  switch (wt) {
    case SK_F16: return packw_typed<T, NR, SK_F16>(nc, kc, w, ldw, bp);
    case SK_BF16: return packw_typed<T, NR, SK_BF16>(nc, kc, w, ldw, bp);
    default: return packw_typed<T, NR, SK_F32>(nc, kc, w, ldw, bp);
  }
}

// Four weight rows at a time share each load of x; the weights stream once.
template <class T, int WT>
static void gemv_typed(size_t rows, size_t kd, const float* x, const void* w, const float* bias, float* out) {
  using V = typename T::V;
  constexpr int W = T::W, R = 4;
  size_t r = 0;
  for (; r + R <= rows; r += R) {
    V acc[R] = {T::zero(), T::zero(), T::zero(), T::zero()};
    size_t k = 0;
    for (; k + W <= kd; k += W) {
      const V xv = T::load(x + k);
#pragma GCC unroll 4
      for (int i = 0; i < R; ++i) acc[i] = T::fma(load_w<T, WT>(w, (r + i) * kd + k), xv, acc[i]);
    }
    for (int i = 0; i < R; ++i) {
      float s = T::hsum(acc[i]);
      for (size_t t = k; t < kd; ++t) s += x[t] * scalar_w<T, WT>(w, (r + i) * kd + t);
      out[r + i] = s + (bias ? bias[r + i] : 0.0f);
    }
  }
  for (; r < rows; ++r) {
    V acc = T::zero();
    size_t k = 0;
    for (; k + W <= kd; k += W) acc = T::fma(load_w<T, WT>(w, r * kd + k), T::load(x + k), acc);
    float s = T::hsum(acc);
    for (; k < kd; ++k) s += x[k] * scalar_w<T, WT>(w, r * kd + k);
    out[r] = s + (bias ? bias[r] : 0.0f);
  }
}

template <class T>
static void gemv(size_t rows, size_t kd, const float* x, const void* w, sk_dtype wt, const float* bias, float* out) {
  switch (wt) {
    case SK_F16: return gemv_typed<T, SK_F16>(rows, kd, x, w, bias, out);
    case SK_BF16: return gemv_typed<T, SK_BF16>(rows, kd, x, w, bias, out);
    default: return gemv_typed<T, SK_F32>(rows, kd, x, w, bias, out);
  }
}

}  // namespace sk::cpu::SK_ISA_NAMESPACE

// Defines the two kernels of one gemm.inc line.
#define SK_DEFINE_GEMM_UKERNELS(isa, mr, nr)                                                                           \
  void sk_f32_gemm_ukernel_##mr##x##nr##__##isa(size_t mr_, size_t nc, size_t kc, const float* a, size_t lda,          \
                                                const float* bp, const float* bias, float* c, size_t ldc,              \
                                                bool accumulate) {                                                     \
    using T = sk::cpu::isa::LinOps;                                                                                    \
    static_assert((nr) % T::W == 0, "gemm.inc: nr must be a multiple of the lanes");                                   \
    sk::cpu::isa::gemm_rows<T, mr, (nr) / T::W>(mr_, nc, kc, a, lda, bp, bias, c, ldc, accumulate);                    \
  }                                                                                                                    \
  void sk_f32_gemv_ukernel__##isa(size_t rows, size_t kd, const float* x, const void* w, sk_dtype w_type,              \
                                  const float* bias, float* out) {                                                     \
    sk::cpu::isa::gemv<sk::cpu::isa::LinOps>(rows, kd, x, w, w_type, bias, out);                                       \
  }                                                                                                                    \
  void sk_f32_packw_ukernel_x##nr##__##isa(size_t nc, size_t kc, const void* w, size_t ldw, sk_dtype w_type,           \
                                           float* bp) {                                                                \
    sk::cpu::isa::packw<sk::cpu::isa::LinOps, nr>(nc, kc, w, ldw, w_type, bp);                                         \
  }
