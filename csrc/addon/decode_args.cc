#include "decode_args.h"

#include <math.h>

#include <string>

#include "args.h"
#include "errors.h"

namespace sk {
namespace {

constexpr int64_t kMaxDim = INT32_MAX;

Napi::Object args_object(Napi::Env env, const Napi::Value& v) {
  if (!v.IsObject()) throw_error(env, SK_ERR_INVALID_ARGUMENT, "Expected an args object");
  return v.As<Napi::Object>();
}

bool page_type_ok(int64_t t) { return t == SK_F32 || t == SK_F16 || t == SK_BF16 || t == SK_F8E4M3FN; }
bool float_type_ok(int64_t t) { return t == SK_F32 || t == SK_F16 || t == SK_BF16; }

// An Int32Array of exactly n elements, copied (JS cannot change it after the checks).
std::vector<int64_t> int32_copy(Napi::Env env, const Napi::Value& v, const char* name, int64_t n) {
  if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != napi_int32_array)
    throw_error(env, SK_ERR_INVALID_ARGUMENT, std::string("Expected an Int32Array for ") + name);
  Napi::Int32Array a = v.As<Napi::Int32Array>();
  if (a.ArrayBuffer().IsDetached() || static_cast<int64_t>(a.ElementLength()) != n)
    throw_error(env, SK_ERR_SHAPE, "Expected " + num(n) + " elements in " + name);
  return std::vector<int64_t>(a.Data(), a.Data() + n);
}

}  // namespace

KvConfig kv_create_args(Napi::Env env, const Napi::Value& args) {
  Napi::Object a = args_object(env, args);
  KvConfig c{};
  const int64_t t = args_int(env, a, "type", 0, SK_DTYPE_COUNT - 1, SK_ERR_DTYPE);
  if (!page_type_ok(t))
    throw_error(env, SK_ERR_DTYPE, "Expected float32, float16, bfloat16 or float8e4m3fn for args.type");
  c.type = static_cast<sk_dtype>(t);
  c.batch = args_int(env, a, "batch", 1, 1 << 16, SK_ERR_SHAPE);
  c.kv_heads = args_int(env, a, "kvHeads", 1, 1 << 12, SK_ERR_SHAPE);
  c.head_dim = args_int(env, a, "headDim", 16, kKvMaxHeadDim, SK_ERR_SHAPE);
  c.page_size = args_int(env, a, "pageSize", kKvMinPage, kKvMaxPage);
  if (c.head_dim % 16) throw_error(env, SK_ERR_SHAPE, "Expected a multiple of 16 for args.headDim");
  if (c.page_size % 16) throw_error(env, SK_ERR_INVALID_ARGUMENT, "Expected a multiple of 16 for args.pageSize");
  c.max_pages = args_int(env, a, "maxPages", 1, kMaxDim);
  return c;
}

KvAppendPlan kv_append_args(Napi::Env env, const KvPages& cache, const Napi::Value& count, const Napi::Value& args) {
  Napi::Object a = args_object(env, args);
  const KvConfig& c = cache.config();
  KvAppendPlan plan;
  sk_kv_append_params& p = plan.params;
  const int64_t t = args_int(env, a, "inType", 0, SK_DTYPE_COUNT - 1, SK_ERR_DTYPE);
  if (!float_type_ok(t)) throw_error(env, SK_ERR_DTYPE, "Expected float32, float16 or bfloat16 for args.inType");
  p.in_type = static_cast<sk_dtype>(t);
  p.batch = c.batch;
  p.seq = args_int(env, a, "seq", 0, kMaxDim, SK_ERR_SHAPE);
  int64_t ks[3], vs[3];
  args_strides(env, a, "kStrides", ks), args_strides(env, a, "vStrides", vs);
  p.k_stride_b = ks[0], p.k_stride_h = ks[1], p.k_stride_s = ks[2];
  p.v_stride_b = vs[0], p.v_stride_h = vs[1], p.v_stride_s = vs[2];
  plan.k_elems = strided_reach(env, c.batch, c.kv_heads, p.seq, c.head_dim, ks, "k");
  plan.v_elems = strided_reach(env, c.batch, c.kv_heads, p.seq, c.head_dim, vs, "v");
  p.cache = cache.view(nullptr, nullptr, 0);
  plan.count = int32_copy(env, count, "count", c.batch);
  for (int64_t b = 0; b < c.batch; ++b) {
    if (plan.count[b] < 0 || plan.count[b] > p.seq)
      throw_error(env, SK_ERR_INVALID_ARGUMENT,
                  "Expected counts between 0 and " + num(p.seq) + " in count but received " + num(plan.count[b]) +
                      " at " + num(b));
    if (cache.lengths()[b] + plan.count[b] > kMaxDim)
      throw_error(env, SK_ERR_OUT_OF_MEMORY, "Expected at most 2^31 - 1 tokens in sequence " + num(b));
  }
  return plan;
}

