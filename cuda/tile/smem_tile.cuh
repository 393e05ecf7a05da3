// A shared-memory tile: kRows × kCols 16-bit elements, row-major, each row
// padded by one 16-byte chunk. The pad shifts consecutive rows by 4 banks, so
// the 8 row addresses of an ldmatrix (and of a cp.async chunk column) fall in
// 8 distinct 4-bank groups: no bank conflicts without a swizzle.
#pragma once
#include <stddef.h>
#include <stdint.h>

namespace sk::cuda::tile {

template <class T, int Rows, int Cols>
struct SmemTile {
  using Elem = T;
  static constexpr int kRows = Rows;
  static constexpr int kCols = Cols;
  static constexpr int kPad = 16 / sizeof(T);  // elements: one 16-byte chunk
  static constexpr int kStride = Cols + kPad;  // elements between rows
  static constexpr size_t kBytes = sizeof(T) * size_t{Rows} * kStride;

  T* data;
  __device__ __forceinline__ T* at(int row, int col) const { return data + row * kStride + col; }
};

}  // namespace sk::cuda::tile
