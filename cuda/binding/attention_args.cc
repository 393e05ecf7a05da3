#include "attention_args.h"

#include <cmath>
#include <cstring>
#include <string>

#include "../../csrc/addon/errors.h"
#include "../attention/traits.h"

namespace sk::cuda {
namespace {

constexpr double kMaxSafeInteger = 9007199254740991.0;  // 2^53 - 1
constexpr int64_t kMaxExtent = 2147483647;              // tokens, heads, batch: int32 (mask indices are int32)
constexpr int64_t kMaxGridYZ = 65535;                   // CUDA grid y (heads) and z (batch)
constexpr int kMinMaskBlock = 16, kMaxMaskBlock = 256;  // sk_block_mask: multiples of 16 in 16..256
constexpr float kLog2e = 1.4426950408889634f;
constexpr size_t kBlobAlign = 16;

std::string received(const Napi::Value& v) {
  if (v.IsUndefined()) return "undefined";
  if (v.IsNull()) return "null";
  if (v.IsNumber()) return v.ToString().Utf8Value() + " (number)";
  if (v.IsBoolean()) return v.ToBoolean().Value() ? "true (boolean)" : "false (boolean)";
  if (v.IsString()) return "a string";
  if (v.IsArray()) return "an Array";
  if (v.IsTypedArray()) return "a TypedArray";
  if (v.IsFunction()) return "a function";
  if (v.IsObject()) return "an object";
  return "a " + std::string(v.IsSymbol() ? "symbol" : "bigint");
}

[[noreturn]] void expected(Napi::Env env, sk_status code, const std::string& what, const std::string& name,
                           const std::string& got) {
  throw_error(env, code, "Expected " + what + " for " + name + " but received " + got);
}

Napi::Object object_arg(Napi::Env env, Napi::Value v, const char* name) {
  if (!v.IsObject() || v.IsArray() || v.IsFunction()) expected(env, SK_ERR_INVALID_ARGUMENT, "an object", name, received(v));
  return v.As<Napi::Object>();
}

int64_t int_field(Napi::Env env, Napi::Object o, const std::string& owner, const char* key, int64_t lo, int64_t hi) {
  Napi::Value v = o.Get(key);
  const std::string name = owner + "." + key;
  const std::string range = "an integer between " + std::to_string(lo) + " and " + std::to_string(hi);
  if (!v.IsNumber()) expected(env, SK_ERR_INVALID_ARGUMENT, range, name, received(v));
  const double d = v.As<Napi::Number>().DoubleValue();
  if (!(d >= static_cast<double>(lo) && d <= static_cast<double>(hi)) || d != std::floor(d))
    expected(env, SK_ERR_INVALID_ARGUMENT, range, name, received(v));
  return static_cast<int64_t>(d);
}

struct Strides {
  int64_t b, h, s;
};

Strides strides_field(Napi::Env env, Napi::Object o, const char* key) {
  Napi::Value v = o.Get(key);
  const std::string name = std::string("args.") + key;
  const char* what = "an array of 3 non-negative safe integers (batch, head, sequence strides in elements)";
  if (!v.IsArray() || v.As<Napi::Array>().Length() != 3) expected(env, SK_ERR_INVALID_ARGUMENT, what, name, received(v));
  Napi::Array a = v.As<Napi::Array>();
  int64_t s[3];
  for (uint32_t i = 0; i < 3; ++i) {
    Napi::Value e = a.Get(i);
    const double d = e.IsNumber() ? e.As<Napi::Number>().DoubleValue() : -1;
    if (!(d >= 0 && d <= kMaxSafeInteger) || d != std::floor(d))
      expected(env, SK_ERR_INVALID_ARGUMENT, what, name + "[" + std::to_string(i) + "]", received(e));
    s[i] = static_cast<int64_t>(d);
  }
  return {s[0], s[1], s[2]};
}

// Bytes a [d0, d1, d2, d3] tensor of 2-byte elements spans with these strides
// (the last stride is 1); 0 when any extent is 0. ERR_SK_SHAPE past 2^53.
size_t span_bytes(Napi::Env env, const char* name, int64_t d0, int64_t d1, int64_t d2, int64_t d3, Strides st,
                  size_t elem) {
  if (d0 == 0 || d1 == 0 || d2 == 0 || d3 == 0) return 0;
  using u128 = unsigned __int128;
  const u128 last = u128(d0 - 1) * u128(st.b) + u128(d1 - 1) * u128(st.h) + u128(d2 - 1) * u128(st.s) + u128(d3 - 1);
  const u128 bytes = (last + 1) * elem;
  if (bytes > u128(kMaxSafeInteger))
    throw_error(env, SK_ERR_SHAPE, std::string("The shape and strides of ") + name + " span more than 2^53 bytes");
  return static_cast<size_t>(bytes);
}

// An Int32Array field with exactly `length` elements.
const int32_t* int32_field(Napi::Env env, Napi::Object o, const std::string& owner, const char* key, size_t length) {
  Napi::Value v = o.Get(key);
  const std::string name = owner + "." + key;
  if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != napi_int32_array)
    expected(env, SK_ERR_INVALID_ARGUMENT, "an Int32Array", name, received(v));
  Napi::Int32Array a = v.As<Napi::Int32Array>();  // a detached one has length 0
  if (a.ElementLength() != length)
    expected(env, SK_ERR_SHAPE, "an Int32Array of " + std::to_string(length) + " elements", name,
             "one of " + std::to_string(a.ElementLength()));
  return a.Data();
}

size_t align_up(size_t n) { return (n + kBlobAlign - 1) / kBlobAlign * kBlobAlign; }

// Appends bytes to the blob at an aligned offset; returns that offset.
size_t append(std::vector<unsigned char>& blob, const void* data, size_t bytes) {
  const size_t at = align_up(blob.size());
  blob.resize(at + bytes);
  if (bytes) std::memcpy(blob.data() + at, data, bytes);
  return at;
}

// One (batch, head, query block) row of index lists: counts in [0, n], indices
// in [0, n) strictly increasing, and no block both full and partial.
void check_row(Napi::Env env, int64_t row, int32_t n, int32_t full_num, const int32_t* full, int32_t partial_num,
               const int32_t* partial) {
  const std::string where = " (mask row " + std::to_string(row) + ")";
  struct List {
    int32_t num;
    const int32_t* idx;
    const char *num_name, *idx_name;
  };
  for (const List& l : {List{full_num, full, "fullNum", "fullIdx"}, List{partial_num, partial, "partialNum", "partialIdx"}}) {
    if (l.num < 0 || l.num > n)
      expected(env, SK_ERR_INVALID_ARGUMENT, "a count between 0 and nKvBlocks (" + std::to_string(n) + ")",
               std::string("mask.") + l.num_name + where, std::to_string(l.num));
    for (int32_t i = 0; i < l.num; ++i)
      if (l.idx[i] < 0 || l.idx[i] >= n || (i > 0 && l.idx[i] <= l.idx[i - 1]))
        expected(env, SK_ERR_INVALID_ARGUMENT, "increasing key-block indices in [0, nKvBlocks)",
                 std::string("mask.") + l.idx_name + where,
                 std::to_string(l.idx[i]) + " at position " + std::to_string(i));
  }
  for (int32_t i = 0, j = 0; i < full_num && j < partial_num;) {
    if (full[i] == partial[j])
      throw_error(env, SK_ERR_INVALID_ARGUMENT,
                  "Expected disjoint full and partial key blocks but block " + std::to_string(full[i]) +
                      " is in both" + where);
    full[i] < partial[j] ? ++i : ++j;
  }
}

void plan_rules(Napi::Env env, Napi::Value v, const attn::FwdParams& p, AttentionPlan& plan,
                std::vector<unsigned char>& blob) {
  const int64_t seq_q = p.seq_q, seq_kv = p.seq_kv, heads_kv = p.heads_q / p.group;
  const char* what = "an array of at most 4 terms, each an array of at most 4 rules";
  if (!v.IsArray() || v.As<Napi::Array>().Length() > kMaskMaxTerms)
    expected(env, SK_ERR_INVALID_ARGUMENT, what, "mask.rules", received(v));
  sk_mask_rules rules{};
  Napi::Array terms = v.As<Napi::Array>();
  rules.n_terms = static_cast<int32_t>(terms.Length());
  for (uint32_t t = 0; t < terms.Length(); ++t) {
    const std::string tname = "mask.rules[" + std::to_string(t) + "]";
    Napi::Value tv = terms.Get(t);
    if (!tv.IsArray() || tv.As<Napi::Array>().Length() > kMaskMaxRulesPerTerm)
      expected(env, SK_ERR_INVALID_ARGUMENT, "an array of at most 4 rules", tname, received(tv));
    Napi::Array term = tv.As<Napi::Array>();
    rules.n_rules[t] = static_cast<int32_t>(term.Length());
    for (uint32_t r = 0; r < term.Length(); ++r) {
      const std::string rname = tname + "[" + std::to_string(r) + "]";
      Napi::Object ro = object_arg(env, term.Get(r), rname.c_str());
      sk_mask_rule& rule = rules.rules[t][r];
      rule.kind = static_cast<int32_t>(int_field(env, ro, rname, "kind", SK_RULE_CAUSAL, SK_RULE_PERMUTED_CAUSAL));
      const int64_t kMaxTokens = static_cast<int64_t>(kMaxSafeInteger);
      if (rule.kind == SK_RULE_WINDOW) rule.window = int_field(env, ro, rname, "window", 0, kMaxTokens);
      if (rule.kind == SK_RULE_STREAMING) {
        rule.sink = int_field(env, ro, rname, "sink", 0, kMaxTokens);
        rule.local = int_field(env, ro, rname, "local", 0, kMaxTokens);
      }
      if (rule.kind == SK_RULE_DOCUMENTS) {
        const int32_t* q_seg = int32_field(env, ro, rname, "qSeg", static_cast<size_t>(seq_q));
        const int32_t* kv_seg = int32_field(env, ro, rname, "kvSeg", static_cast<size_t>(seq_kv));
        AttentionPlan::SegFix fix{static_cast<int>(t), static_cast<int>(r), 0, 0};
        fix.q_at = append(blob, q_seg, sizeof(int32_t) * seq_q);
        fix.kv_at = append(blob, kv_seg, sizeof(int32_t) * seq_kv);
        plan.seg_fixes.push_back(fix);
      }
      if (rule.kind == SK_RULE_PERMUTED_CAUSAL) {  // kvPos [posBatch, posHeads, seq_kv]
        const int64_t pb = int_field(env, ro, rname, "posBatch", 1, p.batch > 1 ? p.batch : 1);
        const int64_t ph = int_field(env, ro, rname, "posHeads", 1, heads_kv);
        if ((pb != 1 && pb != p.batch) || (ph != 1 && ph != heads_kv))
          expected(env, SK_ERR_SHAPE, "posBatch 1 or the batch and posHeads 1 or the key heads", rname,
                   std::to_string(pb) + " and " + std::to_string(ph));
        const int32_t* pos = int32_field(env, ro, rname, "kvPos", static_cast<size_t>(pb * ph * seq_kv));
        rule.pos_stride_h = ph == 1 ? 0 : seq_kv;
        rule.pos_stride_b = pb == 1 ? 0 : ph * seq_kv;
        rule.pos_group = p.heads_q / ph;
        plan.pos_fixes.push_back({static_cast<int>(t), static_cast<int>(r),
                                  append(blob, pos, sizeof(int32_t) * static_cast<size_t>(pb * ph * seq_kv))});
      }
    }
  }
  plan.rules_at = append(blob, &rules, sizeof rules);
}

void plan_mask(Napi::Env env, Napi::Value v, AttentionPlan& plan) {
  attn::FwdParams& p = plan.params;
  Napi::Object m = object_arg(env, v, "mask");
  const int64_t mb = int_field(env, m, "mask", "batch", 1, kMaxExtent);
  const int64_t mh = int_field(env, m, "mask", "heads", 1, kMaxExtent);
  if (mb != 1 && mb != p.batch)
    expected(env, SK_ERR_SHAPE, "1 or the batch (" + std::to_string(p.batch) + ")", "mask.batch", std::to_string(mb));
  if (mh != 1 && mh != p.heads_q)
    expected(env, SK_ERR_SHAPE, "1 or the query heads (" + std::to_string(p.heads_q) + ")", "mask.heads",
             std::to_string(mh));
  int64_t block[2];
  const char* keys[2] = {"qBlock", "kvBlock"};
  for (int i = 0; i < 2; ++i) {
    block[i] = int_field(env, m, "mask", keys[i], kMinMaskBlock, kMaxMaskBlock);
    if (block[i] % kMinMaskBlock != 0)
      expected(env, SK_ERR_INVALID_ARGUMENT, "a multiple of 16 between 16 and 256", std::string("mask.") + keys[i],
               std::to_string(block[i]));
  }
  const int64_t nq = int_field(env, m, "mask", "nQBlocks", 0, kMaxExtent);
  const int64_t nkv = int_field(env, m, "mask", "nKvBlocks", 0, kMaxExtent);
  if (nq != (p.seq_q + block[0] - 1) / block[0])
    expected(env, SK_ERR_SHAPE, "ceil(seqQ / qBlock) = " + std::to_string((p.seq_q + block[0] - 1) / block[0]),
             "mask.nQBlocks", std::to_string(nq));
  if (nkv != (p.seq_kv + block[1] - 1) / block[1])
    expected(env, SK_ERR_SHAPE, "ceil(seqKv / kvBlock) = " + std::to_string((p.seq_kv + block[1] - 1) / block[1]),
             "mask.nKvBlocks", std::to_string(nkv));
  // Lengths the arrays must have; past 2^53 no JS array can match them.
  const unsigned __int128 cells = static_cast<unsigned __int128>(mb * mh) * nq * (nkv > 0 ? nkv : 1);
  if (cells > static_cast<unsigned __int128>(kMaxSafeInteger))
    throw_error(env, SK_ERR_SHAPE, "The block mask has more than 2^53 cells");
  const size_t rows = static_cast<size_t>(mb * mh * nq);
  const int32_t* full_num = int32_field(env, m, "mask", "fullNum", rows);
  const int32_t* full_idx = int32_field(env, m, "mask", "fullIdx", rows * nkv);
  const int32_t* partial_num = int32_field(env, m, "mask", "partialNum", rows);
  const int32_t* partial_idx = int32_field(env, m, "mask", "partialIdx", rows * nkv);
  for (size_t r = 0; r < rows; ++r)
    check_row(env, static_cast<int64_t>(r), static_cast<int32_t>(nkv), full_num[r], full_idx + r * nkv, partial_num[r],
              partial_idx + r * nkv);

  auto blob = std::make_shared<std::vector<unsigned char>>();
  plan.full_num_at = append(*blob, full_num, sizeof(int32_t) * rows);
  plan.full_idx_at = append(*blob, full_idx, sizeof(int32_t) * rows * nkv);
  plan.partial_num_at = append(*blob, partial_num, sizeof(int32_t) * rows);
  plan.partial_idx_at = append(*blob, partial_idx, sizeof(int32_t) * rows * nkv);
  plan_rules(env, m.Get("rules"), p, plan, *blob);
  plan.mask_blob = std::move(blob);

  p.has_mask = true;
  p.mask_batch = static_cast<int32_t>(mb);
  p.mask_heads = static_cast<int32_t>(mh);
  p.q_block = static_cast<int32_t>(block[0]);
  p.kv_block = static_cast<int32_t>(block[1]);
  p.n_q_blocks = static_cast<int32_t>(nq);
  p.n_kv_blocks = static_cast<int32_t>(nkv);
  // Query tiles never straddle mask rows: a q_block that is not a multiple of
  // the tile leaves its last tile short (computed, not stored).
  p.q_tiles_per_block = static_cast<int32_t>((block[0] + plan.kernel->block_m - 1) / plan.kernel->block_m);
  plan.grid_x = nq * p.q_tiles_per_block;
}

}  // namespace

