// DeviceBuffer: device memory as JS sees it, { device, bytes, free() }.
// Each instance is type-tagged with its addon's per-load random tag, so an
// object from another copy of the addon (or any look-alike) is refused
// before its pointer is trusted. free() returns the memory at once (it goes
// back to the cache when queued work that uses it has finished); the GC
// finalizer does the same for buffers nobody freed.
#pragma once
#include <napi.h>

#include "../allocator.h"

namespace sk::cuda {

class CudaAddon;

class DeviceBuffer : public Napi::ObjectWrap<DeviceBuffer> {
 public:
  static Napi::Function Define(Napi::Env env);
  // The only way to make one: JS cannot construct a DeviceBuffer itself.
  static Napi::Object Wrap(CudaAddon& addon, DeviceMemoryRef memory);
  // The live buffer passed as info[index]: ERR_SK_INVALID_ARGUMENT when it
  // is not one of this addon's DeviceBuffers, ERR_SK_DISPOSED after free().
  static DeviceBuffer& FromArg(CudaAddon& addon, const Napi::CallbackInfo& info, size_t index, const char* name);

  explicit DeviceBuffer(const Napi::CallbackInfo& info);

  const DeviceMemoryRef& memory() const { return memory_; }

 private:
  Napi::Value Device(const Napi::CallbackInfo& info);
  Napi::Value Bytes(const Napi::CallbackInfo& info);
  Napi::Value Free(const Napi::CallbackInfo& info);

  DeviceMemoryRef memory_;  // null after free()
  int device_ = 0;
  double bytes_ = 0;
};

}  // namespace sk::cuda
