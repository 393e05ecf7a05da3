#include "attention_args.h"

#include <math.h>
#include <string.h>

#include <string>

#include "../core/index_checks.h"
#include "args.h"

namespace sk {
namespace {

constexpr int64_t kMaxExtent = INT32_MAX;                   // tokens, heads, batch: int32 (mask indices are int32)
constexpr int64_t kMaskMinBlock = 16, kMaskMaxBlock = 256;  // sk_block_mask: multiples of 16 in 16..256
constexpr float kLog2e = 1.4426950408889634f;               // the kernels scale scores into base 2
constexpr size_t kBlobAlign = 16;

// An Int32Array field with exactly `length` elements (a detached one has 0).
const int32_t* int32_field(Napi::Env env, const Napi::Object& o, const std::string& owner, const char* key,
                           int64_t length) {
  Napi::Value v = o.Get(key);
  const std::string name = owner + "." + key;
  if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != napi_int32_array)
    expected(env, SK_ERR_INVALID_ARGUMENT, "an Int32Array", name, received(v));
  Napi::Int32Array a = v.As<Napi::Int32Array>();
  if (static_cast<int64_t>(a.ElementLength()) != length)
    expected(env, SK_ERR_SHAPE, "an Int32Array of " + num(length) + " elements", name,
             "one of " + num(static_cast<int64_t>(a.ElementLength())));
  return a.Data();
}

// Appends bytes at the next aligned offset of the blob; returns that offset.
size_t append(std::vector<unsigned char>& blob, const void* data, size_t bytes) {
  const size_t at = (blob.size() + kBlobAlign - 1) / kBlobAlign * kBlobAlign;
  blob.resize(at + bytes);
  if (bytes) memcpy(blob.data() + at, data, bytes);
  return at;
}

// One token rule: its kind's parameters, and its per-token arrays appended to the blob.
void parse_rule(Napi::Env env, const Napi::Object& ro, const std::string& name, const sk_attention_params& p, int term,
                int index, sk_mask_rule& rule, MaskBlob& blob) {
  rule = sk_mask_rule{};
  rule.kind = static_cast<int32_t>(int_field(env, ro, name, "kind", SK_RULE_CAUSAL, SK_RULE_PERMUTED_CAUSAL));
  const int64_t kMaxTokens = static_cast<int64_t>(kMaxSafeInteger);
  if (rule.kind == SK_RULE_WINDOW) rule.window = int_field(env, ro, name, "window", 0, kMaxTokens);
  if (rule.kind == SK_RULE_STREAMING) {
    rule.sink = int_field(env, ro, name, "sink", 0, kMaxTokens);
    rule.local = int_field(env, ro, name, "local", 0, kMaxTokens);
  }
  if (rule.kind == SK_RULE_DOCUMENTS) {
    const int32_t* q_seg = int32_field(env, ro, name, "qSeg", p.seq_q);
    const int32_t* kv_seg = int32_field(env, ro, name, "kvSeg", p.seq_kv);
    const size_t q_at = append(blob.bytes, q_seg, sizeof(int32_t) * p.seq_q);
    blob.fixes.push_back({term, index, q_at, append(blob.bytes, kv_seg, sizeof(int32_t) * p.seq_kv)});
  }
  if (rule.kind == SK_RULE_PERMUTED_CAUSAL) {  // kvPos [posBatch, posHeads, seq_kv]
    const int64_t pb = int_field(env, ro, name, "posBatch", 1, p.batch > 1 ? p.batch : 1, SK_ERR_SHAPE);
    const int64_t ph = int_field(env, ro, name, "posHeads", 1, p.heads_kv, SK_ERR_SHAPE);
    if ((pb != 1 && pb != p.batch) || (ph != 1 && ph != p.heads_kv))
      expected(env, SK_ERR_SHAPE, "posBatch 1 or " + num(p.batch) + " and posHeads 1 or " + num(p.heads_kv), name,
               num(pb) + " and " + num(ph));
    const int64_t n = checked_product(env, pb * ph, p.seq_kv, "kvPos");
    const int32_t* pos = int32_field(env, ro, name, "kvPos", n);
    rule.pos_stride_h = ph == 1 ? 0 : p.seq_kv;
    rule.pos_stride_b = pb == 1 ? 0 : ph * p.seq_kv;
    rule.pos_group = p.heads_q / ph;
    blob.fixes.push_back({term, index, append(blob.bytes, pos, sizeof(int32_t) * static_cast<size_t>(n)), 0});
  }
}

void parse_rules(Napi::Env env, const Napi::Value& v, const sk_attention_params& p, MaskBlob& blob) {
  const char* what = "an array of at most 4 terms, each an array of at most 4 rules";
  if (!v.IsArray() || v.As<Napi::Array>().Length() > kMaskMaxTerms)
    expected(env, SK_ERR_INVALID_ARGUMENT, what, "mask.rules", received(v));
  sk_mask_rules& rules = blob.mask.rules;
  Napi::Array terms = v.As<Napi::Array>();
  rules.n_terms = static_cast<int32_t>(terms.Length());
  for (uint32_t t = 0; t < terms.Length(); ++t) {
    const std::string tname = "mask.rules[" + num(t) + "]";
    Napi::Value tv = terms.Get(t);
    if (!tv.IsArray() || tv.As<Napi::Array>().Length() > kMaskMaxRulesPerTerm)
      expected(env, SK_ERR_INVALID_ARGUMENT, "an array of at most 4 rules", tname, received(tv));
    Napi::Array term = tv.As<Napi::Array>();
    rules.n_rules[t] = static_cast<int32_t>(term.Length());
    for (uint32_t r = 0; r < term.Length(); ++r) {
      const std::string rname = tname + "[" + num(r) + "]";
      parse_rule(env, object_arg(env, term.Get(r), rname), rname, p, static_cast<int>(t), static_cast<int>(r),
                 rules.rules[t][r], blob);
    }
  }
}

std::shared_ptr<MaskBlob> parse_mask(Napi::Env env, const Napi::Value& v, const sk_attention_params& p) {
  if (v.IsNull() || v.IsUndefined()) return nullptr;
  Napi::Object o = object_arg(env, v, "mask");
  auto blob = std::make_shared<MaskBlob>();
  sk_block_mask& m = blob->mask;
  m.batch = static_cast<int32_t>(int_field(env, o, "mask", "batch", 1, kMaxExtent, SK_ERR_SHAPE));
  m.heads = static_cast<int32_t>(int_field(env, o, "mask", "heads", 1, kMaxExtent, SK_ERR_SHAPE));
  if (m.batch != 1 && m.batch != p.batch)
    expected(env, SK_ERR_SHAPE, "1 or the batch (" + num(p.batch) + ")", "mask.batch", num(m.batch));
  if (m.heads != 1 && m.heads != p.heads_q)
    expected(env, SK_ERR_SHAPE, "1 or the query heads (" + num(p.heads_q) + ")", "mask.heads", num(m.heads));
  m.q_block = static_cast<int32_t>(int_field(env, o, "mask", "qBlock", kMaskMinBlock, kMaskMaxBlock));
  m.kv_block = static_cast<int32_t>(int_field(env, o, "mask", "kvBlock", kMaskMinBlock, kMaskMaxBlock));
  if (m.q_block % kMaskMinBlock || m.kv_block % kMaskMinBlock)
    expected(env, SK_ERR_INVALID_ARGUMENT, "multiples of 16", "mask.qBlock and mask.kvBlock",
             num(m.q_block) + " and " + num(m.kv_block));
  const int64_t nq = (p.seq_q + m.q_block - 1) / m.q_block, nkv = (p.seq_kv + m.kv_block - 1) / m.kv_block;
  m.n_q_blocks = static_cast<int32_t>(int_field(env, o, "mask", "nQBlocks", nq, nq, SK_ERR_SHAPE));
  m.n_kv_blocks = static_cast<int32_t>(int_field(env, o, "mask", "nKvBlocks", nkv, nkv, SK_ERR_SHAPE));
  const int64_t rows = checked_product(env, static_cast<int64_t>(m.batch) * m.heads, nq, "the block mask");
  if (rows > kMaxExtent)  // work items index mask rows with int32
    expected(env, SK_ERR_SHAPE, "at most 2^31 - 1 rows", "the block mask (batch × heads × nQBlocks)", num(rows));
  const int64_t cells = checked_product(env, rows, nkv, "the block mask");
  const int32_t* full_num = int32_field(env, o, "mask", "fullNum", rows);
  const int32_t* full_idx = int32_field(env, o, "mask", "fullIdx", cells);
  const int32_t* partial_num = int32_field(env, o, "mask", "partialNum", rows);
  const int32_t* partial_idx = int32_field(env, o, "mask", "partialIdx", cells);
  std::vector<unsigned char>& bytes = blob->bytes;
  blob->full_num_at = append(bytes, full_num, sizeof(int32_t) * static_cast<size_t>(rows));
  blob->full_idx_at = append(bytes, full_idx, sizeof(int32_t) * static_cast<size_t>(cells));
  blob->partial_num_at = append(bytes, partial_num, sizeof(int32_t) * static_cast<size_t>(rows));
  blob->partial_idx_at = append(bytes, partial_idx, sizeof(int32_t) * static_cast<size_t>(cells));
  // Checked on the copies the kernel reads, so nothing (a worker writing a
  // shared buffer) can change an index between the check and the kernel.
  const auto at = [&](size_t offset) { return reinterpret_cast<const int32_t*>(bytes.data() + offset); };
  const std::string bad = mask_lists_error(at(blob->full_num_at), at(blob->full_idx_at), at(blob->partial_num_at),
                                           at(blob->partial_idx_at), rows, nkv);
  if (!bad.empty()) throw_error(env, SK_ERR_INVALID_ARGUMENT, bad);
  parse_rules(env, o.Get("rules"), p, *blob);
  blob->rules_at = append(bytes, &m.rules, sizeof m.rules);
  return blob;
}

// A Float32Array field of exactly `length` finite, non-negative (or, for a
// mean, any finite) values, copied.
std::vector<float> float32_field(Napi::Env env, const Napi::Object& o, const char* key, int64_t length,
                                 bool signed_ok) {
  Napi::Value v = o.Get(key);
  const std::string name = std::string("args.fp8.") + key;
  if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != napi_float32_array)
    expected(env, SK_ERR_INVALID_ARGUMENT, "a Float32Array", name, received(v));
  Napi::Float32Array a = v.As<Napi::Float32Array>();
  if (static_cast<int64_t>(a.ElementLength()) != length)
    expected(env, SK_ERR_SHAPE, "a Float32Array of " + num(length) + " elements", name,
             "one of " + num(static_cast<int64_t>(a.ElementLength())));
  std::vector<float> copy(a.Data(), a.Data() + length);
  for (float x : copy)
    if (!isfinite(x) || (!signed_ok && x < 0.0f))
      expected(env, SK_ERR_INVALID_ARGUMENT, signed_ok ? "finite values" : "finite, non-negative scales", name,
               "a value " + std::to_string(x));
  return copy;
}

