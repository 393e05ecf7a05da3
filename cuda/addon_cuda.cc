// The CUDA addon's exports table, per-environment state and teardown.
#include "addon_cuda.h"

#include <random>
#include <string>

#include "../csrc/addon/errors.h"
#include "binding/device_buffer.h"
#include "common.cuh"

namespace sk::cuda {
namespace {

// A fresh tag per load, as better-sqlite3 does: two copies of the addon in
// one process (two installs, two worker envs) must not accept each other's
// objects, whose layout may differ.
napi_type_tag random_tag() {
  std::random_device rd;
  auto draw = [&] { return (static_cast<uint64_t>(rd()) << 32) | rd(); };
  return {draw(), draw()};
}

}  // namespace

CudaAddon::CudaAddon(Napi::Env env, Napi::Object exports) : status_(probe_cuda()), buffer_tag_(random_tag()) {
  buffer_class_ = Napi::Persistent(DeviceBuffer::Define(env));
  completion_ = std::make_unique<JsCompletion>(env);
  allocators_.resize(status_.device_count);
  executors_.resize(status_.device_count);
  // Runs before the environment's handles go away: waits for queued work,
  // then returns this environment's device memory.
  env.AddCleanupHook([this] { shutdown(); });
  DefineAddon(exports, {
                           InstanceMethod("status", &CudaAddon::Status),
                           InstanceMethod("deviceInfo", &CudaAddon::Guarded<&CudaAddon::DeviceInfo>),
                           InstanceMethod("alloc", &CudaAddon::Guarded<&CudaAddon::Alloc>),
                           InstanceMethod("zero", &CudaAddon::Guarded<&CudaAddon::Zero>),
                           InstanceMethod("copyToDevice", &CudaAddon::Guarded<&CudaAddon::CopyToDevice>),
                           InstanceMethod("copyToHost", &CudaAddon::Guarded<&CudaAddon::CopyToHost>),
                           InstanceMethod("cast", &CudaAddon::Guarded<&CudaAddon::Cast>),
                           InstanceMethod("memory", &CudaAddon::Guarded<&CudaAddon::Memory>),
                           InstanceMethod("emptyCache", &CudaAddon::Guarded<&CudaAddon::EmptyCache>),
                           InstanceMethod("synchronize", &CudaAddon::Guarded<&CudaAddon::Synchronize>),
                           InstanceMethod("attention", &CudaAddon::Guarded<&CudaAddon::Attention>),
                           InstanceMethod("attentionPick", &CudaAddon::AttentionPick),
                           InstanceMethod("linear", &CudaAddon::Guarded<&CudaAddon::Linear>),
                           InstanceMethod("linearPick", &CudaAddon::LinearPick),
                           InstanceMethod("blockScores", &CudaAddon::Guarded<&CudaAddon::BlockScores>),
                           InstanceMethod("blockScoresPick", &CudaAddon::BlockScoresPick),
                           InstanceMethod("gatherRows", &CudaAddon::Guarded<&CudaAddon::GatherRows>),
                           InstanceMethod("gatherRowsPick", &CudaAddon::GatherRowsPick),
                           InstanceMethod("kvCreate", &CudaAddon::Guarded<&CudaAddon::KvCreate>),
                           InstanceMethod("kvAppend", &CudaAddon::Guarded<&CudaAddon::KvAppend>),
                           InstanceMethod("kvDecode", &CudaAddon::Guarded<&CudaAddon::KvDecode>),
                           InstanceMethod("kvStats", &CudaAddon::Guarded<&CudaAddon::KvStats>),
                           InstanceMethod("kvRelease", &CudaAddon::Guarded<&CudaAddon::KvRelease>),
                           InstanceMethod("sp24Layout", &CudaAddon::Sp24Layout),
                           InstanceMethod("cusparseLtStatus", &CudaAddon::CusparseLtStatus),
                           InstanceMethod("cusparseLtCompressedBytes",
                                          &CudaAddon::Guarded<&CudaAddon::CusparseLtCompressedBytes>),
                           InstanceMethod("cusparseLtCompress", &CudaAddon::Guarded<&CudaAddon::CusparseLtCompress>),
                       });
}

CudaAddon::~CudaAddon() { shutdown(); }

template <CudaAddon::Method M>
Napi::Value CudaAddon::Guarded(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!status_.available) throw_error(env, SK_ERR_DEVICE, "CUDA is not available: " + status_.reason);
  if (shut_down_) throw_error(env, SK_ERR_DEVICE, "the CUDA addon has shut down with its environment");
  try {
    return (this->*M)(info);
  } catch (const CudaFailure& e) {
    throw make_error(env, e.status(), e.what());
  } catch (const std::bad_alloc&) {
    throw make_error(env, SK_ERR_OUT_OF_MEMORY, "out of host memory");
  } catch (const Napi::Error&) {
    throw;
  } catch (const std::exception& e) {  // e.g. std::system_error when a thread cannot start
    throw make_error(env, SK_ERR_UNSUPPORTED, e.what());
  }
}

int CudaAddon::device_arg(const Napi::CallbackInfo& info, size_t index) {
  Napi::Value v = info[index];
  double d = v.IsNumber() ? v.As<Napi::Number>().DoubleValue() : -1;
  if (!(d >= 0 && d < status_.device_count && d == static_cast<int>(d)))
    throw_error(info.Env(), SK_ERR_DEVICE,
                "Expected a CUDA device index between 0 and " + std::to_string(status_.device_count - 1) +
                    " but received " + (v.IsNumber() ? v.ToString().Utf8Value() : "a non-number"));
  return static_cast<int>(d);
}

CachingAllocator& CudaAddon::allocator(int device) {
  auto& slot = allocators_.at(device);
  if (!slot) slot = CachingAllocator::create(device);
  return *slot;
}

StreamExecutor& CudaAddon::executor(int device) {
  auto& slot = executors_.at(device);
  if (!slot) {
    JsCompletion* completion = completion_.get();
    slot = std::make_unique<StreamExecutor>(
        device, [completion](std::unique_ptr<Job> job) { completion->post(std::move(job)); });
  }
  return *slot;
}

Napi::Value CudaAddon::submit_settling(int device, std::unique_ptr<JsJob> job) {
  Napi::Env env = job->deferred.Env();
  Napi::Promise promise = job->deferred.Promise();
  StreamExecutor& exec = executor(device);
  completion_->will_settle(env);
  exec.submit(std::move(job));
  return promise;
}

void CudaAddon::shutdown() {
  if (shut_down_) return;
  shut_down_ = true;
  // Executors first: their jobs hold device memory and JS references, and
  // the unfinished ones must be destroyed here, on the JS thread.
  for (auto& exec : executors_) {
    if (!exec) continue;
    std::vector<std::unique_ptr<Job>> unfinished = exec->shutdown();
    unfinished.clear();
    exec.reset();
  }
  for (auto& alloc : allocators_)
    if (alloc) alloc->close();  // blocks still held by DeviceBuffers go to the driver when GC'd
  completion_->close();
}

}  // namespace sk::cuda

using sk::cuda::CudaAddon;
NODE_API_ADDON(CudaAddon)
