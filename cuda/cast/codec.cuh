// Per-dtype decode (to float32) and encode (from float32) for the CUDA cast
// kernels, as thin wrappers over the shared math in csrc/core/cast_math.h
// instantiated with sk::ScalarLanes: the same functions the CPU scalar kernel
// runs, so every bit matches. Integer rules follow
// csrc/cpu/cast/cast-impl.h: float → int rounds to nearest even, saturates
// and sends NaN to 0; int → int saturates without going through float.
#pragma once
#include <stdint.h>

#include "../../csrc/core/cast_math.h"
#include "../../csrc/core/dtype.h"

namespace sk::cuda {

using L = ::sk::ScalarLanes;

template <sk_dtype T>
struct Codec;

template <>
struct Codec<SK_F32> {
  using Storage = float;
  static constexpr bool kInt = false;
  static SK_HD float decode(float v) { return v; }
  static SK_HD float encode(float v, bool) { return v; }
};

template <>
struct Codec<SK_F16> {
  using Storage = uint16_t;
  static constexpr bool kInt = false;
  static SK_HD float decode(uint16_t h) { return L::flt(f16_to_f32<L>(h)); }
  static SK_HD uint16_t encode(float v, bool) { return static_cast<uint16_t>(f32_to_f16<L>(L::bits(v))); }
};

template <>
struct Codec<SK_BF16> {
  using Storage = uint16_t;
  static constexpr bool kInt = false;
  static SK_HD float decode(uint16_t h) { return L::flt(bf16_to_f32<L>(h)); }
  static SK_HD uint16_t encode(float v, bool) { return static_cast<uint16_t>(f32_to_bf16<L>(L::bits(v))); }
};

template <>
struct Codec<SK_F8E4M3FN> {
  using Storage = uint8_t;
  static constexpr bool kInt = false;
  static SK_HD float decode(uint8_t b) { return L::flt(e4m3fn_to_f32<L>(b)); }
  static SK_HD uint8_t encode(float v, bool sat) { return static_cast<uint8_t>(f32_to_e4m3fn<L>(L::bits(v), sat)); }
};

template <>
struct Codec<SK_F8E5M2> {
  using Storage = uint8_t;
  static constexpr bool kInt = false;
  static SK_HD float decode(uint8_t b) { return L::flt(e5m2_to_f32<L>(b)); }
  static SK_HD uint8_t encode(float v, bool sat) { return static_cast<uint8_t>(f32_to_e5m2<L>(L::bits(v), sat)); }
};

// Integers: float → int through sk::f32_to_i8/u8/i32 (shared with the CPU);
// kMinValue/kMaxValue saturate int → int casts without going through float.
template <class T, int32_t kMin, int32_t kMax>
struct IntCodec {
  using Storage = T;
  static constexpr bool kInt = true;
  static constexpr int64_t kMinValue = kMin;
  static constexpr int64_t kMaxValue = kMax;
  static SK_HD float decode(T v) { return L::to_f32(static_cast<int32_t>(v)); }
};

template <>
struct Codec<SK_I8> : IntCodec<int8_t, -128, 127> {
  static SK_HD int8_t encode(float v, bool) { return static_cast<int8_t>(f32_to_i8<L>(v)); }
};

template <>
struct Codec<SK_U8> : IntCodec<uint8_t, 0, 255> {
  static SK_HD uint8_t encode(float v, bool) { return static_cast<uint8_t>(f32_to_u8<L>(v)); }
};

template <>
struct Codec<SK_I32> : IntCodec<int32_t, INT32_MIN, INT32_MAX> {
  static SK_HD int32_t encode(float v, bool) { return f32_to_i32<L>(v); }
};

// One element, src → dst.
template <class Src, class Dst>
SK_HD typename Dst::Storage convert(typename Src::Storage v, bool saturate) {
  if constexpr (Src::kInt && Dst::kInt) {
    int64_t x = static_cast<int64_t>(v);  // int32 values above 2^24 would round through float32
    x = x < Dst::kMinValue ? Dst::kMinValue : x > Dst::kMaxValue ? Dst::kMaxValue : x;
    return static_cast<typename Dst::Storage>(x);
  } else {
    return Dst::encode(Src::decode(v), saturate);
  }
}

}  // namespace sk::cuda
