// attention(q, k, v, out, lse, args, mask) → Promise<void>: block-sparse
// FlashAttention forward on the executor. lib/ops/attention.ts validates
// first; everything memory safety depends on is checked again here: dtypes
// and array kinds, that every stride × extent stays inside its buffer, the
// lse length, and the mask's lengths and indices. The mask's arrays are
// copied, so JS cannot change them between these checks and the kernel.
#include <math.h>
#include <stdio.h>

#include <memory>
#include <string>
#include <vector>

#include "../core/heuristics.h"
#include "../core/host_alloc.h"
#include "../core/index_checks.h"
#include "../cpu/dispatch.h"
#include "addon.h"
#include "convert.h"
#include "errors.h"
#include "holds.h"

namespace sk {
namespace {

constexpr double kMaxSafeInteger = 9007199254740991.0;  // 2^53 - 1

// The mask as the kernel reads it, owning copies of every array.
struct MaskCopy {
  sk_block_mask mask{};
  std::vector<int32_t> full_num, full_idx, partial_num, partial_idx;
  std::vector<std::unique_ptr<std::vector<int32_t>>> segs;
};

std::string num(int64_t v) { return std::to_string(v); }

std::string received(const Napi::Value& v) {
  if (!v.IsNumber()) return v.IsUndefined() ? "nothing" : "a non-number";
  char buf[32];
  snprintf(buf, sizeof buf, "%.17g", v.As<Napi::Number>().DoubleValue());
  return buf;
}

int64_t int_field(Napi::Env env, const Napi::Object& o, const char* key, const std::string& where, int64_t lo,
                  int64_t hi, sk_status code = SK_ERR_INVALID_ARGUMENT) {
  Napi::Value v = o.Get(key);
  const double d = v.IsNumber() ? v.As<Napi::Number>().DoubleValue() : NAN;
  if (!(d >= static_cast<double>(lo) && d <= static_cast<double>(hi)) || d != floor(d))
    throw_error(env, code,
                "Expected an integer between " + num(lo) + " and " + num(hi) + " for " + where + key + " but received " +
                    received(v));
  return static_cast<int64_t>(d);
}

// a * b + c, or an error if it leaves int64.
int64_t mul_add(Napi::Env env, int64_t a, int64_t b, int64_t c, const char* name) {
  int64_t r;
  if (__builtin_mul_overflow(a, b, &r) || __builtin_add_overflow(r, c, &r))
    throw_error(env, SK_ERR_SHAPE, std::string("Size overflows for ") + name);
  return r;
}

Napi::TypedArray typed_arg(Napi::Env env, const Napi::Value& v, const std::string& name, napi_typedarray_type want,
                           const char* want_name, sk_status code) {
  if (!v.IsTypedArray()) throw_error(env, SK_ERR_INVALID_ARGUMENT, "Expected a " + std::string(want_name) + " for " + name);
  Napi::TypedArray a = v.As<Napi::TypedArray>();
  if (a.TypedArrayType() != want)
    throw_error(env, code, "Expected a " + std::string(want_name) + " for " + name + " but received another TypedArray kind");
  return a;
}

// One of q, k, v, out: the dtype's array kind, holding every element its
// strides reach; returns the view for the kernel.
HostView tensor_arg(const Napi::CallbackInfo& info, size_t index, const char* name, sk_dtype dtype, int64_t n0,
                    int64_t n1, int64_t n2, int64_t d, const int64_t strides[3]) {
  Napi::Env env = info.Env();
  const bool f32 = dtype == SK_F32;
  Napi::TypedArray a = typed_arg(env, info[index], name, f32 ? napi_float32_array : napi_uint16_array,
                                 f32 ? "Float32Array" : "Uint16Array", SK_ERR_DTYPE);
  int64_t need = 0;  // one past the largest element index touched
  if (n0 > 0 && n1 > 0 && n2 > 0 && d > 0) {
    need = mul_add(env, n0 - 1, strides[0], d, name);
    need = mul_add(env, n1 - 1, strides[1], need, name);
    need = mul_add(env, n2 - 1, strides[2], need, name);
  }
  const bool detached = a.ArrayBuffer().IsDetached();
  if (!detached && static_cast<double>(a.ElementLength()) < static_cast<double>(need))
    throw_error(env, SK_ERR_SHAPE,
                std::string("Expected ") + name + " to hold at least " + num(need) + " elements for its shape and strides but it has " +
                    num(static_cast<int64_t>(a.ElementLength())));
  return host_view_arg(info, index, name, checked_bytes(env, static_cast<size_t>(need), sk_dtype_size(dtype), name));
}

void strides_field(Napi::Env env, const Napi::Object& args, const char* key, int64_t out[3]) {
  Napi::Value v = args.Get(key);
  if (!v.IsArray() || v.As<Napi::Array>().Length() != 3)
    throw_error(env, SK_ERR_INVALID_ARGUMENT, std::string("Expected 3 strides (batch, head, sequence) for args.") + key);
  Napi::Array a = v.As<Napi::Array>();
  for (uint32_t i = 0; i < 3; ++i) {
    Napi::Value e = a.Get(i);
    const double d = e.IsNumber() ? e.As<Napi::Number>().DoubleValue() : NAN;
    if (!(d >= 0 && d <= kMaxSafeInteger) || d != floor(d))
      throw_error(env, SK_ERR_INVALID_ARGUMENT, std::string("Expected a non-negative safe integer for args.") + key +
                                                    "[" + num(i) + "]");
    out[i] = static_cast<int64_t>(d);
  }
}

// Copies an Int32Array of exactly `length` elements.
std::vector<int32_t> int32s(Napi::Env env, const Napi::Object& o, const char* key, int64_t length) {
  const std::string name = std::string("mask.") + key;
  Napi::TypedArray a = typed_arg(env, o.Get(key), name, napi_int32_array, "Int32Array", SK_ERR_INVALID_ARGUMENT);
  if (a.ArrayBuffer().IsDetached() || static_cast<int64_t>(a.ElementLength()) != length)
    throw_error(env, SK_ERR_SHAPE, "Expected " + num(length) + " elements in " + name + " but received " +
                                       num(static_cast<int64_t>(a.ElementLength())));
  Napi::Int32Array ints = a.As<Napi::Int32Array>();
  return std::vector<int32_t>(ints.Data(), ints.Data() + length);
}

std::shared_ptr<MaskCopy> parse_mask(Napi::Env env, const Napi::Value& v, const sk_attention_params& p) {
  if (v.IsNull() || v.IsUndefined()) return nullptr;
  if (!v.IsObject()) throw_error(env, SK_ERR_INVALID_ARGUMENT, "Expected a mask object or null for mask");
  Napi::Object o = v.As<Napi::Object>();
  auto c = std::make_shared<MaskCopy>();
  sk_block_mask& m = c->mask;
  m.batch = static_cast<int32_t>(int_field(env, o, "batch", "mask.", 1, INT32_MAX, SK_ERR_SHAPE));
  m.heads = static_cast<int32_t>(int_field(env, o, "heads", "mask.", 1, INT32_MAX, SK_ERR_SHAPE));
  if ((m.batch != 1 && m.batch != p.batch) || (m.heads != 1 && m.heads != p.heads_q))
    throw_error(env, SK_ERR_SHAPE, "Expected mask batch 1 or " + num(p.batch) + " and heads 1 or " + num(p.heads_q) +
                                       " but received " + num(m.batch) + " and " + num(m.heads));
  m.q_block = static_cast<int32_t>(int_field(env, o, "qBlock", "mask.", 16, 256));
  m.kv_block = static_cast<int32_t>(int_field(env, o, "kvBlock", "mask.", 16, 256));
  if (m.q_block % 16 || m.kv_block % 16)
    throw_error(env, SK_ERR_INVALID_ARGUMENT, "Expected multiples of 16 for mask.qBlock and mask.kvBlock but received " +
                                                  num(m.q_block) + " and " + num(m.kv_block));
  const int64_t nqb = (p.seq_q + m.q_block - 1) / m.q_block, nkb = (p.seq_kv + m.kv_block - 1) / m.kv_block;
  m.n_q_blocks = static_cast<int32_t>(int_field(env, o, "nQBlocks", "mask.", nqb, nqb, SK_ERR_SHAPE));
  m.n_kv_blocks = static_cast<int32_t>(int_field(env, o, "nKvBlocks", "mask.", nkb, nkb, SK_ERR_SHAPE));
  const int64_t rows = mul_add(env, static_cast<int64_t>(m.batch) * m.heads, nqb, 0, "mask rows");
  if (rows > INT32_MAX) throw_error(env, SK_ERR_SHAPE, "Expected at most 2^31 - 1 mask rows but received " + num(rows));
  c->full_num = int32s(env, o, "fullNum", rows);
  c->partial_num = int32s(env, o, "partialNum", rows);
  c->full_idx = int32s(env, o, "fullIdx", mul_add(env, rows, nkb, 0, "mask.fullIdx"));
  c->partial_idx = int32s(env, o, "partialIdx", mul_add(env, rows, nkb, 0, "mask.partialIdx"));
  const std::string bad =
      mask_lists_error(c->full_num.data(), c->full_idx.data(), c->partial_num.data(), c->partial_idx.data(), rows, nkb);
  if (!bad.empty()) throw_error(env, SK_ERR_INVALID_ARGUMENT, bad);
  m.full_num = c->full_num.data(), m.full_idx = c->full_idx.data();
  m.partial_num = c->partial_num.data(), m.partial_idx = c->partial_idx.data();

  Napi::Value rv = o.Get("rules");
  if (!rv.IsArray() || rv.As<Napi::Array>().Length() > kMaskMaxTerms)
    throw_error(env, SK_ERR_INVALID_ARGUMENT, "Expected an array of at most 4 terms for mask.rules");
  Napi::Array terms = rv.As<Napi::Array>();
  m.rules.n_terms = static_cast<int32_t>(terms.Length());
  for (uint32_t t = 0; t < terms.Length(); ++t) {
    Napi::Value tv = terms.Get(t);
    if (!tv.IsArray() || tv.As<Napi::Array>().Length() > kMaskMaxRulesPerTerm)
      throw_error(env, SK_ERR_INVALID_ARGUMENT, "Expected an array of at most 4 rules for mask.rules[" + num(t) + "]");
    Napi::Array term = tv.As<Napi::Array>();
    m.rules.n_rules[t] = static_cast<int32_t>(term.Length());
    for (uint32_t r = 0; r < term.Length(); ++r) {
      const std::string where = "mask.rules[" + num(t) + "][" + num(r) + "].";
      Napi::Value xv = term.Get(r);
      if (!xv.IsObject()) throw_error(env, SK_ERR_INVALID_ARGUMENT, "Expected a rule object for " + where);
      Napi::Object x = xv.As<Napi::Object>();
      sk_mask_rule& rule = m.rules.rules[t][r];
      rule = sk_mask_rule{};
      rule.kind = static_cast<int32_t>(int_field(env, x, "kind", where, SK_RULE_CAUSAL, SK_RULE_PERMUTED_CAUSAL));
      const int64_t big = static_cast<int64_t>(kMaxSafeInteger);
      if (rule.kind == SK_RULE_WINDOW) rule.window = int_field(env, x, "window", where, 0, big);
      if (rule.kind == SK_RULE_STREAMING) {
        rule.sink = int_field(env, x, "sink", where, 0, big);
        rule.local = int_field(env, x, "local", where, 0, big);
      }
      if (rule.kind == SK_RULE_DOCUMENTS) {
        c->segs.push_back(std::make_unique<std::vector<int32_t>>(int32s(env, x, "qSeg", p.seq_q)));
        rule.q_seg = c->segs.back()->data();
        c->segs.push_back(std::make_unique<std::vector<int32_t>>(int32s(env, x, "kvSeg", p.seq_kv)));
        rule.kv_seg = c->segs.back()->data();
      }
      if (rule.kind == SK_RULE_PERMUTED_CAUSAL) {  // kvPos [posBatch, posHeads, seq_kv]
        const int64_t pb = int_field(env, x, "posBatch", where, 1, p.batch > 1 ? p.batch : 1, SK_ERR_SHAPE);
        const int64_t ph = int_field(env, x, "posHeads", where, 1, p.heads_kv, SK_ERR_SHAPE);
        if ((pb != 1 && pb != p.batch) || (ph != 1 && ph != p.heads_kv))
          throw_error(env, SK_ERR_SHAPE, "Expected " + where + "posBatch 1 or " + num(p.batch) + " and posHeads 1 or " +
                                             num(p.heads_kv) + " but received " + num(pb) + " and " + num(ph));
        c->segs.push_back(std::make_unique<std::vector<int32_t>>(
            int32s(env, x, "kvPos", mul_add(env, pb * ph, p.seq_kv, 0, "kvPos"))));
        rule.kv_pos = c->segs.back()->data();
        rule.pos_stride_h = ph == 1 ? 0 : p.seq_kv;
        rule.pos_stride_b = pb == 1 ? 0 : ph * p.seq_kv;
        rule.pos_group = p.heads_q / ph;
      }
    }
  }
  return c;
}

}  // namespace

Napi::Value SparsekitAddon::Attention(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 6 || !info[5].IsObject()) throw_error(env, SK_ERR_INVALID_ARGUMENT, "Expected an args object");
  Napi::Object args = info[5].As<Napi::Object>();
  sk_attention_params p{};
  const int64_t dt = int_field(env, args, "dtype", "args.", 0, SK_DTYPE_COUNT - 1, SK_ERR_DTYPE);
  if (dt != SK_F32 && dt != SK_F16 && dt != SK_BF16)
    throw_error(env, SK_ERR_DTYPE, std::string("Expected float32, float16 or bfloat16 for attention but received ") +
                                       sk_dtype_name(static_cast<sk_dtype>(dt)));
  p.dtype = static_cast<sk_dtype>(dt);
  const int64_t kMaxDim = INT32_MAX;
  p.batch = int_field(env, args, "batch", "args.", 0, kMaxDim, SK_ERR_SHAPE);
  p.heads_q = int_field(env, args, "headsQ", "args.", 1, kMaxDim, SK_ERR_SHAPE);
  p.heads_kv = int_field(env, args, "headsKv", "args.", 1, kMaxDim, SK_ERR_SHAPE);
  p.seq_q = int_field(env, args, "seqQ", "args.", 0, kMaxDim, SK_ERR_SHAPE);
  p.seq_kv = int_field(env, args, "seqKv", "args.", 0, kMaxDim, SK_ERR_SHAPE);
  p.head_dim = int_field(env, args, "headDim", "args.", 1, attention_max_head_dim(), SK_ERR_SHAPE);
  if (p.heads_q % p.heads_kv != 0)
    throw_error(env, SK_ERR_SHAPE, "Expected headsQ (" + num(p.heads_q) + ") to be a multiple of headsKv (" +
                                       num(p.heads_kv) + ")");
  int64_t qs[3], ks[3], vs[3], os[3];
  strides_field(env, args, "qStrides", qs);
  strides_field(env, args, "kStrides", ks);
  strides_field(env, args, "vStrides", vs);
  strides_field(env, args, "outStrides", os);
  Napi::Value sv = args.Get("scale");
  const double scale = sv.IsNumber() ? sv.As<Napi::Number>().DoubleValue() : NAN;
  if (!isfinite(scale) || !isfinite(static_cast<float>(scale)))
    throw_error(env, SK_ERR_INVALID_ARGUMENT, "Expected a finite number for args.scale");
  p.scale = static_cast<float>(scale);
  Napi::Value cv = args.Get("causal");
  if (!cv.IsBoolean()) throw_error(env, SK_ERR_INVALID_ARGUMENT, "Expected a boolean for args.causal");
  p.causal = cv.As<Napi::Boolean>().Value();

