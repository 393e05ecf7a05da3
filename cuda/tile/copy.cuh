// Global → shared copies for tiles: cp.async 16-byte chunks that bypass the
// registers (sm_80+), zero-filling what lies outside the tensor, and a plain
// element-wise fallback for tensors whose rows are not 16-byte aligned.
#pragma once
#include <stdint.h>

#include "mma.cuh"
#include "smem_tile.cuh"

namespace sk::cuda::tile {

constexpr int kChunkBytes = 16;  // one cp.async, one 128-bit load

// Copies 16 bytes from src to shared dst, or writes 16 zero bytes when !valid
// (src-size 0: nothing is read, so src may point anywhere).
__device__ __forceinline__ void cp_async_16(void* dst, const void* src, bool valid) {
  const int src_bytes = valid ? kChunkBytes : 0;
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(smem_addr(dst)), "l"(src), "r"(src_bytes));
}
__device__ __forceinline__ void cp_async_commit() { asm volatile("cp.async.commit_group;\n" ::); }
__device__ __forceinline__ void cp_async_wait_all() { asm volatile("cp.async.wait_group 0;\n" ::: "memory"); }
// Waits until at most N committed groups are still in flight (a pipeline keeps N stages loading).
template <int N>
__device__ __forceinline__ void cp_async_wait() {
  asm volatile("cp.async.wait_group %0;\n" ::"n"(N) : "memory");
}

// Loads rows [0, rows) × columns [0, cols) of a row-major global matrix (unit
// column stride, `row_stride` elements between rows) into `tile`, zero-filling
// the rest of the tile. All kThreads threads of the block call it.
// vec: src and row_stride are 16-byte aligned and cols is a multiple of the
// chunk, so every chunk is one cp.async; otherwise elements go one by one
// (visible after the caller's __syncthreads, like the cp.async ones after the wait).
template <int kThreads, class Tile>
__device__ __forceinline__ void load_tile(Tile& tile, const typename Tile::Elem* src, int64_t row_stride, int rows,
                                          int cols, bool vec) {
  using T = typename Tile::Elem;
  constexpr int kPerChunk = kChunkBytes / sizeof(T);
  constexpr int kChunksPerRow = Tile::kCols / kPerChunk;
  constexpr int kChunks = Tile::kRows * kChunksPerRow;
  static_assert(Tile::kCols % kPerChunk == 0, "tile rows are whole 16-byte chunks");
  if (vec) {
    // Kept rolled: unrolling hoists every chunk's address into registers,
    // which the accumulators need more (it spills at head dim 256).
#pragma unroll 1
    for (int c = threadIdx.x; c < kChunks; c += kThreads) {
      const int row = c / kChunksPerRow, col = (c % kChunksPerRow) * kPerChunk;
      const bool valid = row < rows && col < cols;
      cp_async_16(tile.at(row, col), valid ? src + row * row_stride + col : src, valid);
    }
  } else {
#pragma unroll 1
    for (int c = threadIdx.x; c < kChunks; c += kThreads) {
      const int row = c / kChunksPerRow, col = (c % kChunksPerRow) * kPerChunk;
      T* dst = tile.at(row, col);
      const T* from = src + row * row_stride + col;
#pragma unroll
      for (int e = 0; e < kPerChunk; ++e) dst[e] = (row < rows && col + e < cols) ? from[e] : T(0.0f);
    }
  }
}

// Stores rows [0, rows) × columns [0, cols) of `tile` to a row-major global
// matrix; vec as for load_tile.
template <int kThreads, class Tile>
__device__ __forceinline__ void store_tile(typename Tile::Elem* dst, int64_t row_stride, const Tile& tile, int rows,
                                           int cols, bool vec) {
  using T = typename Tile::Elem;
  constexpr int kPerChunk = kChunkBytes / sizeof(T);
  constexpr int kChunksPerRow = Tile::kCols / kPerChunk;
  constexpr int kChunks = Tile::kRows * kChunksPerRow;
#pragma unroll 1
  for (int c = threadIdx.x; c < kChunks; c += kThreads) {
    const int row = c / kChunksPerRow;
    const int col = (c % kChunksPerRow) * kPerChunk;
    if (row >= rows || col >= cols) continue;
    const T* from = tile.at(row, col);
    T* to = dst + row * row_stride + col;
    if (vec) {
      *reinterpret_cast<uint4*>(to) = *reinterpret_cast<const uint4*>(from);
    } else {
#pragma unroll
      for (int e = 0; e < kPerChunk; ++e)
        if (col + e < cols) to[e] = from[e];
    }
  }
}

}  // namespace sk::cuda::tile
