// linear(x, w, meta, bias, out, args) → Promise<void>: out = x·wᵀ + bias on
// the executor, w dense [n, k] or 2:4 in panels of 8 rows: values
// [ceil(n/8), k/4, 2, 8] + code words [ceil(n/8), k/4] (csrc/core/sp24_meta.h).
// sp24(op, args, denseIn, denseOut, values, meta) → Promise<void>: prune,
// compress (checks the pattern) or decompress (checks the codes).
// lib/ops/{linear,prune,sparsify}.ts validate first; everything memory safety
// depends on is checked again here: array kinds and exact lengths for the
// sizes given. Codes are checked on the executor, before any kernel reads them.
#include <math.h>

#include <memory>
#include <string>

#include "../core/sp24_meta.h"
#include "../cpu/dispatch.h"
#include "../cpu/sp24/sp24_ops.h"
#include "addon.h"
#include "convert.h"
#include "errors.h"
#include "holds.h"

namespace sk {
namespace {

constexpr int64_t kMaxDim = INT32_MAX;

std::string num(int64_t v) { return std::to_string(v); }

int64_t int_field(Napi::Env env, const Napi::Object& o, const char* key, int64_t lo, int64_t hi, sk_status code) {
  Napi::Value v = o.Get(key);
  const double d = v.IsNumber() ? v.As<Napi::Number>().DoubleValue() : NAN;
  if (!(d >= static_cast<double>(lo) && d <= static_cast<double>(hi)) || d != floor(d))
    throw_error(env, code, "Expected an integer between " + num(lo) + " and " + num(hi) + " for args." + key);
  return static_cast<int64_t>(d);
}

sk_dtype weight_type(Napi::Env env, const Napi::Object& args, const char* key) {
  const int64_t t = int_field(env, args, key, 0, SK_DTYPE_COUNT - 1, SK_ERR_DTYPE);
  if (t != SK_F32 && t != SK_F16 && t != SK_BF16)
    throw_error(env, SK_ERR_DTYPE,
                std::string("Expected float32, float16 or bfloat16 weights but received ") +
                    sk_dtype_name(static_cast<sk_dtype>(t)));
  return static_cast<sk_dtype>(t);
}

int64_t checked_mul(Napi::Env env, int64_t a, int64_t b) {
  int64_t r;
  if (__builtin_mul_overflow(a, b, &r)) throw_error(env, SK_ERR_SHAPE, "Size overflows");
  return r;
}

// A TypedArray of the kind `type` is stored in, of exactly `count` elements (detached: a disposed tensor).
HostView array_arg(const Napi::CallbackInfo& info, size_t index, const char* name, sk_dtype type, int64_t count) {
  Napi::Env env = info.Env();
  if (index >= info.Length() || !info[index].IsTypedArray())
    throw_error(env, SK_ERR_INVALID_ARGUMENT, std::string("Expected a TypedArray for ") + name);
  Napi::TypedArray a = info[index].As<Napi::TypedArray>();
  const napi_typedarray_type want = type == SK_F32  ? napi_float32_array
                                    : type == SK_U8 ? napi_uint8_array
                                                    : napi_uint16_array;
  if (a.TypedArrayType() != want)
    throw_error(env, SK_ERR_DTYPE, std::string("Expected the array kind of ") + sk_dtype_name(type) + " for " + name);
  if (!a.ArrayBuffer().IsDetached() && static_cast<int64_t>(a.ElementLength()) != count)
    throw_error(env, SK_ERR_SHAPE,
                "Expected " + num(count) + " elements in " + name + " but received " +
                    num(static_cast<int64_t>(a.ElementLength())));
  return host_view_arg(info, index, name, checked_bytes(env, static_cast<size_t>(count), sk_dtype_size(type), name));
}

bool present(const Napi::CallbackInfo& info, size_t i) {
  return i < info.Length() && !info[i].IsNull() && !info[i].IsUndefined();
}

std::string bad_code_message(int64_t row, int64_t group) {
  return "Expected valid 2:4 metadata (codes 0x4, 0x8, 0x9, 0xC, 0xD, 0xE, padding rows included) but row " + num(row) +
         ", group " + num(group) + " has an invalid code: the SparseWeight is corrupted";
}

}  // namespace

Napi::Value SparsekitAddon::Linear(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 6 || !info[5].IsObject()) throw_error(env, SK_ERR_INVALID_ARGUMENT, "Expected an args object");
  Napi::Object args = info[5].As<Napi::Object>();
  sk_linear_params p{};
  p.w_type = weight_type(env, args, "wType");
  p.format = static_cast<int32_t>(int_field(env, args, "format", SK_WEIGHT_DENSE, SK_WEIGHT_SP24, SK_ERR_UNSUPPORTED));
  p.m = int_field(env, args, "m", 0, kMaxDim, SK_ERR_SHAPE);
  p.n = int_field(env, args, "n", 0, kMaxDim, SK_ERR_SHAPE);
  p.k = int_field(env, args, "k", 0, kMaxDim, SK_ERR_SHAPE);
  const bool sp24 = p.format == SK_WEIGHT_SP24;
  if (sp24 && p.k % 4 != 0)
    throw_error(env, SK_ERR_SHAPE, "Expected k to be a multiple of 4 for 2:4 weights but received " + num(p.k));
  HostView x = array_arg(info, 0, "x", SK_F32, checked_mul(env, p.m, p.k));
  // 2:4: values [panels, k/4, 2, 8] and codes [panels, k/4] words, padded rows included (csrc/core/sp24_meta.h)
  const int64_t panels = sk::sp24_panels(p.n);
  HostView w = array_arg(info, 1, "w", p.w_type,
                         sp24 ? checked_mul(env, panels * sk::kSp24PanelRows, p.k / 2) : checked_mul(env, p.n, p.k));
  HostView out = array_arg(info, 4, "out", SK_F32, checked_mul(env, p.m, p.n));
  auto holds = std::make_shared<Holds>();
  holds->hold(x), holds->hold(w), holds->hold(out);
  p.x = static_cast<const float*>(x.data), p.w = w.data, p.out = static_cast<float*>(out.data);
  if (sp24) {
    if (!present(info, 2)) throw_error(env, SK_ERR_INVALID_ARGUMENT, "Expected a Uint8Array for meta");
    HostView meta = array_arg(info, 2, "meta", SK_U8, checked_mul(env, panels, p.k));
    holds->hold(meta);
    p.meta = static_cast<const uint8_t*>(meta.data);
  }
  if (present(info, 3)) {
    HostView bias = array_arg(info, 3, "bias", SK_F32, p.n);
    holds->hold(bias);
    p.bias = static_cast<const float*>(bias.data);
  }
  if (sp24) {
    const sk_linear_sp24_kernel kernel = sk_cpu_linear_sp24_pick(p, isa_);
    if (!kernel.fn) throw_error(env, SK_ERR_UNSUPPORTED, "No 2:4 linear kernel for these arguments on this CPU");
    return submit_op(*executor_, env, holds, [p, kernel](ThreadPool& pool) {
      int64_t row = -1, group = -1;
      const sk_status st = sk_cpu_linear_sp24_run(p, kernel, pool, &row, &group);
      if (st == SK_ERR_INVALID_ARGUMENT) return JobResult{st, bad_code_message(row, group)};
      if (st != SK_OK) return JobResult{st, "out of memory for the 2:4 linear scratch"};
      return JobResult{};
    });
  }
  const sk_linear_kernel kernel = sk_cpu_linear_pick(p, isa_);
  if (!kernel.gemm) throw_error(env, SK_ERR_UNSUPPORTED, "No linear kernel for these arguments on this CPU");
  return submit_op(*executor_, env, holds, [p, kernel](ThreadPool& pool) {
    const sk_status st = sk_cpu_linear_run(p, kernel, pool);
    if (st != SK_OK) return JobResult{st, "out of memory for the linear packing scratch"};
    return JobResult{};
  });
}