// args.fp8 ({ tile, qScale, kScale, vScale, kMean | null }) for FP8 q, k, v:
// the scales of quantize(), sized for the call's shapes, and tiles that are
// the mask's blocks.
std::shared_ptr<Fp8Scales> parse_fp8(Napi::Env env, const Napi::Object& a, const sk_attention_params& p,
                                     const MaskBlob* mask) {
  Napi::Value fv = a.Get("fp8");
  const bool fp8 = sk_dtype_is_fp8(p.dtype);
  if (!fp8) {
    if (!fv.IsUndefined() && !fv.IsNull())
      expected(env, SK_ERR_INVALID_ARGUMENT, "no scales (q is not FP8)", "args.fp8", received(fv));
    return nullptr;
  }
  if (fv.IsUndefined() || fv.IsNull())  // a plain FP8 tensor: attention takes FP8 only with its scales
    expected(env, SK_ERR_DTYPE, "float32, float16, bfloat16, or FP8 with its per-tile scales (sk.quantize)", "q.type",
             std::string(sk_dtype_name(p.dtype)) + " without scales (args.fp8)");
  Napi::Object o = object_arg(env, fv, "args.fp8");
  auto f = std::make_shared<Fp8Scales>();
  const int64_t tile = int_field(env, o, "args.fp8", "tile", kMaskMinBlock, kMaskMaxBlock);
  if (tile % kMaskMinBlock) expected(env, SK_ERR_INVALID_ARGUMENT, "a multiple of 16", "args.fp8.tile", num(tile));
  if (mask && (mask->mask.q_block != tile || mask->mask.kv_block != tile))
    expected(env, SK_ERR_INVALID_ARGUMENT, "a mask whose blocks are the FP8 tiles (" + num(tile) + " tokens)",
             "options.mask", "blocks of " + num(mask->mask.q_block) + " × " + num(mask->mask.kv_block));
  const int64_t q_tiles = (p.seq_q + tile - 1) / tile, kv_tiles = (p.seq_kv + tile - 1) / tile;
  const auto n = [&](int64_t a, int64_t b) { return checked_product(env, a, b, "the FP8 scales"); };
  const int64_t kv_rows = n(p.batch, p.heads_kv);
  f->q = float32_field(env, o, "qScale", n(n(p.batch, p.heads_q), q_tiles), false);
  f->k = float32_field(env, o, "kScale", n(kv_rows, kv_tiles), false);
  f->v = float32_field(env, o, "vScale", n(n(kv_rows, kv_tiles), p.head_dim), false);
  Napi::Value mv = o.Get("kMean");
  if (!mv.IsNull() && !mv.IsUndefined()) f->k_mean = float32_field(env, o, "kMean", n(kv_rows, p.head_dim), true);
  f->scales = {tile, f->q.data(), f->k.data(), f->v.data(), f->k_mean.empty() ? nullptr : f->k_mean.data()};
  return f;
}

