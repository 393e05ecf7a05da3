// What the linear kernels read (out = x · wᵀ + bias, float32 accumulation),
// built on the host by the binding (cuda/binding/linear_args.cc). Plain C++:
// no CUDA types, so the binding's checks compile and run without a device.
// Passed to the kernel by value.
#pragma once
#include <stdint.h>

namespace sk::cuda::linear {

struct LinearParams {
  const void* x;         // [m, k] row-major, the dtype (float16 / bfloat16)
  const void* w;         // sparse: CUDA-layout values [n_pad, k_pad/2]; dense: [n, k] row-major
  const uint32_t* meta;  // sparse: CUDA-layout metadata words [n_pad/16][k_pad/32][16]; dense: null
  const void* bias;      // [n] in the dtype or float32 (bias_f32), or null
  void* out;             // [m, n] row-major, the dtype
  int64_t m, n, k;       // elements
  int64_t w_stride;      // elements between rows of w: k_pad / 2 (sparse) or k (dense)
  int64_t k_pad;         // sparse: K padded to the 64-wide tile; dense: k
  bool bias_f32;
  // Rows of x / w / out start on 16-byte boundaries (pointer and stride), so
  // tiles move as 16-byte chunks; otherwise element by element.
  bool x_vec, w_vec, out_vec;
};

}  // namespace sk::cuda::linear
