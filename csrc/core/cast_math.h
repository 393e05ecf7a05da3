// Bit-exact conversions between float32 and the narrow types, written once,
// branch-free, over a "lanes" type L:
//   L::U  uint32 lanes      L::F  float lanes      L::I  int32 lanes
//   L::flt(U) / L::bits(F)  reinterpret           L::to_f32(I) / L::trunc_i32(F)  convert
// ScalarLanes (below) makes each function a plain scalar one that the CPU
// reference and the CUDA kernels use; csrc/cpu/cast/lanes.h instantiates the
// same code with GCC vector types, so every ISA computes the same bits.
// Comparisons yield bool (scalar) or a lane mask (vector); `c ? a : b` and
// `&` / `|` on conditions work for both.
//
// The rules (docs/formats.md): round to nearest even everywhere; float16 and
// bfloat16 overflow to ±Inf; FP8 saturating mode sends overflow and ±Inf to
// ±max finite (CUDA's satfinite), non-saturating sends them to NaN (e4m3fn)
// or ±Inf (e5m2); FP8 NaN is 0x7F (sign dropped, as CUDA does); float16 and
// bfloat16 NaN keep sign and top payload bits with the quiet bit set.
// Decoding is exact; a NaN decodes to a quiet NaN with its sign and payload.
#pragma once
#include <stdint.h>
#include <string.h>

#include "hd.h"

