// Checks of an op's plain-object `args`, shared by the CPU and CUDA bindings
// (header-only: the CUDA addon includes it too). One message shape:
// "Expected <what> for <name> but received <value>". Numbers arrive as
// doubles; an integer must be exact and in range before it becomes an int64.
//
// One rule for the codes, whichever binding checks: a value of the wrong
// kind (not an object, a number, an integer, a boolean, the right TypedArray)
// is ERR_SK_INVALID_ARGUMENT; an integer outside its range gets the code the
// caller names (ERR_SK_SHAPE for extents, ERR_SK_DTYPE for dtype ids,
// ERR_SK_INVALID_ARGUMENT for options); an array whose length disagrees with
// the shapes is ERR_SK_SHAPE.
#pragma once
#include <math.h>
#include <napi.h>
#include <stdint.h>
#include <stdio.h>

#include <string>

#include "../core/params.h"
#include "errors.h"

namespace sk {

constexpr double kMaxSafeInteger = 9007199254740991.0;  // 2^53 - 1

inline std::string num(int64_t v) { return std::to_string(v); }

// A JS value as an error message shows it: "300 (number)", "a string", "undefined".
inline std::string received(const Napi::Value& v) {
  if (v.IsUndefined()) return "undefined";
  if (v.IsNull()) return "null";
  if (v.IsNumber()) {
    char buf[40];
    snprintf(buf, sizeof buf, "%.17g (number)", v.As<Napi::Number>().DoubleValue());
    return buf;
  }
  if (v.IsBoolean()) return v.As<Napi::Boolean>().Value() ? "true (boolean)" : "false (boolean)";
  if (v.IsString()) return "a string";
  if (v.IsArray()) return "an Array";
  if (v.IsTypedArray()) return "a TypedArray";
  if (v.IsFunction()) return "a function";
  if (v.IsObject()) return "an object";
  return v.IsSymbol() ? "a symbol" : "a bigint";
}

[[noreturn]] inline void expected(Napi::Env env, sk_status code, const std::string& what, const std::string& name,
                                  const std::string& got) {
  throw_error(env, code, "Expected " + what + " for " + name + " but received " + got);
}

// v as a plain object (not an Array or function), else ERR_SK_INVALID_ARGUMENT.
inline Napi::Object object_arg(Napi::Env env, const Napi::Value& v, const std::string& name) {
  if (!v.IsObject() || v.IsArray() || v.IsFunction())
    expected(env, SK_ERR_INVALID_ARGUMENT, "an object", name, received(v));
  return v.As<Napi::Object>();
}

// o[key], named owner.key in messages: an integer in [lo, hi]. Not an
// integer: ERR_SK_INVALID_ARGUMENT; out of range: `code`.
inline int64_t int_field(Napi::Env env, const Napi::Object& o, const std::string& owner, const char* key, int64_t lo,
                         int64_t hi, sk_status code = SK_ERR_INVALID_ARGUMENT) {
  Napi::Value v = o.Get(key);
  const double d = v.IsNumber() ? v.As<Napi::Number>().DoubleValue() : NAN;
  const std::string what = "an integer between " + num(lo) + " and " + num(hi);
  if (!(fabs(d) <= kMaxSafeInteger) || d != floor(d))
    expected(env, SK_ERR_INVALID_ARGUMENT, what, owner + "." + key, received(v));
  if (!(d >= static_cast<double>(lo) && d <= static_cast<double>(hi)))
    expected(env, code, what, owner + "." + key, received(v));
  return static_cast<int64_t>(d);
}

// args[key]: an integer in [lo, hi] (see int_field).
inline int64_t args_int(Napi::Env env, const Napi::Object& o, const char* key, int64_t lo, int64_t hi,
                        sk_status code = SK_ERR_INVALID_ARGUMENT) {
  return int_field(env, o, "args", key, lo, hi, code);
}

// args[key]: 3 non-negative safe-integer strides (batch, head, sequence), in elements.
inline void args_strides(Napi::Env env, const Napi::Object& args, const char* key, int64_t out[3]) {
  Napi::Value v = args.Get(key);
  const char* what = "an array of 3 non-negative safe integers (batch, head, sequence strides in elements)";
  if (!v.IsArray() || v.As<Napi::Array>().Length() != 3)
    expected(env, SK_ERR_INVALID_ARGUMENT, what, std::string("args.") + key, received(v));
  for (uint32_t i = 0; i < 3; ++i) {
    Napi::Value e = v.As<Napi::Array>().Get(i);
    const double d = e.IsNumber() ? e.As<Napi::Number>().DoubleValue() : NAN;
    if (!(d >= 0 && d <= kMaxSafeInteger) || d != floor(d))
      expected(env, SK_ERR_INVALID_ARGUMENT, what, std::string("args.") + key + "[" + num(i) + "]", received(e));
    out[i] = static_cast<int64_t>(d);
  }
}

// a * b, or ERR_SK_SHAPE naming `what` if it leaves int64.
inline int64_t checked_product(Napi::Env env, int64_t a, int64_t b, const char* what) {
  int64_t r;
  if (__builtin_mul_overflow(a, b, &r)) throw_error(env, SK_ERR_SHAPE, std::string("Size overflows for ") + what);
  return r;
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

// blockScores' args after the dtype (each binding checks the dtypes it
// runs): shapes, method, block, stride, segment, keys, scale, causal and the
// q / k strides (also returned in qs / ks, for the callers' size checks).
inline void block_scores_args(Napi::Env env, const Napi::Object& a, sk_block_scores_params& p, int64_t qs[3],
                              int64_t ks[3]) {
  p.method = static_cast<int32_t>(args_int(env, a, "method", SK_SCORE_XATTENTION, SK_SCORE_VERTICAL_SLASH));
  const int64_t kMax = INT32_MAX;
  p.batch = args_int(env, a, "batch", 0, kMax, SK_ERR_SHAPE);
  p.heads_q = args_int(env, a, "headsQ", 1, kMax, SK_ERR_SHAPE);
  p.heads_kv = args_int(env, a, "headsKv", 1, kMax, SK_ERR_SHAPE);
  p.seq = args_int(env, a, "seq", 1, kMax, SK_ERR_SHAPE);
  p.head_dim = args_int(env, a, "headDim", 1, 256, SK_ERR_SHAPE);
  if (p.heads_q % p.heads_kv) throw_error(env, SK_ERR_SHAPE, "Expected headsQ to be a multiple of headsKv");
  p.block = static_cast<int32_t>(args_int(env, a, "block", 16, 256));
  p.stride = static_cast<int32_t>(args_int(env, a, "stride", 1, p.block));
  if (p.method == SK_SCORE_XATTENTION && p.block % p.stride)
    throw_error(env, SK_ERR_INVALID_ARGUMENT, "Expected args.stride to divide args.block");
  p.segment_blocks = static_cast<int32_t>(args_int(env, a, "segmentBlocks", 0, kMax));
  p.key_count = args_int(env, a, "keyCount", 1, p.seq);
  Napi::Value sv = a.Get("scale"), cv = a.Get("causal");
  const double scale = sv.IsNumber() ? sv.As<Napi::Number>().DoubleValue() : NAN;
  if (!isfinite(scale) || !isfinite(static_cast<float>(scale)))
    throw_error(env, SK_ERR_INVALID_ARGUMENT, "Expected a finite number for args.scale");
  if (!cv.IsBoolean()) throw_error(env, SK_ERR_INVALID_ARGUMENT, "Expected a boolean for args.causal");
  p.scale = static_cast<float>(scale), p.causal = cv.As<Napi::Boolean>().Value();
  args_strides(env, a, "qStrides", qs), args_strides(env, a, "kStrides", ks);
  p.q_stride_b = qs[0], p.q_stride_h = qs[1], p.q_stride_s = qs[2];
  p.k_stride_b = ks[0], p.k_stride_h = ks[1], p.k_stride_s = ks[2];
}

// gatherRows' args (each binding checks the element sizes it copies):
// elemSize, shapes, row and the source strides (also returned in ss).
inline void gather_rows_args(Napi::Env env, const Napi::Object& a, sk_gather_rows_params& p, int64_t ss[3]) {
  p.elem_size = static_cast<size_t>(args_int(env, a, "elemSize", 1, 8));
  const int64_t kMax = INT32_MAX;
  p.batch = args_int(env, a, "batch", 0, kMax, SK_ERR_SHAPE);
  p.heads = args_int(env, a, "heads", 0, kMax, SK_ERR_SHAPE);
  p.seq = args_int(env, a, "seq", 0, kMax, SK_ERR_SHAPE);
  p.row = args_int(env, a, "row", 1, kMax, SK_ERR_SHAPE);
  args_strides(env, a, "srcStrides", ss);
  p.src_stride_b = ss[0], p.src_stride_h = ss[1], p.src_stride_s = ss[2];
}

}  // namespace sk
