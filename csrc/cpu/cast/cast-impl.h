// The cast kernel body, written once over a lanes type and compiled by each
// ISA's file (cast-<isa>.cc) with that ISA's flags. The file defines
// SK_ISA_NAMESPACE and SK_VEC_WIDTH first; everything here lands in
// sk::cpu::<isa>, so nothing built with AVX-512 flags is shared with the
// baseline build.
// Everything goes through float32: decode a block into an L1-resident float
// buffer, then encode it. Integer ↔ integer casts saturate directly, and a
// cast to the same type is a copy.
#pragma once
#include <stdint.h>
#include <string.h>

#include "../../core/cast_math.h"
#include "../../core/params.h"

namespace sk::cpu::SK_ISA_NAMESPACE {

// The scalar tail's own type: its instantiations of the cast_math templates
// are private to this ISA's object file.
struct TailLanes : ScalarLanes {};

#include "lanes.h"

constexpr size_t kCastBlock = 1024;  // floats per pass: a 4 KiB buffer stays in L1

// Runs body(lanes, i) over [0, n) in groups of L::kWidth, then the tail one by
// one with TailLanes: the same algorithm, so the tail's bits match.
template <class L, class Body>
inline void each_lane_group(size_t n, Body&& body) {
  size_t i = 0;
  for (; i + L::kWidth <= n; i += L::kWidth) body(L{}, i);
  for (; i < n; ++i) body(TailLanes{}, i);
}

template <class L>
void decode_to_f32(sk_dtype type, const void* src, float* out, size_t n) {
  auto decode = [&](auto fn) {
    each_lane_group<L>(n, [&](auto lanes, size_t i) {
      using LL = decltype(lanes);
      fn(lanes, i, [&](typename LL::U bits) { LL::store_f(out + i, LL::flt(bits)); });
    });
  };
  const auto* u8 = static_cast<const uint8_t*>(src);
  const auto* u16 = static_cast<const uint16_t*>(src);
  switch (type) {
    case SK_F32: memcpy(out, src, n * 4); break;
    case SK_F16: decode([&](auto l, size_t i, auto put) { put(f16_to_f32<decltype(l)>(l.load_u(u16 + i))); }); break;
    case SK_BF16: decode([&](auto l, size_t i, auto put) { put(bf16_to_f32<decltype(l)>(l.load_u(u16 + i))); }); break;
    case SK_F8E4M3FN:
      decode([&](auto l, size_t i, auto put) { put(e4m3fn_to_f32<decltype(l)>(l.load_u(u8 + i))); });
      break;
    case SK_F8E5M2: decode([&](auto l, size_t i, auto put) { put(e5m2_to_f32<decltype(l)>(l.load_u(u8 + i))); }); break;
    case SK_I8:
    case SK_U8:
    case SK_I32:
      each_lane_group<L>(n, [&](auto l, size_t i) {
        using LL = decltype(l);
        typename LL::I v = type == SK_I8   ? l.load_i(static_cast<const int8_t*>(src) + i)
                           : type == SK_U8 ? l.load_i(u8 + i)
                                           : l.load_i(static_cast<const int32_t*>(src) + i);
        LL::store_f(out + i, LL::to_f32(v));
      });
      break;
    default: break;
  }
}

template <class L>
void encode_from_f32(sk_dtype type, const float* in, void* dst, size_t n, bool saturate) {
  auto* u8 = static_cast<uint8_t*>(dst);
  auto* u16 = static_cast<uint16_t*>(dst);
  each_lane_group<L>(n, [&](auto l, size_t i) {
    using LL = decltype(l);
    typename LL::F v = LL::load_f(in + i);
    typename LL::U x = LL::bits(v);
    switch (type) {
      case SK_F32: LL::store_f(static_cast<float*>(dst) + i, v); break;
      case SK_F16: LL::store(u16 + i, f32_to_f16<LL>(x)); break;
      case SK_BF16: LL::store(u16 + i, f32_to_bf16<LL>(x)); break;
      case SK_F8E4M3FN: LL::store(u8 + i, f32_to_e4m3fn<LL>(x, saturate)); break;
      case SK_F8E5M2: LL::store(u8 + i, f32_to_e5m2<LL>(x, saturate)); break;
      case SK_I8: LL::store(static_cast<int8_t*>(dst) + i, f32_to_i8<LL>(v)); break;
      case SK_U8: LL::store(u8 + i, f32_to_u8<LL>(v)); break;
      case SK_I32: LL::store(static_cast<int32_t*>(dst) + i, f32_to_i32<LL>(v)); break;
      default: break;
    }
  });
}

static inline int64_t load_int(sk_dtype t, const void* p, size_t i) {
  if (t == SK_I8) return static_cast<const int8_t*>(p)[i];
  if (t == SK_U8) return static_cast<const uint8_t*>(p)[i];
  return static_cast<const int32_t*>(p)[i];
}

// Integer → integer without the float32 detour, which would round int32 values
// above 2^24: saturate to the destination's range.
static inline void cast_int_to_int(const sk_cast_params& p) {
  int64_t lo = p.dst_type == SK_I8 ? -128 : p.dst_type == SK_U8 ? 0 : INT32_MIN;
  int64_t hi = p.dst_type == SK_I8 ? 127 : p.dst_type == SK_U8 ? 255 : INT32_MAX;
  for (size_t i = 0; i < p.count; ++i) {
    int64_t v = load_int(p.src_type, p.src, i);
    v = v < lo ? lo : v > hi ? hi : v;
    if (p.dst_type == SK_I8)
      static_cast<int8_t*>(p.dst)[i] = static_cast<int8_t>(v);
    else if (p.dst_type == SK_U8)
      static_cast<uint8_t*>(p.dst)[i] = static_cast<uint8_t>(v);
    else
      static_cast<int32_t*>(p.dst)[i] = static_cast<int32_t>(v);
  }
}

inline void cast_run(const sk_cast_params& p) {
  using L = VecLanes;
  if (p.src_type == p.dst_type) {
    memcpy(p.dst, p.src, p.count * sk_dtype_size(p.src_type));
    return;
  }
  if (sk_dtype_is_int(p.src_type) && sk_dtype_is_int(p.dst_type)) {
    cast_int_to_int(p);
    return;
  }
  const size_t src_size = sk_dtype_size(p.src_type);
  const size_t dst_size = sk_dtype_size(p.dst_type);
  alignas(64) float buf[kCastBlock];
  for (size_t off = 0; off < p.count; off += kCastBlock) {
    size_t n = p.count - off < kCastBlock ? p.count - off : kCastBlock;
    const void* src = static_cast<const uint8_t*>(p.src) + off * src_size;
    void* dst = static_cast<uint8_t*>(p.dst) + off * dst_size;
    if (p.dst_type == SK_F32) {
      decode_to_f32<L>(p.src_type, src, static_cast<float*>(dst), n);
    } else if (p.src_type == SK_F32) {
      encode_from_f32<L>(p.dst_type, static_cast<const float*>(src), dst, n, p.saturate);
    } else {
      decode_to_f32<L>(p.src_type, src, buf, n);
      encode_from_f32<L>(p.dst_type, buf, dst, n, p.saturate);
    }
  }
}

}  // namespace sk::cpu::SK_ISA_NAMESPACE
