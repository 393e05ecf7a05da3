// Scalar "vector" ops for the linear kernels: one lane, plain C++, the
// kernel set every CPU runs (SPARSEKIT_ISA=scalar).
#pragma once
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "../../core/cast_math.h"

namespace sk::cpu::scalar {

// This kernel set's own lanes type, so its cast_math instantiations are private.
struct LinLanes : sk::ScalarLanes {};

// Packing weight panels: a 1×1 "tile" (plain loops).
struct Pack1 {
  static constexpr int kPack = 1;
  using P = float;
  static P load(const float* p) { return *p; }
  static P load_f16(const uint16_t* p) { return LinLanes::flt(sk::f16_to_f32<LinLanes>(*p)); }
  static P load_bf16(const uint16_t* p) { return LinLanes::flt(uint32_t(*p) << 16); }
  static void transpose_store(P (&r)[1], float* dst, size_t) { *dst = r[0]; }
};

struct LinOps {
  using Pack = Pack1;
  using V = float;
  static constexpr int W = 1;
  static V zero() { return 0.0f; }
  static V set1(float x) { return x; }
  static V load(const float* p) { return *p; }
  static void store(float* p, V v) { *p = v; }
  static V add(V a, V b) { return a + b; }
  static V fma(V a, V b, V c) { return a * b + c; }
  static float hsum(V v) { return v; }
  static float f16(uint16_t h) { return LinLanes::flt(sk::f16_to_f32<LinLanes>(h)); }
  static V load_f16(const uint16_t* p) { return f16(*p); }
  static V load_bf16(const uint16_t* p) { return LinLanes::flt(uint32_t(*p) << 16); }
};

}  // namespace sk::cpu::scalar
