// The CUDA addon's per-environment instance (context-aware: each
// worker_thread that loads it gets its own executors, allocators and
// thread-safe function; the CUDA context itself is per process). The
// contract is CudaBinding in lib/native.ts.
#pragma once
#include <napi.h>

#include <memory>
#include <vector>

#include "allocator.h"
#include "binding/js_jobs.h"
#include "device_status.h"
#include "stream_executor.h"

namespace sk::cuda {

class CudaAddon : public Napi::Addon<CudaAddon> {
 public:
  CudaAddon(Napi::Env env, Napi::Object exports);
  ~CudaAddon();

  const napi_type_tag& buffer_tag() const { return buffer_tag_; }
  Napi::FunctionReference& buffer_class() { return buffer_class_; }
  // Handed from DeviceBuffer::Wrap to the constructor it calls.
  DeviceMemoryRef constructing;

 private:
  using Method = Napi::Value (CudaAddon::*)(const Napi::CallbackInfo&);
  // Every method but status(): refuses with the reason when CUDA is
  // unavailable, and turns CUDA failures into errors with a code.
  template <Method M>
  Napi::Value Guarded(const Napi::CallbackInfo& info);

  // A device index argument: ERR_SK_DEVICE when out of range.
  int device_arg(const Napi::CallbackInfo& info, size_t index);
  CachingAllocator& allocator(int device);
  StreamExecutor& executor(int device);
  // Queues a job that settles a Promise; returns that Promise.
  Napi::Value submit_settling(int device, std::unique_ptr<JsJob> job);
  void shutdown();

  // binding/device.cc
  Napi::Value Status(const Napi::CallbackInfo& info);
  Napi::Value DeviceInfo(const Napi::CallbackInfo& info);
  Napi::Value Memory(const Napi::CallbackInfo& info);
  Napi::Value EmptyCache(const Napi::CallbackInfo& info);
  // binding/ops.cc
  Napi::Value Alloc(const Napi::CallbackInfo& info);
  Napi::Value Zero(const Napi::CallbackInfo& info);
  Napi::Value CopyToDevice(const Napi::CallbackInfo& info);
  Napi::Value CopyToHost(const Napi::CallbackInfo& info);
  Napi::Value Cast(const Napi::CallbackInfo& info);
  Napi::Value Synchronize(const Napi::CallbackInfo& info);
  // binding/attention.cc (attentionPick needs no device: it only checks)
  Napi::Value Attention(const Napi::CallbackInfo& info);
  Napi::Value AttentionPick(const Napi::CallbackInfo& info);
  // binding/linear.cc (linearPick, sp24Layout, cusparseLtStatus need no device)
  Napi::Value Linear(const Napi::CallbackInfo& info);
  Napi::Value LinearPick(const Napi::CallbackInfo& info);
  Napi::Value Sp24Layout(const Napi::CallbackInfo& info);
  Napi::Value CusparseLtStatus(const Napi::CallbackInfo& info);
  Napi::Value CusparseLtCompressedBytes(const Napi::CallbackInfo& info);
  Napi::Value CusparseLtCompress(const Napi::CallbackInfo& info);

  // binding/prefill.cc (blockScoresPick, gatherRowsPick need no device)
  Napi::Value BlockScores(const Napi::CallbackInfo& info);
  Napi::Value BlockScoresPick(const Napi::CallbackInfo& info);
  Napi::Value GatherRows(const Napi::CallbackInfo& info);
  Napi::Value GatherRowsPick(const Napi::CallbackInfo& info);

  // binding/decode.cc
  Napi::Value KvCreate(const Napi::CallbackInfo& info);
  Napi::Value KvAppend(const Napi::CallbackInfo& info);
  Napi::Value KvDecode(const Napi::CallbackInfo& info);
  Napi::Value KvStats(const Napi::CallbackInfo& info);
  Napi::Value KvRelease(const Napi::CallbackInfo& info);

  CudaStatus status_;
  napi_type_tag buffer_tag_;
  Napi::FunctionReference buffer_class_;
  std::unique_ptr<JsCompletion> completion_;
  // Per device, created on first use so that loading touches no device.
  std::vector<std::shared_ptr<CachingAllocator>> allocators_;
  std::vector<std::unique_ptr<StreamExecutor>> executors_;
  bool shut_down_ = false;
};

}  // namespace sk::cuda
