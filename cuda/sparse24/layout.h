// The CUDA 2:4 layout, built on the host from the CPU layout (docs/formats.md,
// "2:4 sparse weights"). Plain C++ (no CUDA headers): the native tests check
// it on any machine, the CUDA binding calls it before uploading.
//
// CPU layout (input): values [N, K/2] 16-bit, meta uint8 [N, ceil(K/8)], one
// nibble i0 | i1 << 2 (i0 < i1) per 4-group, group 2b in the low nibble of byte b.
// CUDA layout: N padded to kNPad, K to kKPad; values [n_pad, k_pad/2] row-major
// (padding 0); meta uint32 words [n_pad/16][k_pad/32][16], word g·2+t of a step
// being what lane (g, t) passes to mma.sp (fragments.h); padding groups get 0x4.
#pragma once
#include <stddef.h>
#include <stdint.h>

namespace sk::sparse24 {

constexpr int64_t kNPad = 128;  // the widest N tile of the kernels
constexpr int64_t kKPad = 64;   // the K tile of the kernels
constexpr uint8_t kPadNibble = 0x4;  // positions 0 and 1 of a zero group

struct CudaLayoutDims {
  int64_t n, k, n_pad, k_pad;
  size_t values;      // 16-bit elements
  size_t meta_words;  // uint32
};

// Dims for an [n, k] weight; k must be a positive multiple of 4 (not checked here).
CudaLayoutDims cuda_layout_dims(int64_t n, int64_t k);

// CPU-layout metadata bytes for [n, k]: n · ceil(k / 8).
size_t cpu_meta_bytes(int64_t n, int64_t k);

// True when nibble is one of 0x4, 0x8, 0x9, 0xC, 0xD, 0xE (ordered, distinct).
inline bool valid_nibble(unsigned nibble) {
  const unsigned i0 = nibble & 3u, i1 = (nibble >> 2) & 3u;
  return nibble < 16 && i0 < i1;
}

// The first bad (row, group) of CPU-layout metadata as row · groups + group,
// or -1 when every group's nibble is valid and every padding nibble is 0.
int64_t find_bad_group(const uint8_t* meta, int64_t n, int64_t k);

// CPU → CUDA layout. meta must have passed find_bad_group. Outputs have
// dims.values / dims.meta_words elements.
void to_cuda_layout(const uint16_t* values, const uint8_t* meta, int64_t n, int64_t k, uint16_t* values_out,
                    uint32_t* meta_out);

// CUDA → CPU layout (the inverse, for tests and for reading a weight back).
void from_cuda_layout(const uint16_t* values_cuda, const uint32_t* meta_cuda, int64_t n, int64_t k,
                      uint16_t* values_out, uint8_t* meta_out);

// The dense [n, k] matrix of 16-bit elements a CPU-layout weight stands for
// (zeros written as +0): what cuSPARSELt compresses.
void expand_dense(const uint16_t* values, const uint8_t* meta, int64_t n, int64_t k, uint16_t* dense_out);

}  // namespace sk::sparse24
