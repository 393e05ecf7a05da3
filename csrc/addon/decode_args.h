// The decode ops' arguments, checked once for the CPU and CUDA bindings
// (lib/ops/decode.ts validates first; what memory safety depends on is checked
// again here). Each parser fills the op's params struct but for its buffers'
// pointers, and says how many elements each buffer must hold; a binding
// checks its own buffers (TypedArrays, device buffers) against that.
#pragma once
#include <napi.h>
#include <stdint.h>

#include <vector>

#include "../core/kv_pages.h"
#include "../core/params.h"
#include "errors.h"

namespace sk {

// kvCreate's args: { type, batch, kvHeads, headDim, pageSize, maxPages }.
KvConfig kv_create_args(Napi::Env env, const Napi::Value& args);

struct KvAppendPlan {
  sk_kv_append_params params{};  // k, v, start, count and cache.table are the binding's
  std::vector<int64_t> count;    // [batch] tokens per sequence, copied and checked in [0, seq]
  int64_t k_elems = 0, v_elems = 0;
};

// kvAppend's count (an Int32Array [batch]) and args: { inType, seq, kStrides, vStrides }.
KvAppendPlan kv_append_args(Napi::Env env, const KvPages& cache, const Napi::Value& count, const Napi::Value& args);

// Which selection a Quest call makes, so a later call knows whether it may reuse it.
struct QuestKey {
  int64_t budget = 0, sink = 0, recent = 0;
  std::vector<uint8_t> streaming;
  bool operator==(const QuestKey& o) const {
    return budget == o.budget && sink == o.sink && recent == o.recent && streaming == o.streaming;
  }
};

struct DecodePlan {
  sk_decode_params params{};       // buffers, lengths, tables and the selection arrays are the binding's
  std::vector<uint8_t> streaming;  // [kv_heads] copied, or empty
  QuestKey quest;                  // QUEST calls
  int64_t reuse = 1;               // QUEST: calls a selection serves
  int64_t q_elems = 0, out_elems = 0, lse_elems = 0;
  int64_t sel_stride = 0;  // pages per (batch, KV head) in sel arrays: the most of any sequence
};

// kvDecode's streaming flags (a Uint8Array [kvHeads] or null) and args:
// { qType, headsQ, seqQ, qStrides, outStrides, scale, method, budget, sink,
// recent, reuse, streamingSink, streamingRecent }. Every sequence must hold
// at least seqQ tokens (ERR_SK_SHAPE).
DecodePlan decode_args(Napi::Env env, const KvPages& cache, const Napi::Value& streaming, const Napi::Value& args);

// A decode op's cache argument (info[0]): an External<Box> with the binding's
// type tag (a forged or foreign handle is refused) whose pages are live.
template <class Box>
Box& kv_box_arg(const Napi::CallbackInfo& info, const napi_type_tag& tag) {
  Napi::Env env = info.Env();
  if (!info[0].IsExternal() || !info[0].As<Napi::External<Box>>().CheckTypeTag(&tag))
    throw_error(env, SK_ERR_INVALID_ARGUMENT, "Expected a KV cache handle from this device's kvCreate for cache");
  Box& box = *info[0].As<Napi::External<Box>>().Data();
  if (!box.pages) throw_error(env, SK_ERR_DISPOSED, "Expected a live KV cache but received a disposed one");
  return box;
}

// kvStats' answer: { lengths, pages, pooledPages, pooledBytes, pageBytes }.
Napi::Object kv_stats_object(Napi::Env env, const KvPages& pages);

}  // namespace sk
