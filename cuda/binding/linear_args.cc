#include "linear_args.h"

#include <cmath>
#include <string>

#include "../../csrc/addon/errors.h"

namespace sk::cuda {
namespace {

constexpr double kMaxSafeInteger = 9007199254740991.0;  // 2^53 - 1
constexpr int64_t kMaxExtent = 2147483647;              // rows and features: int32
constexpr int64_t kMaxGridY = 65535;                    // N tiles go in grid y

std::string shown(const Napi::Value& v) {
  if (v.IsNumber()) return v.ToString().Utf8Value();
  if (v.IsUndefined()) return "undefined";
  if (v.IsNull()) return "null";
  return v.IsString() ? "a string" : "a non-number";
}

int64_t int_field(Napi::Env env, Napi::Object o, const char* key, int64_t lo, int64_t hi) {
  Napi::Value v = o.Get(key);
  const double d = v.IsNumber() ? v.As<Napi::Number>().DoubleValue() : NAN;
  if (!(d >= double(lo) && d <= double(hi)) || d != std::floor(d))
    throw_error(env, SK_ERR_INVALID_ARGUMENT,
                std::string("Expected an integer between ") + std::to_string(lo) + " and " + std::to_string(hi) +
                    " for args." + key + " but received " + shown(v));
  return static_cast<int64_t>(d);
}

size_t checked_bytes(Napi::Env env, const char* name, int64_t a, int64_t b, size_t elem) {
  const unsigned __int128 bytes = static_cast<unsigned __int128>(a) * static_cast<unsigned __int128>(b) * elem;
  if (bytes > static_cast<unsigned __int128>(kMaxSafeInteger))
    throw_error(env, SK_ERR_SHAPE, std::string("The shape of ") + name + " spans more than 2^53 bytes");
  return static_cast<size_t>(bytes);
}

}  // namespace

size_t byte_count_arg(Napi::Env env, Napi::Value v, const char* name) {
  const double d = v.IsNumber() ? v.As<Napi::Number>().DoubleValue() : -1;
  if (!(d >= 0 && d <= kMaxSafeInteger) || d != std::floor(d))
    throw_error(env, SK_ERR_INVALID_ARGUMENT, std::string("Expected a byte count for ") + name);
  return static_cast<size_t>(d);
}

void check_holds(Napi::Env env, const char* name, size_t needed, size_t has) {
  if (needed > has)
    throw_error(env, SK_ERR_SHAPE,
                std::string("Expected ") + name + " to hold at least " + std::to_string(needed) +
                    " bytes for its shape but it has " + std::to_string(has));
}

LinearPlan plan_linear(Napi::Env env, Napi::Value args) {
  if (!args.IsObject() || args.IsArray())
    throw_error(env, SK_ERR_INVALID_ARGUMENT, "Expected an object for args but received " + shown(args));
  Napi::Object a = args.As<Napi::Object>();
  LinearPlan plan;
  const int64_t dtype = int_field(env, a, "dtype", 0, SK_DTYPE_COUNT - 1);
  plan.dtype = static_cast<sk_dtype>(dtype);
  if (plan.dtype == SK_F32)
    throw_error(env, SK_ERR_UNSUPPORTED, "CUDA linear takes float16 or bfloat16; cast first (received float32)");
  if (plan.dtype != SK_F16 && plan.dtype != SK_BF16)
    throw_error(env, SK_ERR_DTYPE,
                std::string("Expected float16 or bfloat16 for args.dtype but received ") + sk_dtype_name(plan.dtype));
  linear::LinearParams& p = plan.params;
  p.m = int_field(env, a, "m", 0, kMaxExtent);
  p.n = int_field(env, a, "n", 0, kMaxExtent);
  p.k = int_field(env, a, "k", 0, kMaxExtent);
  Napi::Value sparse = a.Get("sparse");
  if (!sparse.IsBoolean())
    throw_error(env, SK_ERR_INVALID_ARGUMENT, "Expected a boolean for args.sparse but received " + shown(sparse));
  plan.sparse = sparse.As<Napi::Boolean>().Value();
  const int64_t bias_type = int_field(env, a, "biasType", -1, SK_DTYPE_COUNT - 1);
  if (bias_type >= 0 && bias_type != dtype && bias_type != SK_F32)
    throw_error(env, SK_ERR_DTYPE,
                std::string("Expected a bias of ") + sk_dtype_name(plan.dtype) + " or float32 but received " +
                    sk_dtype_name(static_cast<sk_dtype>(bias_type)));
  p.bias_f32 = bias_type == SK_F32;
  plan.has_bias = bias_type >= 0;

  plan.kernel = linear_pick(plan.dtype, plan.sparse, p.m);
  if (plan.kernel == nullptr) throw_error(env, SK_ERR_UNSUPPORTED, "No CUDA linear kernel for this dtype");
  if ((p.n + plan.kernel->block_n - 1) / plan.kernel->block_n > kMaxGridY)
    throw_error(env, SK_ERR_UNSUPPORTED,
                "CUDA linear supports up to " + std::to_string(kMaxGridY * plan.kernel->block_n) +
                    " output features; received " + std::to_string(p.n));

  const size_t elem = 2;
  plan.x_bytes = checked_bytes(env, "x", p.m, p.k, elem);
  plan.out_bytes = checked_bytes(env, "out", p.m, p.n, elem);
  plan.bias_bytes = bias_type < 0 ? 0 : checked_bytes(env, "bias", 1, p.n, bias_type == SK_F32 ? 4 : elem);
  if (plan.sparse) {
    if (p.k % 4 != 0)
      throw_error(env, SK_ERR_SHAPE,
                  "Expected K to be a multiple of 4 for a 2:4 weight but received " + std::to_string(p.k));
    checked_bytes(env, "w", p.n, p.k, elem);  // bounds the padded sizes below
    plan.layout = sp24::cuda_layout_dims(p.n, p.k);
    plan.w_bytes = plan.layout.values * elem;
    plan.meta_bytes = plan.layout.meta_words * 4;
    p.w_stride = plan.layout.k_pad / 2;
    p.k_pad = plan.layout.k_pad;
  } else {
    plan.w_bytes = checked_bytes(env, "w", p.n, p.k, elem);
    p.w_stride = p.k;
    p.k_pad = p.k;
  }
  // Alignment of the pointers is added at bind time.
  p.x_vec = p.k % 8 == 0;
  p.w_vec = p.k % 8 == 0;
  p.out_vec = p.n % 8 == 0;
  return plan;
}

}  // namespace sk::cuda