DecodePlan decode_args(Napi::Env env, const KvPages& cache, const Napi::Value& streaming, const Napi::Value& args) {
  Napi::Object a = args_object(env, args);
  const KvConfig& c = cache.config();
  DecodePlan plan;
  sk_decode_params& p = plan.params;
  const int64_t t = args_int(env, a, "qType", 0, SK_DTYPE_COUNT - 1, SK_ERR_DTYPE);
  if (!float_type_ok(t)) throw_error(env, SK_ERR_DTYPE, "Expected float32, float16 or bfloat16 for args.qType");
  p.q_type = static_cast<sk_dtype>(t);
  p.batch = c.batch;
  p.heads_q = args_int(env, a, "headsQ", 1, kMaxDim, SK_ERR_SHAPE);
  if (p.heads_q % c.kv_heads)
    throw_error(env, SK_ERR_SHAPE, "Expected args.headsQ to be a multiple of the cache's kvHeads");
  p.seq_q = args_int(env, a, "seqQ", 1, kDecodeMaxQueries, SK_ERR_SHAPE);
  for (int64_t b = 0; b < c.batch; ++b)
    if (cache.lengths()[b] < p.seq_q)
      throw_error(env, SK_ERR_SHAPE,
                  "Expected at least " + num(p.seq_q) + " tokens (the queries' own) in sequence " + num(b) +
                      " of the cache but it holds " + num(cache.lengths()[b]));
  int64_t qs[3], os[3];
  args_strides(env, a, "qStrides", qs), args_strides(env, a, "outStrides", os);
  p.q_stride_b = qs[0], p.q_stride_h = qs[1], p.q_stride_s = qs[2];
  p.out_stride_b = os[0], p.out_stride_h = os[1], p.out_stride_s = os[2];
  plan.q_elems = strided_reach(env, c.batch, p.heads_q, p.seq_q, c.head_dim, qs, "q");
  plan.out_elems = strided_reach(env, c.batch, p.heads_q, p.seq_q, c.head_dim, os, "out");
  plan.lse_elems = c.batch * p.heads_q * p.seq_q;
  Napi::Value sv = a.Get("scale");
  const double scale = sv.IsNumber() ? sv.As<Napi::Number>().DoubleValue() : NAN;
  if (!(scale > 0) || !isfinite(static_cast<float>(scale)))
    throw_error(env, SK_ERR_INVALID_ARGUMENT, "Expected a finite positive number for args.scale");
  p.scale = static_cast<float>(scale);
  p.method = static_cast<int32_t>(args_int(env, a, "method", SK_DECODE_DENSE, SK_DECODE_QUEST));
  if (p.method == SK_DECODE_QUEST) {
    p.budget = args_int(env, a, "budget", 1, kMaxDim);
    p.sink = args_int(env, a, "sink", 0, kMaxDim);
    p.recent = args_int(env, a, "recent", 0, kMaxDim);
    plan.reuse = args_int(env, a, "reuse", 1, kMaxDim);
  }
  if (!streaming.IsNull() && !streaming.IsUndefined()) {
    if (!streaming.IsTypedArray() || streaming.As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array)
      throw_error(env, SK_ERR_INVALID_ARGUMENT, "Expected a Uint8Array for streaming");
    Napi::Uint8Array s = streaming.As<Napi::Uint8Array>();
    if (s.ArrayBuffer().IsDetached() || static_cast<int64_t>(s.ElementLength()) != c.kv_heads)
      throw_error(env, SK_ERR_SHAPE, "Expected " + num(c.kv_heads) + " elements (one per KV head) in streaming");
    plan.streaming.assign(s.Data(), s.Data() + c.kv_heads);
    for (uint8_t& f : plan.streaming) f = f != 0;
    p.streaming_sink = args_int(env, a, "streamingSink", 0, kMaxDim);
    p.streaming_recent = args_int(env, a, "streamingRecent", 0, kMaxDim);
  }
  plan.quest = QuestKey{p.budget, p.sink, p.recent, plan.streaming};
  plan.sel_stride = std::max<int64_t>(cache.most_pages(), 1);
  p.sel_stride = plan.sel_stride;
  p.top_stride = p.budget;
  p.cache = cache.view(nullptr, nullptr, 0);
  return plan;
}

Napi::Object kv_stats_object(Napi::Env env, const KvPages& pages) {
  Napi::Array lengths = Napi::Array::New(env, pages.lengths().size());
  for (size_t b = 0; b < pages.lengths().size(); ++b) lengths.Set(b, static_cast<double>(pages.lengths()[b]));
  Napi::Object out = Napi::Object::New(env);
  out.Set("lengths", lengths);
  out.Set("pages", static_cast<double>(pages.pages_used()));
  out.Set("pooledPages", static_cast<double>(pages.pages_pooled()));
  out.Set("pooledBytes", static_cast<double>(pages.bytes_pooled()));
  out.Set("pageBytes", static_cast<double>(pages.page_bytes()));
  return out;
}

}  // namespace sk