bool boolean_field(Napi::Env env, const Napi::Object& o, const char* key) {
  Napi::Value v = o.Get(key);
  if (!v.IsBoolean()) expected(env, SK_ERR_INVALID_ARGUMENT, "a boolean", std::string("args.") + key, received(v));
  return v.As<Napi::Boolean>().Value();
}

}  // namespace

const sk_block_mask& MaskBlob::bind(const unsigned char* base) {
  auto* rules = reinterpret_cast<sk_mask_rules*>(bytes.data() + rules_at);
  for (const Fix& f : fixes) {
    sk_mask_rule& r = rules->rules[f.term][f.rule];
    if (r.kind == SK_RULE_DOCUMENTS) {
      r.q_seg = reinterpret_cast<const int32_t*>(base + f.a_at);
      r.kv_seg = reinterpret_cast<const int32_t*>(base + f.b_at);
    } else {
      r.kv_pos = reinterpret_cast<const int32_t*>(base + f.a_at);
    }
  }
  mask.rules = *rules;
  mask.full_num = reinterpret_cast<const int32_t*>(base + full_num_at);
  mask.full_idx = reinterpret_cast<const int32_t*>(base + full_idx_at);
  mask.partial_num = reinterpret_cast<const int32_t*>(base + partial_num_at);
  mask.partial_idx = reinterpret_cast<const int32_t*>(base + partial_idx_at);
  return mask;
}

