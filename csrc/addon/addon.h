// The CPU addon's per-environment instance (context-aware: each worker_thread
// that loads sparsekit gets its own executor and kernel choice).
#pragma once
#include <napi.h>

#include <memory>

#include "../core/cpu_features.h"
#include "executor.h"

namespace sk {

class SparsekitAddon : public Napi::Addon<SparsekitAddon> {
 public:
  SparsekitAddon(Napi::Env env, Napi::Object exports);

 private:
  // Every exported method runs through this: a native allocation that fails
  // while the arguments are checked and copied is ERR_SK_OUT_OF_MEMORY.
  template <Napi::Value (SparsekitAddon::*Method)(const Napi::CallbackInfo&)>
  Napi::Value Coded(const Napi::CallbackInfo& info);
  // addon.cc
  Napi::Value CpuInfo(const Napi::CallbackInfo& info);
  Napi::Value SetNumThreads(const Napi::CallbackInfo& info);
  Napi::Value NumThreads(const Napi::CallbackInfo& info);
  // memory.cc
  Napi::Value Alloc(const Napi::CallbackInfo& info);
  Napi::Value Release(const Napi::CallbackInfo& info);
  Napi::Value HostStats(const Napi::CallbackInfo& info);
  Napi::Value EmptyHostCache(const Napi::CallbackInfo& info);
  // op_cast.cc
  Napi::Value Cast(const Napi::CallbackInfo& info);
  Napi::Value CastSync(const Napi::CallbackInfo& info);
  Napi::Value StreamRead(const Napi::CallbackInfo& info);
  // op_attention.cc
  Napi::Value Attention(const Napi::CallbackInfo& info);
  Napi::Value AttentionPick(const Napi::CallbackInfo& info);
  // op_spmm.cc
  Napi::Value SpmmAnalyze(const Napi::CallbackInfo& info);
  Napi::Value SpmmPrune(const Napi::CallbackInfo& info);
  Napi::Value SpmmPack(const Napi::CallbackInfo& info);
  Napi::Value SpmmPlan(const Napi::CallbackInfo& info);
  Napi::Value SpmmRelease(const Napi::CallbackInfo& info);
  Napi::Value Spmm(const Napi::CallbackInfo& info);
  // op_linear.cc
  Napi::Value Linear(const Napi::CallbackInfo& info);
  Napi::Value Sp24(const Napi::CallbackInfo& info);
  Napi::Value BlockScores(const Napi::CallbackInfo& info);   // op_prefill.cc
  Napi::Value GatherRows(const Napi::CallbackInfo& info);    // op_prefill.cc
  Napi::Value SelectBlocks(const Napi::CallbackInfo& info);  // op_prefill.cc
  Napi::Value SegmentOrder(const Napi::CallbackInfo& info);  // op_prefill.cc
  Napi::Value VslashPlan(const Napi::CallbackInfo& info);    // op_prefill.cc
  // op_decode.cc
  Napi::Value KvCreate(const Napi::CallbackInfo& info);
  Napi::Value KvAppend(const Napi::CallbackInfo& info);
  Napi::Value KvDecode(const Napi::CallbackInfo& info);
  Napi::Value KvStats(const Napi::CallbackInfo& info);
  Napi::Value KvRelease(const Napi::CallbackInfo& info);

  // Tags the handles this load hands out, random per load, so a handle from
  // another copy of the addon (or a forged object) is refused, not trusted.
  napi_type_tag block_tag_;
  sk_cpu_features features_;
  sk_isa isa_;
  bool isa_forced_ = false;
  std::shared_ptr<Executor> executor_;  // shared with the environment's cleanup hook (addon.cc)
};

}  // namespace sk
