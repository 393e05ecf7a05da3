// The CUDA 2:4 layout, built on the host from the CPU layout (docs/formats.md,
// "2:4 weights on the CPU" and "2:4 sparse weights on CUDA"). Plain C++ (no
// CUDA headers): the native tests check it on any machine, the CUDA binding
// calls it before uploading.
//
// CPU layout (input): panels of 8 rows, read only through csrc/core/sp24_meta.h:
// values [ceil(N/8), K/4, 2, 8] 16-bit (sp24_value_count elements), meta
// [ceil(N/8), K/4] little-endian uint32 words (sp24_meta_bytes), one code
// i0 | i1 << 2 (i0 < i1) per row and 4-group; rows past N are padding (0x4, 0).
// CUDA layout: N padded to kNPad, K to kKPad; values [n_pad, k_pad/2] row-major
// (padding 0); meta uint32 words [n_pad/16][k_pad/32][16], word g·2+t of a step
// being what lane (g, t) passes to mma.sp (fragments.h); padding groups get 0x4.
#pragma once
#include <stddef.h>
#include <stdint.h>

#include "../../csrc/core/sp24_meta.h"

namespace sk::sp24 {

constexpr int64_t kNPad = 128;       // the widest N tile of the kernels
constexpr int64_t kKPad = 64;        // the K tile of the kernels
constexpr uint8_t kPadNibble = 0x4;  // positions 0 and 1 of a zero group

struct CudaLayoutDims {
  int64_t n, k, n_pad, k_pad;
  size_t values;      // 16-bit elements
  size_t meta_words;  // uint32
};

// Dims for an [n, k] weight; k must be a positive multiple of 4 (not checked here).
CudaLayoutDims cuda_layout_dims(int64_t n, int64_t k);

// The first invalid code of CPU-layout metadata for [n, k] (lowest row, then
// lowest group; the padding rows of the last panel count, as rows n..8P-1)
// into *row / *group; false when every code is valid.
bool find_bad_group(const uint8_t* meta, int64_t n, int64_t k, int64_t* row, int64_t* group);

// CPU → CUDA layout (padding rows of the CPU layout are dropped). meta must
// have passed find_bad_group. Outputs have dims.values / dims.meta_words elements.
void to_cuda_layout(const uint16_t* values, const uint8_t* meta, int64_t n, int64_t k, uint16_t* values_out,
                    uint32_t* meta_out);

// CUDA → CPU layout (the inverse, for tests and for reading a weight back):
// outputs of sp24_value_count / sp24_meta_bytes, padding rows written as 0x4 and 0.
void from_cuda_layout(const uint16_t* values_cuda, const uint32_t* meta_cuda, int64_t n, int64_t k,
                      uint16_t* values_out, uint8_t* meta_out);

// The dense [n, k] matrix of 16-bit elements a CPU-layout weight stands for
// (zeros written as +0): what cuSPARSELt compresses.
void expand_dense(const uint16_t* values, const uint8_t* meta, int64_t n, int64_t k, uint16_t* dense_out);

}  // namespace sk::sp24
