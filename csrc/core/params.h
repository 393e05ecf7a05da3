// One plain params struct per op: pointers, sizes in elements, flags.
// Kernels take nothing else.
#pragma once
#include <stddef.h>
#include <stdint.h>

#include "dtype.h"

// Element-wise dtype conversion dst[i] = convert(src[i]) for i in [0, count).
struct sk_cast_params {
  const void* src;
  void* dst;
  size_t count;      // elements
  sk_dtype src_type;
  sk_dtype dst_type;
  bool saturate;     // FP8 only: overflow and ±Inf go to ±max finite instead of NaN / ±Inf
};