namespace sk {

struct ScalarLanes {
  using U = uint32_t;
  using I = int32_t;
  using F = float;
  static constexpr int kWidth = 1;
  static SK_HD F flt(U u) {
    F f;
    memcpy(&f, &u, 4);
    return f;
  }
  static SK_HD U bits(F f) {
    U u;
    memcpy(&u, &f, 4);
    return u;
  }
  static SK_HD F to_f32(I i) { return static_cast<F>(i); }
  static SK_HD I trunc_i32(F f) { return static_cast<I>(f); }
  // Widening loads (zero-extend into U, sign-extend into I) and narrowing stores.
  template <class T>
  static SK_HD U load_u(const T* p) {
    return static_cast<U>(*p);
  }
  template <class T>
  static SK_HD I load_i(const T* p) {
    return static_cast<I>(*p);
  }
  static SK_HD F load_f(const float* p) { return *p; }
  template <class T, class V>
  static SK_HD void store(T* p, V v) {
    *p = static_cast<T>(v);
  }
  static SK_HD void store_f(float* p, F v) { *p = v; }
};

constexpr uint32_t kF32SignMask = 0x80000000u;
constexpr uint32_t kF32AbsMask = 0x7FFFFFFFu;
constexpr uint32_t kF32Inf = 0x7F800000u;
constexpr uint32_t kF32Quiet = 0x00400000u;

// Rounds |x| (float32 bits, sign cleared, not NaN) to the magnitude code of a
// binary format with kMan mantissa bits and exponent bias kBias, subnormals
// included. Codes above the format's largest finite one mean overflow.
template <class L, int kMan, int kBias>
SK_HD typename L::U round_magnitude(typename L::U a) {
  using U = typename L::U;
  constexpr uint32_t kShift = 23 - kMan;
  constexpr uint32_t kMinNormal = uint32_t(127 - kBias + 1) << 23;  // float32 bits of 2^(1-bias)
  constexpr uint32_t kRebias = uint32_t(127 - kBias) << kMan;
  // A float whose ulp is the target's smallest subnormal: adding it makes the
  // FPU do the subnormal rounding (RNE) for us, exactly.
  constexpr uint32_t kMagic = uint32_t(127 + 24 - kBias - kMan) << 23;
  U normal = ((a + ((1u << (kShift - 1)) - 1u) + ((a >> kShift) & 1u)) >> kShift) - kRebias;
  U magic = U{} + kMagic;
  U sub = L::bits(L::flt(a) + L::flt(magic)) - kMagic;
  return a < kMinNormal ? sub : normal;
}

template <class L>
SK_HD typename L::U f32_to_f16(typename L::U x) {
  using U = typename L::U;
  U sign = (x >> 16) & 0x8000u;
  U a = x & kF32AbsMask;
  U m = round_magnitude<L, 10, 15>(a);
  U inf = U{} + 0x7C00u;
  m = m > 0x7C00u ? inf : m;
  U nan = ((a >> 13) & 0x3FFu) | 0x7E00u;
  return sign | (a > kF32Inf ? nan : m);
}

template <class L>
SK_HD typename L::U f32_to_bf16(typename L::U x) {
  using U = typename L::U;
  U rounded = (x + 0x7FFFu + ((x >> 16) & 1u)) >> 16;
  U nan = (x >> 16) | 0x40u;
  return (x & kF32AbsMask) > kF32Inf ? nan : rounded;
}

template <class L>
SK_HD typename L::U f32_to_e4m3fn(typename L::U x, bool saturate) {
  using U = typename L::U;
  U sign = (x >> 24) & 0x80u;
  U a = x & kF32AbsMask;
  U m = round_magnitude<L, 3, 7>(a);
  U over = U{} + (saturate ? 0x7Eu : 0x7Fu);  // ±448, or NaN: e4m3fn has no Inf
  m = sign | (m > 0x7Eu ? over : m);
  U nan = U{} + 0x7Fu;
  return a > kF32Inf ? nan : m;
}

template <class L>
SK_HD typename L::U f32_to_e5m2(typename L::U x, bool saturate) {
  using U = typename L::U;
  U sign = (x >> 24) & 0x80u;
  U a = x & kF32AbsMask;
  U m = round_magnitude<L, 2, 15>(a);
  U over = U{} + (saturate ? 0x7Bu : 0x7Cu);  // ±57344, or ±Inf
  m = sign | (m > 0x7Bu ? over : m);
  U nan = U{} + 0x7Fu;
  return a > kF32Inf ? nan : m;
}

// Decodes a format with kExp exponent bits, kMan mantissa bits and bias kBias
// whose top exponent is Inf/NaN (float16, e5m2) or, for e4m3fn, whose only
// special code is S.1111.111 = NaN.
template <class L, int kExp, int kMan, int kBias, bool kIeeeSpecials>
SK_HD typename L::U decode_narrow(typename L::U code) {
  using U = typename L::U;
  constexpr uint32_t kMagMask = (1u << (kExp + kMan)) - 1u;
  constexpr uint32_t kManMask = (1u << kMan) - 1u;
  constexpr uint32_t kShift = 23 - kMan;
  constexpr uint32_t kMinNormal = uint32_t(127 - kBias + 1) << 23;
  U sign = ((code >> (kExp + kMan)) & 1u) << 31;
  U mag = code & kMagMask;
  U body = mag << kShift;
  U normal = body + (uint32_t(127 - kBias) << 23);
  // Subnormal: place the mantissa under 2^(1-bias)'s exponent, then subtract
  // 2^(1-bias); the difference is exact in float32.
  U min_normal = U{} + kMinNormal;
  U sub = L::bits(L::flt(body + kMinNormal) - L::flt(min_normal));
  U value = mag <= kManMask ? sub : normal;
  if (kIeeeSpecials) {
    U quiet = (mag & kManMask) != 0u ? U{} + kF32Quiet : U{};
    U special = (body & 0x7FFFFFu) | kF32Inf | quiet;
    value = mag >= (kMagMask & ~kManMask) ? special : value;
  } else {
    U nan = U{} + (kF32Inf | kF32Quiet);
    value = mag == kMagMask ? nan : value;
  }
  return sign | value;
}

template <class L>
SK_HD typename L::U f16_to_f32(typename L::U h) {
  return decode_narrow<L, 5, 10, 15, true>(h);
}

template <class L>
SK_HD typename L::U e5m2_to_f32(typename L::U b) {
  return decode_narrow<L, 5, 2, 15, true>(b);
}

template <class L>
SK_HD typename L::U e4m3fn_to_f32(typename L::U b) {
  return decode_narrow<L, 4, 3, 7, false>(b);
}

template <class L>
SK_HD typename L::U bf16_to_f32(typename L::U h) {
  using U = typename L::U;
  U x = h << 16;
  U quiet = (h & 0x7FFFu) > 0x7F80u ? U{} + kF32Quiet : U{};
  return x | quiet;
}

// float32 → integer: round to nearest even, saturate, NaN → 0. [lo, hi] is
// the clamp range in float32 and v >= sat_from becomes hi_int: for int32, hi
// is the largest float below 2^31 and sat_from is 2^31.
template <class L>
SK_HD typename L::I f32_to_int(typename L::F v, float lo, float hi, float sat_from, int32_t hi_int) {
  using U = typename L::U;
  using F = typename L::F;
  using I = typename L::I;
  constexpr float kRoundMagic = 8388608.0f;  // 2^23: adding and subtracting rounds to an integer (RNE)
  U vb = L::bits(v);
  U sign = vb & kF32SignMask;
  F mag = L::flt(vb & kF32AbsMask);
  F rounded_mag = (mag + kRoundMagic) - kRoundMagic;
  F r = L::flt((mag < kRoundMagic ? L::bits(rounded_mag) : L::bits(mag)) | sign);
  F lo_v = F{} + lo;
  F hi_v = F{} + hi;
  r = r < lo ? lo_v : r;
  r = r > hi ? hi_v : r;
  F zero_f = F{};
  r = v != v ? zero_f : r;  // NaN must not reach the conversion (undefined in C++)
  I out = L::trunc_i32(r);
  I top = I{} + hi_int;
  out = v >= sat_from ? top : out;
  I zero = I{};
  return v != v ? zero : out;
}

// The three integer targets; the CPU kernels and the CUDA codec both use these.
template <class L>
SK_HD typename L::I f32_to_i8(typename L::F v) {
  return f32_to_int<L>(v, -128.f, 127.f, 128.f, 127);
}
template <class L>
SK_HD typename L::I f32_to_u8(typename L::F v) {
  return f32_to_int<L>(v, 0.f, 255.f, 256.f, 255);
}
template <class L>
SK_HD typename L::I f32_to_i32(typename L::F v) {
  return f32_to_int<L>(v, -2147483648.f, 2147483520.f, 2147483648.f, 2147483647);
}

}  // namespace sk