  HostView q = tensor_arg(info, 0, "q", p.dtype, p.batch, p.heads_q, p.seq_q, p.head_dim, qs);
  HostView k = tensor_arg(info, 1, "k", p.dtype, p.batch, p.heads_kv, p.seq_kv, p.head_dim, ks);
  HostView v = tensor_arg(info, 2, "v", p.dtype, p.batch, p.heads_kv, p.seq_kv, p.head_dim, vs);
  HostView out = tensor_arg(info, 3, "out", p.dtype, p.batch, p.heads_q, p.seq_q, p.head_dim, os);
  p.q = q.data, p.k = k.data, p.v = v.data, p.out = out.data;
  p.q_stride_b = qs[0], p.q_stride_h = qs[1], p.q_stride_s = qs[2];
  p.k_stride_b = ks[0], p.k_stride_h = ks[1], p.k_stride_s = ks[2];
  p.v_stride_b = vs[0], p.v_stride_h = vs[1], p.v_stride_s = vs[2];
  p.out_stride_b = os[0], p.out_stride_h = os[1], p.out_stride_s = os[2];

  auto holds = std::make_shared<Holds>();
  holds->hold(q), holds->hold(k), holds->hold(v), holds->hold(out);
  if (!info[4].IsNull() && !info[4].IsUndefined()) {
    Napi::TypedArray a = typed_arg(env, info[4], "lse", napi_float32_array, "Float32Array", SK_ERR_DTYPE);
    const int64_t rows = mul_add(env, p.batch * p.heads_q, p.seq_q, 0, "lse");
    if (!a.ArrayBuffer().IsDetached() && static_cast<int64_t>(a.ElementLength()) != rows)
      throw_error(env, SK_ERR_SHAPE, "Expected " + num(rows) + " elements (batch × headsQ × seqQ) in lse but received " +
                                         num(static_cast<int64_t>(a.ElementLength())));
    HostView lse = host_view_arg(info, 4, "lse", checked_bytes(env, static_cast<size_t>(rows), sizeof(float), "lse"));
    p.lse = static_cast<float*>(lse.data);
    holds->hold(lse);
  }
  std::shared_ptr<MaskCopy> mask = parse_mask(env, info.Length() > 6 ? info[6] : env.Null(), p);
  p.mask = mask ? &mask->mask : nullptr;

  const sk_attention_kernel kernel = sk_cpu_attention_pick(p, isa_);
  if (!kernel.fn) throw_error(env, SK_ERR_UNSUPPORTED, "No attention kernel for these arguments on this CPU");
  return submit_op(*executor_, env, holds, [p, kernel, mask](ThreadPool& pool) {
    const sk_status st = sk_cpu_attention_run(p, kernel, pool);
    if (st != SK_OK) return JobResult{st, "out of memory for the attention scratch"};
    return JobResult{};
  });
}

}  // namespace sk
