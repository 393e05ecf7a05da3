// Tensor-core vocabulary for sm_80 and newer: the m16n8k16 MMA and the
// 2:4-sparse m16n8k32 mma.sp with float32 accumulators, and the ldmatrix
// loads that feed them from shared memory.
//
// Fragment layouts (PTX ISA, "mma.m16n8k16"), with lane = 4 * group + quad:
//   A (16×16, row-major)   a[0]: (group,   2quad..+1)   a[1]: (group+8, 2quad..+1)
//                          a[2]: (group,   2quad+8..+9) a[3]: (group+8, 2quad+8..+9)
//   B (16×8, k × n)        b[0]: (k = 2quad..+1, n = group)  b[1]: (k = 2quad+8..+9, n = group)
//   C (16×8, float32)      c[0..1]: (group, 2quad..+1)   c[2..3]: (group+8, 2quad..+1)
// Each register of A and B holds two 16-bit elements, the lower index in the
// low half. An accumulator pair (c[0], c[1]) packed to 16 bits is exactly an
// A register, which is how FlashAttention feeds P = softmax(S) into P·V
// without going through shared memory.
#pragma once
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <stdint.h>

#include <type_traits>

namespace sk::cuda::tile {

// 16-bit element types the MMA takes, with their PTX spelling.
template <class T>
struct MmaType;
template <>
struct MmaType<__half> {
  static __device__ __forceinline__ uint32_t pack(float lo, float hi) {
    __half2 h = __floats2half2_rn(lo, hi);
    return *reinterpret_cast<uint32_t*>(&h);
  }
};
template <>
struct MmaType<__nv_bfloat16> {
  static __device__ __forceinline__ uint32_t pack(float lo, float hi) {
    __nv_bfloat162 h = __floats2bfloat162_rn(lo, hi);
    return *reinterpret_cast<uint32_t*>(&h);
  }
};

// c += a · b for one 16×8×16 step, float32 accumulate.
template <class T>
__device__ __forceinline__ void mma_16x8x16(float (&c)[4], const uint32_t (&a)[4], uint32_t b0, uint32_t b1) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
  if constexpr (std::is_same_v<T, __half>) {
    asm volatile(
        "mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};\n"
        : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
        : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
  } else {
    asm volatile(
        "mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};\n"
        : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
        : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
  }
#else
  __trap();  // the host launcher refuses devices below sm_80
#endif
}

// c += [a0 a1] · b for one 16×8×32 step of dense A (two k16 steps): the
// shape one mma.sp step covers, with b's four registers K 0-7, 8-15, 16-23, 24-31.
template <class T>
__device__ __forceinline__ void mma_16x8x32(float (&c)[4], const uint32_t (&a0)[4], const uint32_t (&a1)[4],
                                            const uint32_t (&b)[4]) {
  mma_16x8x16<T>(c, a0, b[0], b[1]);
  mma_16x8x16<T>(c, a1, b[2], b[3]);
}

// c += a · b with a 2:4-sparse (compressed 16 × 16 = dense 16 × 32), metadata e, selector 0.
template <class T>
__device__ __forceinline__ void mma_sp_16x8x32(float (&c)[4], const uint32_t (&a)[4], const uint32_t (&b)[4],
                                               uint32_t e) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
  if constexpr (std::is_same_v<T, __half>) {
    asm volatile(
        "mma.sp::ordered_metadata.sync.aligned.m16n8k32.row.col.f32.f16.f16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, "
        "{%8,%9,%10,%11}, {%0,%1,%2,%3}, %12, 0x0;\n"
        : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
        : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]), "r"(b[2]), "r"(b[3]), "r"(e));
  } else {
    asm volatile(
        "mma.sp::ordered_metadata.sync.aligned.m16n8k32.row.col.f32.bf16.bf16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, "
        "{%8,%9,%10,%11}, {%0,%1,%2,%3}, %12, 0x0;\n"
        : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
        : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]), "r"(b[2]), "r"(b[3]), "r"(e));
  }
#else
  __trap();  // the host launcher refuses devices below sm_80
#endif
}

__device__ __forceinline__ uint32_t smem_addr(const void* p) {
  return static_cast<uint32_t>(__cvta_generic_to_shared(p));
}

// Four 8×8 matrices of 16-bit elements; lanes 8i..8i+7 give the row addresses
// of matrix i, which lands in r[i].
__device__ __forceinline__ void ldmatrix_x4(uint32_t (&r)[4], const void* row) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0,%1,%2,%3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(smem_addr(row)));
}

// The same, each matrix transposed: for a B operand stored k-major (V in P·V).
__device__ __forceinline__ void ldmatrix_x4_trans(uint32_t (&r)[4], const void* row) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0,%1,%2,%3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(smem_addr(row)));
}

}  // namespace sk::cuda::tile