AttentionCall parse_attention(Napi::Env env, const Napi::Value& args_value, const Napi::Value& mask, bool with_lse) {
  AttentionCall c;
  sk_attention_params& p = c.params;
  Napi::Object a = object_arg(env, args_value, "args");
  const int64_t dt = args_int(env, a, "dtype", 0, SK_DTYPE_COUNT - 1, SK_ERR_DTYPE);
  if (dt != SK_F32 && dt != SK_F16 && dt != SK_BF16 && !sk_dtype_is_fp8(static_cast<sk_dtype>(dt)))
    expected(env, SK_ERR_DTYPE, "float32, float16, bfloat16 or FP8 (quantised)", "q.type",
             std::string(sk_dtype_name(static_cast<sk_dtype>(dt))) + " (args.dtype)");
  p.dtype = static_cast<sk_dtype>(dt);
  p.batch = args_int(env, a, "batch", 0, kMaxExtent, SK_ERR_SHAPE);
  p.heads_q = args_int(env, a, "headsQ", 1, kMaxExtent, SK_ERR_SHAPE);
  p.heads_kv = args_int(env, a, "headsKv", 1, kMaxExtent, SK_ERR_SHAPE);
  p.seq_q = args_int(env, a, "seqQ", 0, kMaxExtent, SK_ERR_SHAPE);
  p.seq_kv = args_int(env, a, "seqKv", 0, kMaxExtent, SK_ERR_SHAPE);
  p.head_dim = args_int(env, a, "headDim", 1, kMaxExtent, SK_ERR_SHAPE);
  if (p.head_dim > kAttentionMaxHeadDim)
    expected(env, SK_ERR_SHAPE, "a head dim between 1 and " + num(kAttentionMaxHeadDim), "q.dims",
             num(p.head_dim) + " (args.headDim)");
  if (p.heads_q % p.heads_kv != 0)
    expected(env, SK_ERR_SHAPE, "a multiple of headsKv (" + num(p.heads_kv) + ")", "args.headsQ", num(p.heads_q));
  int64_t qs[3], ks[3], vs[3], os[3];
  args_strides(env, a, "qStrides", qs);
  args_strides(env, a, "kStrides", ks);
  args_strides(env, a, "vStrides", vs);
  args_strides(env, a, "outStrides", os);
  p.q_stride_b = qs[0], p.q_stride_h = qs[1], p.q_stride_s = qs[2];
  p.k_stride_b = ks[0], p.k_stride_h = ks[1], p.k_stride_s = ks[2];
  p.v_stride_b = vs[0], p.v_stride_h = vs[1], p.v_stride_s = vs[2];
  p.out_stride_b = os[0], p.out_stride_h = os[1], p.out_stride_s = os[2];
  c.q_elems = strided_reach(env, p.batch, p.heads_q, p.seq_q, p.head_dim, qs, "q");
  c.k_elems = strided_reach(env, p.batch, p.heads_kv, p.seq_kv, p.head_dim, ks, "k");
  c.v_elems = strided_reach(env, p.batch, p.heads_kv, p.seq_kv, p.head_dim, vs, "v");
  c.out_elems = strided_reach(env, p.batch, p.heads_q, p.seq_q, p.head_dim, os, "out");
  for (int64_t n : {c.q_elems, c.k_elems, c.v_elems, c.out_elems})
    if (static_cast<double>(n) * 4 > kMaxSafeInteger)  // out is float32 for FP8 inputs
      throw_error(env, SK_ERR_SHAPE, "Expected shapes and strides that span at most 2^53 bytes per tensor");
  if (with_lse) c.lse_elems = checked_product(env, checked_product(env, p.batch, p.heads_q, "lse"), p.seq_q, "lse");

  Napi::Value sv = a.Get("scale");
  const double scale = sv.IsNumber() ? sv.As<Napi::Number>().DoubleValue() : NAN;
  p.scale = static_cast<float>(scale);
  if (!isfinite(scale) || !isfinite(p.scale * kLog2e))
    expected(env, SK_ERR_INVALID_ARGUMENT, "a finite number (within float32 range)", "args.scale", received(sv));
  p.causal = boolean_field(env, a, "causal");
  c.mask = parse_mask(env, mask, p);
  c.fp8 = parse_fp8(env, a, p, c.mask.get());
  if (c.fp8) p.fp8 = &c.fp8->scales;
  return c;
}

void check_pick_bytes(Napi::Env env, const AttentionCall& c, const Napi::Value& bytes) {
  if (bytes.IsUndefined() || bytes.IsNull()) return;
  Napi::Object o = object_arg(env, bytes, "bytes");
  const size_t es = sk_dtype_size(c.params.dtype);
  const size_t out_es = sk_dtype_is_fp8(c.params.dtype) ? 4 : es;  // FP8 attention writes float32
  struct Need {
    const char* name;
    int64_t bytes;
  };
  const int64_t in = static_cast<int64_t>(es), out = static_cast<int64_t>(out_es);
  for (const Need& n : {Need{"q", c.q_elems * in}, Need{"k", c.k_elems * in}, Need{"v", c.v_elems * in},
                        Need{"out", c.out_elems * out}, Need{"lse", c.lse_elems * 4}}) {
    if (std::string(n.name) == "lse" && o.Get("lse").IsNull()) continue;
    const int64_t has = int_field(env, o, "bytes", n.name, 0, static_cast<int64_t>(kMaxSafeInteger));
    if (has < n.bytes)
      expected(env, SK_ERR_SHAPE, "at least " + num(n.bytes) + " bytes for its shape and strides", n.name, num(has));
  }
}

}  // namespace sk
