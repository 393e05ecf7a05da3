// A warp's register tiles and the operations the kernels compose from them,
// so a kernel's loop reads like its math (ThunderKittens' idea; our code):
//
//   Acc<N>     a 16 × N float32 accumulator tile, N/8 mma C fragments: lane
//              (group, quad) holds rows group and group + 8 (r = 0, 1),
//              columns 2·quad and 2·quad + 1 of each 8-column fragment
//              (layouts in mma.cuh)
//   uint32_t[4]  a 16 × 16 A fragment of 16-bit elements
//
//   load_a      A fragment from a shared tile            (ldmatrix.x4)
//   mma_abt     C += A · Bᵀ, B's rows in a shared tile   (K in S = Q·Kᵀ)
//   mma_ab      C += A · B, B's rows in a shared tile    (V in O = P·V, ldmatrix.trans)
//   to_a        two C fragments as an A fragment         (P feeds P·V without shared memory)
//   acc_col, acc_row8  an accumulator element's place in the tile
//   mul, row_max, mul_row, exp2_row                      element and row ops on C
//   store_row   a row of C, scaled, into a shared tile
//
// Warp-level: every lane of the warp calls each operation.
#pragma once
#include <stdint.h>

#include "mma.cuh"

namespace sk::cuda::tile {

// A 16 × kCols float32 accumulator tile of one warp.
template <int kCols>
using Acc = float[kCols / 8][4];

constexpr unsigned kFullWarp = 0xffffffffu;

// The 4 lanes of a quad hold one accumulator row between them.
__device__ __forceinline__ float quad_max(float x) {
  x = fmaxf(x, __shfl_xor_sync(kFullWarp, x, 1));
  return fmaxf(x, __shfl_xor_sync(kFullWarp, x, 2));
}
__device__ __forceinline__ float quad_sum(float x) {
  x += __shfl_xor_sync(kFullWarp, x, 1);
  return x + __shfl_xor_sync(kFullWarp, x, 2);
}

// a = the 16 × 16 tile of `t` at rows from `row`, columns from 16·ks +
// `col`: (row, col) is where this lane's ldmatrix address points.
template <class Tile>
__device__ __forceinline__ void load_a(uint32_t (&a)[4], const Tile& t, int row, int col, int ks) {
  ldmatrix_x4(a, t.at(row, ks * 16 + col));
}

// c += a · Bᵀ, B the N × 16 slice of `t` at columns 16·ks.. (its rows are
// B's columns): K in S = Q·Kᵀ. (row, col): this lane's ldmatrix address in
// the first 16 × 16 block, two n-tiles per load; b holds each pair's B
// fragments (the caller's registers: where they are declared shapes the
// compiler's register order, which the SASS comparison keeps unchanged).
template <class T, int N, class Tile>
__device__ __forceinline__ void mma_abt(float (&c)[N][4], const uint32_t (&a)[4], const Tile& t, int row, int col,
                                        int ks, uint32_t (&b)[4]) {
#pragma unroll
  for (int np = 0; np < N / 2; ++np) {
    ldmatrix_x4(b, t.at(np * 16 + row, ks * 16 + col));
    mma_16x8x16<T>(c[2 * np], a, b[0], b[1]);
    mma_16x8x16<T>(c[2 * np + 1], a, b[2], b[3]);
  }
}

// c += a · B, B the 16 × 8N slice of `t` at rows 16·ks.., k-major, loaded
// transposed: V in O = P·V. (row, col) and b as for mma_abt.
template <class T, int N, class Tile>
__device__ __forceinline__ void mma_ab(float (&c)[N][4], const uint32_t (&a)[4], const Tile& t, int row, int col,
                                       int ks, uint32_t (&b)[4]) {
#pragma unroll
  for (int np = 0; np < N / 2; ++np) {
    ldmatrix_x4_trans(b, t.at(ks * 16 + row, np * 16 + col));
    mma_16x8x16<T>(c[2 * np], a, b[0], b[1]);
    mma_16x8x16<T>(c[2 * np + 1], a, b[2], b[3]);
  }
}

// Columns [16·ks, 16·ks + 16) of c, rounded to T, as an A fragment: an
// accumulator pair packed to 16 bits is exactly an A register.
template <class T, int N>
__device__ __forceinline__ void to_a(uint32_t (&a)[4], const float (&c)[N][4], int ks) {
  a[0] = MmaType<T>::pack(c[2 * ks][0], c[2 * ks][1]);
  a[1] = MmaType<T>::pack(c[2 * ks][2], c[2 * ks][3]);
  a[2] = MmaType<T>::pack(c[2 * ks + 1][0], c[2 * ks + 1][1]);
  a[3] = MmaType<T>::pack(c[2 * ks + 1][2], c[2 * ks + 1][3]);
}

// c *= f, element-wise.
template <int N>
__device__ __forceinline__ void mul(float (&c)[N][4], float f) {
#pragma unroll
  for (int nt = 0; nt < N; ++nt)
#pragma unroll
    for (int e = 0; e < 4; ++e) c[nt][e] *= f;
}

// Where element e (0..3) of accumulator fragment nt sits in the warp's
// 16 × 8N tile, for this lane: column acc_col, row group + acc_row8.
__device__ __forceinline__ int acc_col(int nt, int e, int quad) { return nt * 8 + 2 * quad + (e & 1); }
__device__ __forceinline__ int acc_row8(int e) { return e >= 2 ? 8 : 0; }

// max(init, row r of c), over the quad that holds the row.
template <int N>
__device__ __forceinline__ float row_max(const float (&c)[N][4], int r, float init) {
  float mx = init;
#pragma unroll
  for (int nt = 0; nt < N; ++nt) mx = fmaxf(mx, fmaxf(c[nt][2 * r], c[nt][2 * r + 1]));
  return quad_max(mx);
}

// Row r of c *= f.
template <int N>
__device__ __forceinline__ void mul_row(float (&c)[N][4], int r, float f) {
#pragma unroll
  for (int nt = 0; nt < N; ++nt) {
    c[nt][2 * r] *= f;
    c[nt][2 * r + 1] *= f;
  }
}

// Row r of c = 2^(c - base); returns sum plus this lane's part of the row's new sum.
template <int N>
__device__ __forceinline__ float exp2_row(float (&c)[N][4], int r, float base, float sum) {
#pragma unroll
  for (int nt = 0; nt < N; ++nt) {
    c[nt][2 * r] = exp2f(c[nt][2 * r] - base);
    c[nt][2 * r + 1] = exp2f(c[nt][2 * r + 1] - base);
    sum += c[nt][2 * r] + c[nt][2 * r + 1];
  }
  return sum;
}

// Row r of c times f, rounded to T, into row `row` of the shared tile `t` (this lane's columns).
template <class T, int N, class Tile>
__device__ __forceinline__ void store_row(Tile& t, int row, const float (&c)[N][4], int r, int quad, float f) {
#pragma unroll
  for (int nt = 0; nt < N; ++nt)
    *reinterpret_cast<uint32_t*>(t.at(row, nt * 8 + 2 * quad)) =
        MmaType<T>::pack(c[nt][2 * r] * f, c[nt][2 * r + 1] * f);
}

}  // namespace sk::cuda::tile
