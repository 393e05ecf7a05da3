#include "device_buffer.h"

#include <string>

#include "../../csrc/addon/errors.h"
#include "../addon_cuda.h"

namespace sk::cuda {

Napi::Function DeviceBuffer::Define(Napi::Env env) {
  return DefineClass(env, "DeviceBuffer",
                     {
                         InstanceAccessor<&DeviceBuffer::Device>("device", napi_enumerable),
                         InstanceAccessor<&DeviceBuffer::Bytes>("bytes", napi_enumerable),
                         InstanceMethod<&DeviceBuffer::Free>("free"),
                     });
}

Napi::Object DeviceBuffer::Wrap(CudaAddon& addon, DeviceMemoryRef memory) {
  addon.constructing = std::move(memory);
  Napi::Object object = addon.buffer_class().New({});
  addon.constructing.reset();  // left set only if the constructor failed
  return object;
}

DeviceBuffer::DeviceBuffer(const Napi::CallbackInfo& info) : Napi::ObjectWrap<DeviceBuffer>(info) {
  Napi::Env env = info.Env();
  auto* addon = env.GetInstanceData<CudaAddon>();
  if (!addon || !addon->constructing)
    throw_error(env, SK_ERR_INVALID_ARGUMENT, "DeviceBuffer cannot be constructed from JS; use alloc()");
  memory_ = std::move(addon->constructing);
  device_ = memory_->device();
  bytes_ = static_cast<double>(memory_->bytes());
  info.This().As<Napi::Object>().TypeTag(&addon->buffer_tag());
}

DeviceBuffer& DeviceBuffer::FromArg(CudaAddon& addon, const Napi::CallbackInfo& info, size_t index, const char* name) {
  Napi::Env env = info.Env();
  Napi::Value value = info[index];
  if (!value.IsObject() || !value.As<Napi::Object>().CheckTypeTag(&addon.buffer_tag()))
    throw_error(env, SK_ERR_INVALID_ARGUMENT,
                std::string("Expected a DeviceBuffer from this addon's alloc() for ") + name);
  DeviceBuffer* buffer = Unwrap(value.As<Napi::Object>());
  if (!buffer) throw_error(env, SK_ERR_INVALID_ARGUMENT, std::string("Expected a live DeviceBuffer for ") + name);
  if (!buffer->memory_)
    throw_error(env, SK_ERR_DISPOSED, std::string("The DeviceBuffer passed as ") + name + " was freed");
  return *buffer;
}

Napi::Value DeviceBuffer::Device(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), device_); }

Napi::Value DeviceBuffer::Bytes(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), bytes_); }

Napi::Value DeviceBuffer::Free(const Napi::CallbackInfo& info) {
  memory_.reset();  // a second free() is a no-op, like dispose()
  return info.Env().Undefined();
}

}  // namespace sk::cuda
