// Dynamic sparse prefill ops on the executor (lib/prefill/ validates first;
// what memory safety depends on is checked again here):
//   blockScores(q, k, out, args) → Promise<void>: sk_block_scores_params
//   gatherRows(src, idx, dst, args) → Promise<void>: sk_gather_rows_params
// Indices are copied before they are checked, so JS cannot change them
// between the check and the kernel.

#include <memory>
#include <string>
#include <vector>

#include "../cpu/prefill/prefill.h"
#include "addon.h"
#include "args.h"
#include "convert.h"
#include "errors.h"
#include "holds.h"

namespace sk {
namespace {

// A typed-array argument holding at least `elems` elements of elem_size bytes.
HostView array_arg(const Napi::CallbackInfo& info, size_t index, const char* name, int64_t elems, size_t elem_size) {
  Napi::Env env = info.Env();
  if (!info[index].IsTypedArray()) throw_error(env, SK_ERR_INVALID_ARGUMENT, std::string("Expected a TypedArray for ") + name);
  Napi::TypedArray a = info[index].As<Napi::TypedArray>();
  if (a.ElementSize() != elem_size)
    throw_error(env, SK_ERR_DTYPE, std::string("Expected ") + num(static_cast<int64_t>(elem_size)) + "-byte elements for " + name);
  if (!a.ArrayBuffer().IsDetached() && static_cast<int64_t>(a.ElementLength()) < elems)
    throw_error(env, SK_ERR_SHAPE, std::string("Expected at least ") + num(elems) + " elements in " + name +
                                       " but received " + num(static_cast<int64_t>(a.ElementLength())));
  return host_view_arg(info, index, name, checked_bytes(env, static_cast<size_t>(elems), elem_size, name));
}

}  // namespace

Napi::Value SparsekitAddon::BlockScores(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 4 || !info[3].IsObject()) throw_error(env, SK_ERR_INVALID_ARGUMENT, "Expected an args object");
  Napi::Object a = info[3].As<Napi::Object>();
  sk_block_scores_params p{};
  const int64_t dt = args_int(env, a, "dtype", 0, SK_DTYPE_COUNT - 1, SK_ERR_DTYPE);
  if (dt != SK_F32 && dt != SK_F16 && dt != SK_BF16)
    throw_error(env, SK_ERR_DTYPE, "Expected float32, float16 or bfloat16 for blockScores");
  p.dtype = static_cast<sk_dtype>(dt);
  int64_t qs[3], ks[3];
  block_scores_args(env, a, p, qs, ks);
  const size_t es = sk_dtype_size(p.dtype);
  HostView q = array_arg(info, 0, "q", strided_reach(env, p.batch, p.heads_q, p.seq, p.head_dim, qs, "q"), es);
  HostView k = array_arg(info, 1, "k", strided_reach(env, p.batch, p.heads_kv, p.seq, p.head_dim, ks, "k"), es);
  const int64_t nb = (p.seq + p.block - 1) / p.block;
  const int64_t per_head = p.method == SK_SCORE_KEY_IMPORTANCE ? p.seq : nb * nb;
  int64_t out_len;
  if (__builtin_mul_overflow(p.batch * p.heads_q, per_head, &out_len)) throw_error(env, SK_ERR_SHAPE, "Size overflows for out");
  if (!info[2].IsTypedArray() || info[2].As<Napi::TypedArray>().TypedArrayType() != napi_float32_array)
    throw_error(env, SK_ERR_DTYPE, "Expected a Float32Array for out");
  HostView out = array_arg(info, 2, "out", out_len, sizeof(float));
  p.q = q.data, p.k = k.data, p.out = static_cast<float*>(out.data);
  const sk_prefill_kernels kernels = sk_cpu_prefill_pick(p, isa_);
  if (!kernels.qk) throw_error(env, SK_ERR_UNSUPPORTED, "No block-score kernel for these arguments on this CPU");
  auto holds = std::make_shared<Holds>();
  holds->hold(q), holds->hold(k), holds->hold(out);
  return submit_op(*executor_, env, holds, [p, kernels](ThreadPool& pool) {
    if (p.batch == 0) return JobResult{};
    const sk_status st = sk_cpu_block_scores_run(p, kernels, pool);
    if (st != SK_OK) return JobResult{st, "out of memory for the block scores"};
    return JobResult{};
  });
}

Napi::Value SparsekitAddon::GatherRows(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 4 || !info[3].IsObject()) throw_error(env, SK_ERR_INVALID_ARGUMENT, "Expected an args object");
  Napi::Object a = info[3].As<Napi::Object>();
  sk_gather_rows_params p{};
  int64_t ss[3];
  gather_rows_args(env, a, p, ss);
  int64_t n;
  if (__builtin_mul_overflow(p.batch * p.heads, p.seq, &n)) throw_error(env, SK_ERR_SHAPE, "Size overflows for idx");
  if (!info[1].IsTypedArray() || info[1].As<Napi::TypedArray>().TypedArrayType() != napi_int32_array)
    throw_error(env, SK_ERR_INVALID_ARGUMENT, "Expected an Int32Array for idx");
  Napi::Int32Array ia = info[1].As<Napi::Int32Array>();
  if (ia.ArrayBuffer().IsDetached() || static_cast<int64_t>(ia.ElementLength()) != n)
    throw_error(env, SK_ERR_SHAPE, "Expected " + num(n) + " elements (batch × heads × seq) in idx");
  auto idx = std::make_shared<std::vector<int32_t>>(ia.Data(), ia.Data() + n);
  for (int64_t i = 0; i < n; ++i)
    if ((*idx)[i] < 0 || (*idx)[i] >= p.seq)
      throw_error(env, SK_ERR_INVALID_ARGUMENT, "Expected indices in [0, " + num(p.seq) + ") in idx but received " +
                                                    num((*idx)[i]) + " at " + num(i));
  int64_t dst_len;
  if (__builtin_mul_overflow(n, p.row, &dst_len)) throw_error(env, SK_ERR_SHAPE, "Size overflows for dst");
  HostView src = array_arg(info, 0, "src", strided_reach(env, p.batch, p.heads, p.seq, p.row, ss, "src"), p.elem_size);
  HostView dst = array_arg(info, 2, "dst", dst_len, p.elem_size);
  p.src = src.data, p.dst = dst.data, p.idx = idx->data();
  auto holds = std::make_shared<Holds>();
  holds->hold(src), holds->hold(dst);
  return submit_op(*executor_, env, holds, [p, idx](ThreadPool& pool) {
    sk_cpu_gather_rows_run(p, pool);
    return JobResult{};
  });
}

}  // namespace sk