AttentionPlan plan_attention(Napi::Env env, Napi::Value args_value, Napi::Value mask, bool with_lse) {
  AttentionPlan plan;
  attn::FwdParams& p = plan.params;
  Napi::Object a = object_arg(env, args_value, "args");

  Napi::Value dt = a.Get("dtype");
  const double dtype = dt.IsNumber() ? dt.As<Napi::Number>().DoubleValue() : -1;
  if (!(dtype >= 0 && dtype < SK_DTYPE_COUNT) || dtype != std::floor(dtype))
    expected(env, SK_ERR_DTYPE, "a dtype id", "args.dtype", received(dt));
  const sk_dtype type = static_cast<sk_dtype>(static_cast<int>(dtype));
  if (type == SK_F32)
    throw_error(env, SK_ERR_UNSUPPORTED, "CUDA attention takes float16 or bfloat16; cast first (received float32)");
  if (type != SK_F16 && type != SK_BF16)
    expected(env, SK_ERR_DTYPE, "float16 or bfloat16", "args.dtype", sk_dtype_name(type));

  p.batch = int_field(env, a, "args", "batch", 1, kMaxExtent);
  p.heads_q = int_field(env, a, "args", "headsQ", 1, kMaxExtent);
  const int64_t heads_kv = int_field(env, a, "args", "headsKv", 1, kMaxExtent);
  p.seq_q = int_field(env, a, "args", "seqQ", 0, kMaxExtent);
  p.seq_kv = int_field(env, a, "args", "seqKv", 0, kMaxExtent);
  p.head_dim = int_field(env, a, "args", "headDim", 1, kMaxExtent);
  if (p.heads_q % heads_kv != 0)
    throw_error(env, SK_ERR_SHAPE,
                "Expected headsQ (" + std::to_string(p.heads_q) + ") to be a multiple of headsKv (" +
                    std::to_string(heads_kv) + ")");
  p.group = p.heads_q / heads_kv;
  if (p.head_dim > attn::kMaxHeadDim)
    throw_error(env, SK_ERR_UNSUPPORTED,
                "CUDA attention supports head dims up to " + std::to_string(attn::kMaxHeadDim) + "; received " +
                    std::to_string(p.head_dim));
  if (p.batch > kMaxGridYZ || p.heads_q > kMaxGridYZ)
    throw_error(env, SK_ERR_UNSUPPORTED,
                "CUDA attention supports batch and headsQ up to " + std::to_string(kMaxGridYZ) + "; received " +
                    std::to_string(p.batch) + " and " + std::to_string(p.heads_q));
  plan.kernel = attention_pick(type, p.head_dim);
  if (plan.kernel == nullptr)
    throw_error(env, SK_ERR_UNSUPPORTED, "No CUDA attention kernel for head dim " + std::to_string(p.head_dim));

  const Strides qs = strides_field(env, a, "qStrides"), ks = strides_field(env, a, "kStrides"),
                vs = strides_field(env, a, "vStrides"), os = strides_field(env, a, "outStrides");
  p.q_stride_b = qs.b, p.q_stride_h = qs.h, p.q_stride_s = qs.s;
  p.k_stride_b = ks.b, p.k_stride_h = ks.h, p.k_stride_s = ks.s;
  p.v_stride_b = vs.b, p.v_stride_h = vs.h, p.v_stride_s = vs.s;
  p.out_stride_b = os.b, p.out_stride_h = os.h, p.out_stride_s = os.s;
  const size_t elem = sk_dtype_size(type);
  plan.q_bytes = span_bytes(env, "q", p.batch, p.heads_q, p.seq_q, p.head_dim, qs, elem);
  plan.k_bytes = span_bytes(env, "k", p.batch, heads_kv, p.seq_kv, p.head_dim, ks, elem);
  plan.v_bytes = span_bytes(env, "v", p.batch, heads_kv, p.seq_kv, p.head_dim, vs, elem);
  plan.out_bytes = span_bytes(env, "out", p.batch, p.heads_q, p.seq_q, p.head_dim, os, elem);
  // lse is [batch, headsQ, seqQ] float32: < 2^16 · 2^16 · 2^31 · 4 bytes, no overflow.
  plan.lse_bytes = with_lse ? static_cast<size_t>(p.batch * p.heads_q) * static_cast<size_t>(p.seq_q) * 4 : 0;

  Napi::Value scale = a.Get("scale");
  const double sd = scale.IsNumber() ? scale.As<Napi::Number>().DoubleValue() : NAN;
  p.scale_log2 = static_cast<float>(sd) * kLog2e;
  if (!std::isfinite(sd) || !std::isfinite(p.scale_log2))
    expected(env, SK_ERR_INVALID_ARGUMENT, "a finite number (within float32 range)", "args.scale", received(scale));
  Napi::Value causal = a.Get("causal");
  if (!causal.IsBoolean()) expected(env, SK_ERR_INVALID_ARGUMENT, "a boolean", "args.causal", received(causal));
  p.causal = causal.As<Napi::Boolean>().Value();
  p.causal_offset = p.seq_kv - p.seq_q;

  // 16-byte chunks need 8-element rows and strides (the pointers are checked at bind time).
  p.vec = p.head_dim % 8 == 0;
  for (int64_t s : {qs.b, qs.h, qs.s, ks.b, ks.h, ks.s, vs.b, vs.h, vs.s, os.b, os.h, os.s}) p.vec = p.vec && s % 8 == 0;

  if (mask.IsNull() || mask.IsUndefined()) {
    plan.grid_x = (p.seq_q + plan.kernel->block_m - 1) / plan.kernel->block_m;
  } else {
    plan_mask(env, mask, plan);
  }
  return plan;
}

