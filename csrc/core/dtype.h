// Element types. The numeric values are part of the binding contract:
// lib/dtype.ts sends the same numbers.
#pragma once
#include <stddef.h>
#include <stdint.h>

enum sk_dtype {
  SK_F32 = 0,
  SK_F16 = 1,
  SK_BF16 = 2,
  SK_F8E4M3FN = 3,
  SK_F8E5M2 = 4,
  SK_I8 = 5,
  SK_U8 = 6,
  SK_I32 = 7,
  SK_DTYPE_COUNT = 8,
};

static inline bool sk_dtype_valid(int t) { return t >= 0 && t < SK_DTYPE_COUNT; }

static inline size_t sk_dtype_size(sk_dtype t) {
  switch (t) {
    case SK_F32:
    case SK_I32: return 4;
    case SK_F16:
    case SK_BF16: return 2;
    default: return 1;
  }
}

static inline bool sk_dtype_is_int(sk_dtype t) { return t == SK_I8 || t == SK_U8 || t == SK_I32; }

static inline const char* sk_dtype_name(sk_dtype t) {
  static const char* const kNames[SK_DTYPE_COUNT] = {"float32",    "float16", "bfloat16", "float8e4m3fn",
                                                     "float8e5m2", "int8",    "uint8",    "int32"};
  return sk_dtype_valid(t) ? kNames[t] : "invalid";
}
