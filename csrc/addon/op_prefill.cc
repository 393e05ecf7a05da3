// Dynamic sparse prefill ops on the executor (lib/prefill/ validates first;
// what memory safety depends on is checked again here):
//   blockScores(q, k, out, args) → Promise<void>: sk_block_scores_params
//   gatherRows(src, idx, dst, args) → Promise<void>: sk_gather_rows_params
//   selectBlocks(scores, sinkBlock, bits, args) → Promise<void>: sk_select_params
//   segmentOrder(importance, indices, args) → Promise<void>: sk_segment_order_params
//   vslashPlan(scores, indices, bits, coverage, args) → Promise<void>: sk_vslash_plan_params
// Indices are copied before they are checked, so JS cannot change them
// between the check and the kernel.

#include <memory>
#include <string>
#include <vector>

#include "../core/index_checks.h"
#include "../cpu/prefill/prefill.h"
#include "addon.h"
#include "args.h"
#include "convert.h"
#include "errors.h"
#include "holds.h"

namespace sk {
namespace {

// An Int32Array argument of exactly `count` elements (`what` names them),
// copied, then each checked in [0, limit): JS cannot change them between the
// check and the kernel.
std::shared_ptr<std::vector<int32_t>> index_arg(const Napi::CallbackInfo& info, size_t index, const char* name,
                                                int64_t count, const char* what, int64_t limit) {
  Napi::Env env = info.Env();
  if (!info[index].IsTypedArray() || info[index].As<Napi::TypedArray>().TypedArrayType() != napi_int32_array)
    throw_error(env, SK_ERR_INVALID_ARGUMENT, std::string("Expected an Int32Array for ") + name);
  Napi::Int32Array ia = info[index].As<Napi::Int32Array>();
  if (ia.ArrayBuffer().IsDetached() || static_cast<int64_t>(ia.ElementLength()) != count)
    throw_error(env, SK_ERR_SHAPE, "Expected " + num(count) + " elements (" + what + ") in " + name);
  auto v = std::make_shared<std::vector<int32_t>>(ia.Data(), ia.Data() + count);
  const int64_t i = first_index_outside(v->data(), count, limit);
  if (i >= 0)
    throw_error(
        env, SK_ERR_INVALID_ARGUMENT,
        "Expected indices in [0, " + num(limit) + ") in " + name + " but received " + num((*v)[i]) + " at " + num(i));
  return v;
}

// A selection's threshold: a number in (0, 1].
double threshold_arg(Napi::Env env, const Napi::Object& a) {
  Napi::Value t = a.Get("threshold");
  const double v = t.IsNumber() ? t.As<Napi::Number>().DoubleValue() : NAN;
  if (!(v > 0 && v <= 1)) throw_error(env, SK_ERR_INVALID_ARGUMENT, "Expected a number in (0, 1] for args.threshold");
  return v;
}

// The sizes of an op over [batch][heads][seq] rows: batch, headsQ, headsKv
// (dividing headsQ) and seq (at least min_seq).
struct HeadSizes {
  int64_t batch, heads_q, heads_kv, seq;
};

HeadSizes head_sizes(Napi::Env env, const Napi::Object& a, int64_t min_seq) {
  const int64_t kMax = INT32_MAX;
  HeadSizes h{};
  h.batch = args_int(env, a, "batch", 0, kMax, SK_ERR_SHAPE);
  h.heads_q = args_int(env, a, "headsQ", 1, kMax, SK_ERR_SHAPE);
  h.heads_kv = args_int(env, a, "headsKv", 1, h.heads_q, SK_ERR_SHAPE);
  h.seq = args_int(env, a, "seq", min_seq, kMax, SK_ERR_SHAPE);
  if (h.heads_q % h.heads_kv) throw_error(env, SK_ERR_SHAPE, "Expected headsQ to be a multiple of headsKv");
  return h;
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
  const int64_t per_head = p.method == SK_SCORE_KEY_IMPORTANCE   ? p.seq
                           : p.method == SK_SCORE_VERTICAL_SLASH ? 2 * p.seq
                                                                 : nb * nb;
  int64_t out_len;
  if (__builtin_mul_overflow(p.batch * p.heads_q, per_head, &out_len))
    throw_error(env, SK_ERR_SHAPE, "Size overflows for out");
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
  auto idx = index_arg(info, 1, "idx", n, "batch × heads × seq", p.seq);
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

Napi::Value SparsekitAddon::SelectBlocks(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 4 || !info[3].IsObject()) throw_error(env, SK_ERR_INVALID_ARGUMENT, "Expected an args object");
  Napi::Object a = info[3].As<Napi::Object>();
  sk_select_params p{};
  const int64_t kMax = INT32_MAX;
  p.rule = static_cast<int32_t>(args_int(env, a, "rule", SK_SELECT_THRESHOLD, SK_SELECT_PERMUTED));
  p.rows = args_int(env, a, "rows", 0, kMax, SK_ERR_SHAPE);
  p.nb = args_int(env, a, "nb", 1, kMax, SK_ERR_SHAPE);
  int64_t n;
  if (__builtin_mul_overflow(p.rows, p.nb, &n)) throw_error(env, SK_ERR_SHAPE, "Size overflows for scores");
  if (p.rule == SK_SELECT_TOPK) {
    p.budget = args_int(env, a, "budget", 1, kMax);
  } else {
    p.threshold = threshold_arg(env, a);
  }
  std::shared_ptr<std::vector<int32_t>> sink;
  if (p.rule == SK_SELECT_PERMUTED) {
    p.segment_blocks = args_int(env, a, "segmentBlocks", 1, kMax);
    p.heads_q = args_int(env, a, "headsQ", 1, kMax, SK_ERR_SHAPE);
    p.group = args_int(env, a, "group", 1, p.heads_q, SK_ERR_SHAPE);
    if (p.heads_q % p.group || p.rows % p.nb || p.rows / p.nb % p.heads_q)
      throw_error(env, SK_ERR_SHAPE, "Expected rows = batch · headsQ · nb and headsQ a multiple of group");
    const int64_t kv_rows = p.rows / p.nb / p.heads_q * (p.heads_q / p.group);
    sink = index_arg(info, 1, "sinkBlock", kv_rows, "batch × key heads", p.nb);
    p.sink_block = sink->data();
  } else {
    Napi::Value c = a.Get("causal");
    if (!c.IsBoolean()) throw_error(env, SK_ERR_INVALID_ARGUMENT, "Expected a boolean for args.causal");
    p.causal = c.As<Napi::Boolean>().Value();
  }
  HostView scores = typed_arg(info, 0, "scores", napi_float32_array, "Float32Array", n, sizeof(float));
  HostView bits = typed_arg(info, 2, "bits", napi_uint8_array, "Uint8Array", n, 1);
  p.scores = static_cast<const float*>(scores.data), p.bits = static_cast<uint8_t*>(bits.data);
  auto holds = std::make_shared<Holds>();
  holds->hold(scores), holds->hold(bits);
  return submit_op(*executor_, env, holds, [p, sink](ThreadPool& pool) {
    sk_cpu_select_run(p, pool);
    return JobResult{};
  });
}

Napi::Value SparsekitAddon::SegmentOrder(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 3 || !info[2].IsObject()) throw_error(env, SK_ERR_INVALID_ARGUMENT, "Expected an args object");
  Napi::Object a = info[2].As<Napi::Object>();
  sk_segment_order_params p{};
  const HeadSizes h = head_sizes(env, a, 0);
  p.batch = h.batch, p.heads_q = h.heads_q, p.heads_kv = h.heads_kv, p.seq = h.seq;
  p.segment = args_int(env, a, "segment", 1, INT32_MAX);
  p.key_count = args_int(env, a, "keyCount", 0, p.seq);
  if (p.key_count % p.segment)
    throw_error(env, SK_ERR_INVALID_ARGUMENT, "Expected args.keyCount to be a multiple of args.segment");
  int64_t n_imp, n_idx;
  if (__builtin_mul_overflow(p.batch * p.heads_q, p.seq, &n_imp) ||
      __builtin_mul_overflow(p.batch * p.heads_kv, p.seq, &n_idx))
    throw_error(env, SK_ERR_SHAPE, "Size overflows for importance");
  HostView imp = typed_arg(info, 0, "importance", napi_float32_array, "Float32Array", n_imp, sizeof(float));
  HostView idx = typed_arg(info, 1, "indices", napi_int32_array, "Int32Array", n_idx, sizeof(int32_t));
  p.importance = static_cast<const float*>(imp.data), p.indices = static_cast<int32_t*>(idx.data);
  auto holds = std::make_shared<Holds>();
  holds->hold(imp), holds->hold(idx);
  return submit_op(*executor_, env, holds, [p](ThreadPool& pool) {
    sk_cpu_segment_order_run(p, pool);
    return JobResult{};
  });
}

Napi::Value SparsekitAddon::VslashPlan(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 5 || !info[4].IsObject()) throw_error(env, SK_ERR_INVALID_ARGUMENT, "Expected an args object");
  Napi::Object a = info[4].As<Napi::Object>();
  sk_vslash_plan_params p{};
  const HeadSizes h = head_sizes(env, a, 1);
  p.batch = h.batch, p.heads_q = h.heads_q, p.heads_kv = h.heads_kv, p.seq = h.seq;
  p.block = static_cast<int32_t>(args_int(env, a, "block", 16, 256));
  p.queries = static_cast<int32_t>(args_int(env, a, "queries", 1, 256));
  p.budget = args_int(env, a, "budget", 1, INT32_MAX);
  p.threshold = threshold_arg(env, a);
  const int64_t nb = (p.seq + p.block - 1) / p.block;
  int64_t n_scores, n_idx, n_bits;
  if (__builtin_mul_overflow(p.batch * p.heads_q, 2 * p.seq, &n_scores) ||
      __builtin_mul_overflow(p.batch * p.heads_kv, p.seq, &n_idx) ||
      __builtin_mul_overflow(p.batch * p.heads_q, nb * nb, &n_bits))
    throw_error(env, SK_ERR_SHAPE, "Size overflows for the plan");
  HostView scores = typed_arg(info, 0, "scores", napi_float32_array, "Float32Array", n_scores, sizeof(float));
  HostView idx = typed_arg(info, 1, "indices", napi_int32_array, "Int32Array", n_idx, sizeof(int32_t));
  HostView bits = typed_arg(info, 2, "bits", napi_uint8_array, "Uint8Array", n_bits, 1);
  HostView cov = typed_arg(info, 3, "coverage", napi_float32_array, "Float32Array", p.batch * p.heads_q, sizeof(float));
  p.scores = static_cast<const float*>(scores.data), p.indices = static_cast<int32_t*>(idx.data);
  p.bits = static_cast<uint8_t*>(bits.data), p.coverage = static_cast<float*>(cov.data);
  auto holds = std::make_shared<Holds>();
  holds->hold(scores), holds->hold(idx), holds->hold(bits), holds->hold(cov);
  return submit_op(*executor_, env, holds, [p](ThreadPool& pool) {
    sk_cpu_vslash_plan_run(p, pool);
    return JobResult{};
  });
}

}  // namespace sk
