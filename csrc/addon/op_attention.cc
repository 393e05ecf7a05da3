// attention(q, k, v, out, lse | null, args, mask | null) → Promise<void>:
// block-sparse FlashAttention forward on the executor, and
// attentionPick(args, mask | null, bytes?) → { kernel, scratchBytes }: what
// the call would run, or the backend's coded refusal. The arguments are
// parsed by attention_args.cc (shared with the CUDA binding); here are the
// CPU's own checks: each array's kind and length.
#include <memory>
#include <string>

#include "../core/host_alloc.h"
#include "../cpu/dispatch.h"
#include "addon.h"
#include "args.h"
#include "attention_args.h"
#include "convert.h"
#include "errors.h"
#include "holds.h"

namespace sk {
namespace {

// One of q, k, v, out, lse: the dtype's array kind (Float32Array for float32,
// Uint16Array for the 16-bit types, Uint8Array for FP8), holding at least
// `elems` elements.
HostView array_arg(const Napi::CallbackInfo& info, size_t index, const char* name, sk_dtype dtype, int64_t elems) {
  Napi::Env env = info.Env();
  const bool f32 = dtype == SK_F32, fp8 = sk_dtype_is_fp8(dtype);
  const char* kind = f32 ? "a Float32Array" : fp8 ? "a Uint8Array" : "a Uint16Array";
  const napi_typedarray_type want = f32 ? napi_float32_array : fp8 ? napi_uint8_array : napi_uint16_array;
  Napi::Value v = info[index];
  if (!v.IsTypedArray()) expected(env, SK_ERR_INVALID_ARGUMENT, kind, name, received(v));
  Napi::TypedArray a = v.As<Napi::TypedArray>();
  if (a.TypedArrayType() != want) expected(env, SK_ERR_DTYPE, kind, name, "another TypedArray kind");
  if (!a.ArrayBuffer().IsDetached() && static_cast<int64_t>(a.ElementLength()) < elems)  // detached: DISPOSED below
    expected(env, SK_ERR_SHAPE, "at least " + num(elems) + " elements for its shape and strides", name,
             num(static_cast<int64_t>(a.ElementLength())));
  return host_view_arg(info, index, name, checked_bytes(env, static_cast<size_t>(elems), sk_dtype_size(dtype), name));
}

}  // namespace

Napi::Value SparsekitAddon::AttentionPick(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const bool with_lse = info[2].IsObject() && !info[2].As<Napi::Object>().Get("lse").IsNull();
  AttentionCall call = parse_attention(env, info[0], info[1], with_lse);
  const sk_pick<sk_attention_kernel> pick = sk_cpu_attention_pick(call.params, isa_);
  if (!pick.ok()) throw_error(env, pick.status, pick.reason);
  check_pick_bytes(env, call, info[2]);
  Napi::Object r = Napi::Object::New(env);
  r.Set("kernel", pick.name);
  r.Set("scratchBytes", static_cast<double>(pick.scratch_bytes));
  r.Set("qTile", pick.kernel.tiling.q_tile);
  r.Set("kvTile", pick.kernel.tiling.kv_tile);
  return r;
}

Napi::Value SparsekitAddon::Attention(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const bool with_lse = !info[4].IsNull() && !info[4].IsUndefined();
  AttentionCall call = parse_attention(env, info[5], info[6], with_lse);
  sk_attention_params p = call.params;
  const sk_pick<sk_attention_kernel> pick = sk_cpu_attention_pick(p, isa_);
  if (!pick.ok()) throw_error(env, pick.status, pick.reason);

  HostView q = array_arg(info, 0, "q", p.dtype, call.q_elems);
  HostView k = array_arg(info, 1, "k", p.dtype, call.k_elems);
  HostView v = array_arg(info, 2, "v", p.dtype, call.v_elems);
  HostView out = array_arg(info, 3, "out", sk_dtype_is_fp8(p.dtype) ? SK_F32 : p.dtype, call.out_elems);
  p.q = q.data, p.k = k.data, p.v = v.data, p.out = out.data;
  auto holds = std::make_shared<Holds>();
  holds->hold(q), holds->hold(k), holds->hold(v), holds->hold(out);
  if (with_lse) {
    HostView lse = array_arg(info, 4, "lse", SK_F32, call.lse_elems);
    p.lse = static_cast<float*>(lse.data);
    holds->hold(lse);
  }
  std::shared_ptr<MaskBlob> mask = call.mask;
  if (mask) p.mask = &mask->bind(mask->bytes.data());  // the kernels read the packed copy in place
  std::shared_ptr<Fp8Scales> fp8 = call.fp8;           // p.fp8 points into it

  return submit_op(*executor_, env, holds, [p, pick, mask, fp8](ThreadPool& pool) {
    const sk_status st = sk_cpu_attention_run(p, pick, pool);
    if (st != SK_OK) return JobResult{st, "out of memory for the attention scratch"};
    return JobResult{};
  });
}

}  // namespace sk