void bind_mask(AttentionPlan& plan, unsigned char* base) {
  if (!plan.mask_blob) return;
  auto& blob = *plan.mask_blob;
  auto* rules = reinterpret_cast<sk_mask_rules*>(blob.data() + plan.rules_at);
  for (const AttentionPlan::SegFix& f : plan.seg_fixes) {
    rules->rules[f.term][f.rule].q_seg = reinterpret_cast<const int32_t*>(base + f.q_at);
    rules->rules[f.term][f.rule].kv_seg = reinterpret_cast<const int32_t*>(base + f.kv_at);
  }
  for (const AttentionPlan::PosFix& f : plan.pos_fixes)
    rules->rules[f.term][f.rule].kv_pos = reinterpret_cast<const int32_t*>(base + f.at);
  attn::FwdParams& p = plan.params;
  p.full_num = reinterpret_cast<const int32_t*>(base + plan.full_num_at);
  p.full_idx = reinterpret_cast<const int32_t*>(base + plan.full_idx_at);
  p.partial_num = reinterpret_cast<const int32_t*>(base + plan.partial_num_at);
  p.partial_idx = reinterpret_cast<const int32_t*>(base + plan.partial_idx_at);
  p.rules = reinterpret_cast<const sk_mask_rules*>(base + plan.rules_at);
}

}  // namespace sk::cuda
