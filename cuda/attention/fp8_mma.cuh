// FP8 tensor-core vocabulary of the FP8 attention kernel (sm_89 and newer):
// the m16n8k32 MMA on e4m3 / e5m2 with float32 accumulators, its operand
// fragments from byte tiles in shared memory, and P's packing to e4m3.
//
// Fragment layouts (PTX ISA, "mma.m16n8k32" for 8-bit types), with
// lane = 4 · group + quad; each 32-bit register holds 4 bytes, the lower k
// in the lower byte:
//   A (16 × 32, row-major)  a[0]: (row group,   k 4quad..+3)   a[1]: (group+8, 4quad..+3)
//                           a[2]: (row group,   k 16+4quad..+3) a[3]: (group+8, 16+4quad..+3)
//   B (32 × 8, k × n)       b[0]: (k 4quad..+3, n group)   b[1]: (k 16+4quad..+3, n group)
//   C (16 × 8, float32)     as m16n8k16's (tile/mma.cuh): c[0..1] (group, 2quad..+1), c[2..3] (group+8, ..)
// ldmatrix (b16, non-transposed) gives lane L word L % 4 of row L / 4 of an
// 8 × 16-byte matrix: bytes 4quad..+3 of row group, exactly an 8-bit A or B
// register whose rows are M (A) or N (B) and whose 16 bytes run along k. So
// Q (rows = queries, bytes = head dim) feeds A, and K (rows = keys) feeds B,
// through plain ldmatrix.x4 with the same lane addresses as the 16-bit kernel
// (counted in 16-byte columns instead of 8 elements).
//
// V in P·V is the one operand stored the wrong way (rows = keys = k): there
// is no 8-bit ldmatrix.trans, so the kernel transposes V byte by byte in
// shared memory (transpose_v below) into Vᵀ, rows = channels, and loads Vᵀ
// like K. P comes from the S accumulators, which hold keys 2quad, 2quad+1 of
// each 8-key n-tile; an A register wants 4 consecutive k. Since P·V sums
// over k, any order of the 32 keys of a step serves as long as P and Vᵀ
// agree: A's k positions 4quad..4quad+3 take keys 2quad, 2quad+1, 8+2quad,
// 9+2quad (two n-tiles' pairs, so P packs from registers with no shuffle),
// and key_of_k() is the same map for Vᵀ's columns.
#pragma once
#include <cuda_fp8.h>
#include <stdint.h>

#include "../../csrc/core/dtype.h"
#include "../tile/mma.cuh"

namespace sk::cuda::attn {

#define SK_MMA_F8(ATYPE, BTYPE)                                                                                        \
  asm volatile("mma.sync.aligned.m16n8k32.row.col.f32." ATYPE "." BTYPE                                                \
               ".f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};\n"                                          \
               : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])                                                        \
               : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1))

// c += a · b for one 16×8×32 step, A of type kA, B of type kB (each e4m3fn or e5m2).
template <sk_dtype kA, sk_dtype kB>
__device__ __forceinline__ void mma_f8_16x8x32(float (&c)[4], const uint32_t (&a)[4], uint32_t b0, uint32_t b1) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 890
  if constexpr (kA == SK_F8E4M3FN && kB == SK_F8E4M3FN) {
    SK_MMA_F8("e4m3", "e4m3");
  } else if constexpr (kA == SK_F8E4M3FN) {
    SK_MMA_F8("e4m3", "e5m2");
  } else if constexpr (kB == SK_F8E5M2) {
    SK_MMA_F8("e5m2", "e5m2");
  } else {
    SK_MMA_F8("e5m2", "e4m3");
  }
#else
  __trap();  // the host refuses devices and images below sm_89 (run_fwd_fp8)
#endif
}
#undef SK_MMA_F8

// Within each 16 keys of a P·V step, the key at A / Vᵀ position k (see above).
__device__ __forceinline__ int key_of_k(int k) {
  const int k16 = k & 15, q = k16 >> 2, e = k16 & 3;
  return (k & ~15) + 2 * q + (e & 1) + 8 * (e >> 1);
}

// Four floats, times `scale`, as e4m3 bytes (round to nearest even,
// saturating), x0 in the lowest byte.
__device__ __forceinline__ uint32_t pack_e4m3(float x0, float x1, float x2, float x3, float scale) {
  const uint32_t lo = __nv_cvt_float2_to_fp8x2(make_float2(x0 * scale, x1 * scale), __NV_SATFINITE, __NV_E4M3);
  const uint32_t hi = __nv_cvt_float2_to_fp8x2(make_float2(x2 * scale, x3 * scale), __NV_SATFINITE, __NV_E4M3);
  return lo | (hi << 16);
}

// Columns [32·ks, 32·ks + 32) of the S accumulators (P after the softmax)
// times `scale`, as an e4m3 A fragment in the key order of key_of_k: register
// 0 = row group's keys 2quad, 2quad+1 of n-tile 4ks and of n-tile 4ks+1,
// register 1 the same of row group+8, registers 2 and 3 the same of n-tiles
// 4ks+2 and 4ks+3.
template <int N>
__device__ __forceinline__ void p_to_a(uint32_t (&a)[4], const float (&s)[N][4], int ks, float scale) {
  const int n = 4 * ks;
  a[0] = pack_e4m3(s[n][0], s[n][1], s[n + 1][0], s[n + 1][1], scale);
  a[1] = pack_e4m3(s[n][2], s[n][3], s[n + 1][2], s[n + 1][3], scale);
  a[2] = pack_e4m3(s[n + 2][0], s[n + 2][1], s[n + 3][0], s[n + 3][1], scale);
  a[3] = pack_e4m3(s[n + 2][2], s[n + 2][3], s[n + 3][2], s[n + 3][3], scale);
}

// vt (kHeadDim × kBlockN bytes) = the key tile v (kBlockN × kHeadDim bytes),
// transposed, its columns in key_of_k order: vt[d][k] = v[key_of_k(k)][d].
// One 32-bit word (4 positions of one channel) per thread and pass; threads
// next to each other take channels next to each other, so their byte reads
// of v share words. All threads of the block call it.
template <int kThreads, class VtTile, class VTile>
__device__ __forceinline__ void transpose_v(VtTile& vt, const VTile& v) {
  constexpr int kWords = VtTile::kRows * VtTile::kCols / 4;
#pragma unroll 1
  for (int w = threadIdx.x; w < kWords; w += kThreads) {
    const int d = w % VtTile::kRows, k = (w / VtTile::kRows) * 4;
    uint32_t word = 0;
#pragma unroll
    for (int e = 0; e < 4; ++e) word |= uint32_t{*v.at(key_of_k(k + e), d)} << (8 * e);
    *reinterpret_cast<uint32_t*>(vt.at(d, k)) = word;
  }
}

// The value of an FP8 code, exactly, in float32.
template <sk_dtype kType>
__device__ __forceinline__ float fp8_value(uint8_t code) {
  const __half_raw h = __nv_cvt_fp8_to_halfraw(code, kType == SK_F8E4M3FN ? __NV_E4M3 : __NV_E5M2);
  return __half2float(__half(h));
}

}  // namespace sk::cuda::attn
