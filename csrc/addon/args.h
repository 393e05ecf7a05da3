// Checks of an op's plain-object `args`, shared by the CPU and CUDA bindings
// (header-only: the CUDA addon includes it too). One message shape:
// "Expected ... for args.<key>". Numbers arrive as doubles; an integer must be
// exact and in range before it becomes an int64.
#pragma once
#include <math.h>
#include <napi.h>
#include <stdint.h>

#include <string>

#include "errors.h"

namespace sk {

constexpr double kMaxSafeInteger = 9007199254740991.0;  // 2^53 - 1

inline std::string num(int64_t v) { return std::to_string(v); }

// args[key]: an integer in [lo, hi], else `code`.
inline int64_t args_int(Napi::Env env, const Napi::Object& o, const char* key, int64_t lo, int64_t hi,
                        sk_status code = SK_ERR_INVALID_ARGUMENT) {
  Napi::Value v = o.Get(key);
  const double d = v.IsNumber() ? v.As<Napi::Number>().DoubleValue() : NAN;
  if (!(d >= static_cast<double>(lo) && d <= static_cast<double>(hi)) || d != floor(d))
    throw_error(env, code, "Expected an integer between " + num(lo) + " and " + num(hi) + " for args." + key);
  return static_cast<int64_t>(d);
}

// args[key]: 3 non-negative safe-integer strides (batch, head, sequence), in elements.
inline void args_strides(Napi::Env env, const Napi::Object& args, const char* key, int64_t out[3]) {
  Napi::Value v = args.Get(key);
  if (!v.IsArray() || v.As<Napi::Array>().Length() != 3)
    throw_error(env, SK_ERR_INVALID_ARGUMENT, std::string("Expected 3 strides for args.") + key);
  for (uint32_t i = 0; i < 3; ++i) {
    Napi::Value e = v.As<Napi::Array>().Get(i);
    const double d = e.IsNumber() ? e.As<Napi::Number>().DoubleValue() : NAN;
    if (!(d >= 0 && d <= kMaxSafeInteger) || d != floor(d))
      throw_error(env, SK_ERR_INVALID_ARGUMENT, std::string("Expected non-negative integer strides for args.") + key);
    out[i] = static_cast<int64_t>(d);
  }
}

// One past the largest element a [n0, n1, n2, d] view with strides s reaches
// (0 when it is empty); ERR_SK_SHAPE when that overflows int64.
inline int64_t strided_reach(Napi::Env env, int64_t n0, int64_t n1, int64_t n2, int64_t d, const int64_t s[3],
                             const char* name) {
  if (n0 == 0 || n1 == 0 || n2 == 0 || d == 0) return 0;
  int64_t r = d, t;
  const int64_t n[3] = {n0, n1, n2};
  for (int i = 0; i < 3; ++i)
    if (__builtin_mul_overflow(n[i] - 1, s[i], &t) || __builtin_add_overflow(r, t, &r))
      throw_error(env, SK_ERR_SHAPE, std::string("Size overflows for ") + name);
  return r;
}

}  // namespace sk
