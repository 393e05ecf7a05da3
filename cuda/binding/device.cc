// status(), deviceInfo(), memory(), emptyCache(): facts about the devices.
#include <string>

#include "../addon_cuda.h"

namespace sk::cuda {

Napi::Value CudaAddon::Status(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object out = Napi::Object::New(env);
  out.Set("available", status_.available);
  out.Set("reason", status_.reason);
  out.Set("deviceCount", status_.device_count);
  out.Set("runtimeVersion", status_.runtime_version);
  out.Set("driverVersion", status_.driver_version);
  out.Set("archs", compiled_archs());
  return out;
}

Napi::Value CudaAddon::DeviceInfo(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int device = device_arg(info, 0);
  DeviceProps p = device_props(device);
  Napi::Object out = Napi::Object::New(env);
  out.Set("index", device);
  out.Set("name", p.name);
  out.Set("computeCapability", std::to_string(p.major) + "." + std::to_string(p.minor));
  out.Set("totalMemory", static_cast<double>(p.total_memory));
  out.Set("multiprocessors", p.multiprocessors);
  return out;
}

Napi::Value CudaAddon::Memory(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  MemoryStats s = allocator(device_arg(info, 0)).stats();
  Napi::Object out = Napi::Object::New(env);
  out.Set("allocatedBytes", static_cast<double>(s.allocated_bytes));
  out.Set("cachedBytes", static_cast<double>(s.cached_bytes));
  out.Set("buffers", static_cast<double>(s.buffers));
  return out;
}

Napi::Value CudaAddon::EmptyCache(const Napi::CallbackInfo& info) {
  allocator(device_arg(info, 0)).empty_cache();
  return info.Env().Undefined();
}

}  // namespace sk::cuda
