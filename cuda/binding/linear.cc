// The linear op on CUDA and its helpers:
//   linear(x, w, meta | null, bias | null, out, args, compressed | null) → Promise<void>
//   linearPick(xBytes, wBytes, metaBytes | null, biasBytes | null, outBytes, args) → the plan (no device)
//   sp24Layout(values, meta, dtype, n, k, withDense) → the CUDA layout on the host (no device)
//   cusparseLtStatus() → whether cuSPARSELt is loaded, and why not (no device)
//   cusparseLtCompressedBytes(device, dtype, n, k), cusparseLtCompress(dense, compressed, dtype, n, k) → Promise
#include <cstring>
#include <string>

#include "../../csrc/addon/errors.h"
#include "../addon_cuda.h"
#include "../common.cuh"
#include "../cusparselt/loader.h"
#include "../cusparselt/matmul.h"
#include "args.h"
#include "device_buffer.h"
#include "linear_args.h"

namespace sk::cuda {
namespace {

bool absent(const Napi::Value& v) { return v.IsNull() || v.IsUndefined(); }

int64_t extent_arg(Napi::Env env, Napi::Value v, const char* name) {
  const double d = v.IsNumber() ? v.As<Napi::Number>().DoubleValue() : -1;
  if (!(d >= 0 && d <= 2147483647.0) || d != static_cast<double>(static_cast<int64_t>(d)))
    throw_error(env, SK_ERR_INVALID_ARGUMENT, std::string("Expected an integer between 0 and 2147483647 for ") + name);
  return static_cast<int64_t>(d);
}

sk_dtype half_dtype_arg(Napi::Env env, Napi::Value v) {
  const double d = v.IsNumber() ? v.As<Napi::Number>().DoubleValue() : -1;
  if (d != SK_F16 && d != SK_BF16) throw_error(env, SK_ERR_DTYPE, "Expected the dtype id of float16 or bfloat16");
  return static_cast<sk_dtype>(static_cast<int>(d));
}

Napi::Object plan_object(Napi::Env env, const LinearPlan& plan, const char* path) {
  Napi::Object r = Napi::Object::New(env);
  r.Set("kernel", plan.kernel->name);
  r.Set("path", path);
  Napi::Array grid = Napi::Array::New(env, 2);
  grid.Set(0u, static_cast<double>((plan.params.m + plan.kernel->block_m - 1) / plan.kernel->block_m));
  grid.Set(1u, static_cast<double>((plan.params.n + plan.kernel->block_n - 1) / plan.kernel->block_n));
  r.Set("grid", grid);
  r.Set("wBytes", static_cast<double>(plan.w_bytes));
  r.Set("metaBytes", static_cast<double>(plan.meta_bytes));
  if (plan.sparse) {
    r.Set("nPad", static_cast<double>(plan.layout.n_pad));
    r.Set("kPad", static_cast<double>(plan.layout.k_pad));
  }
  return r;
}

}  // namespace

Napi::Value CudaAddon::LinearPick(const Napi::CallbackInfo& info) try {
  Napi::Env env = info.Env();
  LinearPlan plan = plan_linear(env, info[5]);
  if (plan.sparse == absent(info[2]))
    throw_error(env, SK_ERR_INVALID_ARGUMENT, "Expected metadata exactly when args.sparse is true");
  if (plan.has_bias == absent(info[3]))
    throw_error(env, SK_ERR_INVALID_ARGUMENT, "Expected a bias exactly when args.biasType is not -1");
  check_holds(env, "x", plan.x_bytes, byte_count_arg(env, info[0], "xBytes"));
  check_holds(env, "w", plan.w_bytes, byte_count_arg(env, info[1], "wBytes"));
  if (plan.sparse) check_holds(env, "meta", plan.meta_bytes, byte_count_arg(env, info[2], "metaBytes"));
  if (!absent(info[3])) check_holds(env, "bias", plan.bias_bytes, byte_count_arg(env, info[3], "biasBytes"));
  check_holds(env, "out", plan.out_bytes, byte_count_arg(env, info[4], "outBytes"));
  // The pointers' alignment is unknown here: the answer assumes aligned buffers.
  std::string why = plan.sparse ? cusparselt::weight_unsupported(plan.dtype, plan.params.n, plan.params.k) : "n/a";
  if (why.empty()) why = cusparselt::call_unsupported(plan.params.m, nullptr, nullptr);
  return plan_object(env, plan, plan.sparse ? (why.empty() ? "cusparselt" : "mma.sp") : "mma.sync");
} catch (const std::bad_alloc&) {
  throw make_error(info.Env(), SK_ERR_OUT_OF_MEMORY, "out of host memory");
}

Napi::Value CudaAddon::Linear(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  LinearPlan plan = plan_linear(env, info[5]);
  linear::LinearParams& p = plan.params;
  if (plan.sparse == absent(info[2]))
    throw_error(env, SK_ERR_INVALID_ARGUMENT, "Expected metadata exactly when args.sparse is true");
  const bool with_bias = !absent(info[3]);
  if (with_bias != plan.has_bias)
    throw_error(env, SK_ERR_INVALID_ARGUMENT, "Expected a bias exactly when args.biasType is not -1");
  DeviceMemoryRef x = DeviceBuffer::FromArg(*this, info, 0, "x").memory();
  DeviceMemoryRef w = DeviceBuffer::FromArg(*this, info, 1, "w").memory();
  DeviceMemoryRef meta = plan.sparse ? DeviceBuffer::FromArg(*this, info, 2, "meta").memory() : nullptr;
  DeviceMemoryRef bias = with_bias ? DeviceBuffer::FromArg(*this, info, 3, "bias").memory() : nullptr;
  DeviceMemoryRef out = DeviceBuffer::FromArg(*this, info, 4, "out").memory();
  DeviceMemoryRef compressed =
      plan.sparse && !absent(info[6]) ? DeviceBuffer::FromArg(*this, info, 6, "compressed").memory() : nullptr;
  const int device = x->device();
  for (const DeviceMemoryRef& m : {w, meta, bias, out, compressed})
    if (m && m->device() != device)
      throw_error(env, SK_ERR_DEVICE,
                  "Expected x, w, bias and out on one device but found cuda:" + std::to_string(device) +
                      " and cuda:" + std::to_string(m->device()));
  for (const DeviceMemoryRef& m : {x, w, meta, bias, compressed})
    if (m && m == out) throw_error(env, SK_ERR_INVALID_ARGUMENT, "Expected out in a buffer of its own");
  check_holds(env, "x", plan.x_bytes, x->bytes());
  check_holds(env, "w", plan.w_bytes, w->bytes());
  if (meta) check_holds(env, "meta", plan.meta_bytes, meta->bytes());
  if (bias) check_holds(env, "bias", plan.bias_bytes, bias->bytes());
  check_holds(env, "out", plan.out_bytes, out->bytes());

  p.x = x->data();
  p.w = w->data();
  p.meta = meta ? static_cast<const uint32_t*>(meta->data()) : nullptr;
  p.bias = bias ? bias->data() : nullptr;
  p.out = out->data();
  auto aligned = [](const void* ptr) { return reinterpret_cast<uintptr_t>(ptr) % 16 == 0; };
  p.x_vec = p.x_vec && aligned(p.x);
  p.w_vec = p.w_vec && aligned(p.w);
  p.out_vec = p.out_vec && aligned(p.out);
  if (plan.sparse && !aligned(p.w)) throw_error(env, SK_ERR_INVALID_ARGUMENT, "Expected 16-byte aligned 2:4 values");
  if (plan.sparse && !aligned(p.meta))
    throw_error(env, SK_ERR_INVALID_ARGUMENT, "Expected 16-byte aligned 2:4 metadata");

  // cuSPARSELt when the weight was compressed by it and the call suits it.
  bool use_lt = false;
  if (compressed) {
    std::string why = cusparselt::weight_unsupported(plan.dtype, p.n, p.k);
    if (why.empty()) why = cusparselt::call_unsupported(p.m, p.x, p.out);
    use_lt = why.empty();
    if (!use_lt) cusparselt::note_fallback(why);
  }
  const LinearKernelInfo* kernel = plan.kernel;
  const sk_dtype dtype = plan.dtype;
  const void* lt_weight = compressed ? compressed->data() : nullptr;
  auto job = std::make_unique<JsJob>(env, [p, kernel, dtype, use_lt, lt_weight, device](cudaStream_t s) {
    if (use_lt) {
      try {
        cusparselt::matmul(device, dtype, p.m, p.n, p.k, lt_weight, p.x, p.out, s);
        add_bias(dtype, p.out, p.bias, p.bias_f32, p.m, p.n, s);
        return;
      } catch (const CudaFailure& e) {
        // A plan cuSPARSELt refuses (NOT_SUPPORTED, resources): our kernel computes the same product.
        cusparselt::note_fallback(e.what());
      }
    }
    linear_forward(*kernel, p, s);
  });
  for (const DeviceMemoryRef& m : {x, w, meta, bias, out, compressed})
    if (m) job->holds.push_back(m);
  return submit_settling(device, std::move(job));
}

// Host only: checks CPU-layout metadata and builds the CUDA layout.
Napi::Value CudaAddon::Sp24Layout(const Napi::CallbackInfo& info) try {
  Napi::Env env = info.Env();
  HostBytes values = host_bytes_arg(info, 0, "values");
  HostBytes meta = host_bytes_arg(info, 1, "meta");
  half_dtype_arg(env, info[2]);
  const int64_t n = extent_arg(env, info[3], "n"), k = extent_arg(env, info[4], "k");
  const bool with_dense = info[5].ToBoolean().Value();
  if (k % 4 != 0)
    throw_error(env, SK_ERR_SHAPE,
                "Expected K to be a multiple of 4 for a 2:4 weight but received " + std::to_string(k));
  const unsigned __int128 dense_bytes = static_cast<unsigned __int128>(n) * static_cast<unsigned __int128>(k) * 2;
  if (dense_bytes > static_cast<unsigned __int128>(1) << 40)
    throw_error(env, SK_ERR_SHAPE, "The 2:4 weight is too large for a host layout (over 1 TiB dense)");
  // The CPU layout: panels of 8 rows (sp24_meta.h), the last one padded.
  const size_t want_values = static_cast<size_t>(sp24_value_count(n, k)) * 2;
  const size_t want_meta = static_cast<size_t>(sp24_meta_bytes(n, k));
  if (values.length != want_values)
    throw_error(env, SK_ERR_SHAPE,
                "Expected 2:4 values of " + std::to_string(want_values) +
                    " bytes ([ceil(N/8), K/4, 2, 8]) but received " + std::to_string(values.length));
  if (meta.length != want_meta)
    throw_error(env, SK_ERR_SHAPE,
                "Expected 2:4 metadata of " + std::to_string(want_meta) + " bytes ([ceil(N/8), K/4, 4]) but received " +
                    std::to_string(meta.length));
  const auto* vals = static_cast<const uint16_t*>(values.data);
  const auto* nib = static_cast<const uint8_t*>(meta.data);
  int64_t bad_row = 0, bad_group = 0;
  if (sp24::find_bad_group(nib, n, k, &bad_row, &bad_group))
    throw_error(env, SK_ERR_INVALID_ARGUMENT,
                "Expected valid 2:4 metadata (codes 0x4, 0x8, 0x9, 0xC, 0xD, 0xE, padding rows included) but row " +
                    std::to_string(bad_row) + " group " + std::to_string(bad_group) + " is corrupted");
  if (reinterpret_cast<uintptr_t>(vals) % 2 != 0)
    throw_error(env, SK_ERR_INVALID_ARGUMENT, "Expected 2-byte aligned 2:4 values");
  const sp24::CudaLayoutDims d = sp24::cuda_layout_dims(n, k);
  Napi::Uint16Array out_values = Napi::Uint16Array::New(env, d.values);
  Napi::Uint32Array out_meta = Napi::Uint32Array::New(env, d.meta_words);
  sp24::to_cuda_layout(vals, nib, n, k, out_values.Data(), out_meta.Data());
  Napi::Object r = Napi::Object::New(env);
  r.Set("values", out_values);
  r.Set("meta", out_meta);
  r.Set("nPad", static_cast<double>(d.n_pad));
  r.Set("kPad", static_cast<double>(d.k_pad));
  if (with_dense) {
    Napi::Uint16Array dense = Napi::Uint16Array::New(env, static_cast<size_t>(n) * static_cast<size_t>(k));
    sp24::expand_dense(vals, nib, n, k, dense.Data());
    r.Set("dense", dense);
  }
  return r;
} catch (const std::bad_alloc&) {
  throw make_error(info.Env(), SK_ERR_OUT_OF_MEMORY, "out of host memory");
}

Napi::Value CudaAddon::CusparseLtStatus(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const cusparselt::LoadStatus& s = cusparselt::status();
  Napi::Object r = Napi::Object::New(env);
  r.Set("available", s.loaded);
  r.Set("version", s.version_text);
  r.Set("path", s.path);
  r.Set("reason", s.reason);
  r.Set("describe", cusparselt::describe());
  r.Set("plans", static_cast<double>(cusparselt::cached_plans()));
  r.Set("lastFallback", cusparselt::last_fallback());
  return r;
}

Napi::Value CudaAddon::CusparseLtCompressedBytes(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const int device = device_arg(info, 0);
  const sk_dtype dtype = half_dtype_arg(env, info[1]);
  const int64_t n = extent_arg(env, info[2], "n"), k = extent_arg(env, info[3], "k");
  const std::string why = cusparselt::weight_unsupported(dtype, n, k);
  if (!why.empty()) throw_error(env, SK_ERR_UNSUPPORTED, why);
  DeviceGuard guard(device);
  return Napi::Number::New(env, static_cast<double>(cusparselt::compressed_bytes(device, dtype, n, k)));
}

Napi::Value CudaAddon::CusparseLtCompress(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  DeviceMemoryRef dense = DeviceBuffer::FromArg(*this, info, 0, "dense").memory();
  DeviceMemoryRef compressed = DeviceBuffer::FromArg(*this, info, 1, "compressed").memory();
  const sk_dtype dtype = half_dtype_arg(env, info[2]);
  const int64_t n = extent_arg(env, info[3], "n"), k = extent_arg(env, info[4], "k");
  const std::string why = cusparselt::weight_unsupported(dtype, n, k);
  if (!why.empty()) throw_error(env, SK_ERR_UNSUPPORTED, why);
  const int device = dense->device();
  if (compressed->device() != device) throw_error(env, SK_ERR_DEVICE, "Expected dense and compressed on one device");
  if (dense == compressed) throw_error(env, SK_ERR_INVALID_ARGUMENT, "Expected compressed in a buffer of its own");
  check_holds(env, "dense", static_cast<size_t>(n) * static_cast<size_t>(k) * 2, dense->bytes());
  size_t need = 0;
  {
    DeviceGuard guard(device);
    need = cusparselt::compressed_bytes(device, dtype, n, k);
  }
  check_holds(env, "compressed", need, compressed->bytes());
  const void* src = dense->data();
  void* dst = compressed->data();
  auto job = std::make_unique<JsJob>(
      env, [device, dtype, n, k, src, dst](cudaStream_t s) { cusparselt::compress(device, dtype, n, k, src, dst, s); });
  job->holds.push_back(dense);
  job->holds.push_back(compressed);
  return submit_settling(device, std::move(job));
}

}  // namespace sk::cuda