Napi::Value SparsekitAddon::Sp24(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 2 || !info[0].IsNumber() || !info[1].IsObject())
    throw_error(env, SK_ERR_INVALID_ARGUMENT, "Expected an op number and an args object");
  Napi::Object args = info[1].As<Napi::Object>();
  sk_sp24_params p{};
  p.op = info[0].As<Napi::Number>().Int32Value();
  if (p.op != SK_SP24_PRUNE && p.op != SK_SP24_COMPRESS && p.op != SK_SP24_DECOMPRESS)
    throw_error(env, SK_ERR_INVALID_ARGUMENT, "Expected 0 (prune), 1 (compress) or 2 (decompress) for op");
  p.dtype = weight_type(env, args, "dtype");
  p.rows = int_field(env, args, "rows", 0, kMaxDim, SK_ERR_SHAPE);
  p.k = int_field(env, args, "k", 0, kMaxDim, SK_ERR_SHAPE);
  const int64_t dense = checked_mul(env, p.rows, p.k);
  auto holds = std::make_shared<Holds>();
  if (p.op == SK_SP24_PRUNE) {
    p.group = static_cast<int32_t>(int_field(env, args, "m", 1, 64, SK_ERR_INVALID_ARGUMENT));
    p.n_keep = static_cast<int32_t>(int_field(env, args, "n", 1, p.group, SK_ERR_INVALID_ARGUMENT));
    if (p.k % p.group != 0)
      throw_error(env, SK_ERR_SHAPE, "Expected k (" + num(p.k) + ") to be a multiple of m (" + num(p.group) + ")");
  } else if (p.k % 4 != 0) {
    throw_error(env, SK_ERR_SHAPE, "Expected k to be a multiple of 4 for 2:4 weights but received " + num(p.k));
  }
  const int64_t panels =
      sk::sp24_panels(p.rows);  // the CPU layout's sizes, padded rows included (csrc/core/sp24_meta.h)
  const int64_t half = checked_mul(env, panels * sk::kSp24PanelRows, p.k / 2), mbytes = checked_mul(env, panels, p.k);
  if (p.op != SK_SP24_DECOMPRESS) {
    HostView in = array_arg(info, 2, "denseIn", p.dtype, dense);
    holds->hold(in);
    p.dense_in = in.data;
  }
  if (p.op != SK_SP24_COMPRESS) {
    HostView out = array_arg(info, 3, "denseOut", p.dtype, dense);
    holds->hold(out);
    p.dense_out = out.data;
  }
  if (p.op != SK_SP24_PRUNE) {
    HostView values = array_arg(info, 4, "values", p.dtype, half);
    HostView meta = array_arg(info, 5, "meta", SK_U8, mbytes);
    holds->hold(values), holds->hold(meta);
    p.values = values.data;
    p.meta = static_cast<uint8_t*>(meta.data);
  }
  return submit_op(*executor_, env, holds, [p0 = p](ThreadPool& pool) {
    sk_sp24_params p = p0;  // the run writes the first bad (row, group) back
    const sk_status st = sk_cpu_sp24_run(p, pool);
    if (st == SK_OK) return JobResult{};
    if (st == SK_ERR_INVALID_ARGUMENT && p.op == SK_SP24_COMPRESS)
      return JobResult{st, "Expected at most 2 non-zeros in every group of 4 along K (2:4) but row " + num(p.bad_row) +
                               ", group " + num(p.bad_group) + " (columns " + num(4 * p.bad_group) + ".." +
                               num(4 * p.bad_group + 3) + ") has more; prune first: await sk.prune(w, { n: 2, m: 4 })"};
    if (st == SK_ERR_INVALID_ARGUMENT) return JobResult{st, bad_code_message(p.bad_row, p.bad_group)};
    if (st == SK_ERR_OUT_OF_MEMORY) return JobResult{st, "out of memory for the 2:4 op"};
    return JobResult{st, "2:4 op outside what the CPU kernels take"};
  });
}

}  // namespace sk
