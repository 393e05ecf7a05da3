// JS arguments → native views for the CUDA binding, with the checks memory
// safety depends on. Counts and dtypes reuse csrc/addon/convert.h.
#pragma once
#include <napi.h>

#include <stddef.h>

namespace sk::cuda {

// The bytes of a TypedArray or DataView argument, and the ArrayBuffer (or
// SharedArrayBuffer) that owns them, to keep referenced while a copy runs.
struct HostBytes {
  void* data;
  size_t length;  // bytes
  Napi::Object owner;
};

// Throws ERR_SK_INVALID_ARGUMENT for anything but a TypedArray or DataView,
// or one over a resizable ArrayBuffer (it could shrink under a running copy),
// and ERR_SK_DISPOSED when its buffer is detached.
HostBytes host_bytes_arg(const Napi::CallbackInfo& info, size_t index, const char* name);

// Throws ERR_SK_INVALID_ARGUMENT unless bytes <= available.
void check_fits(Napi::Env env, size_t bytes, size_t available, const char* bytes_name, const char* where);

}  // namespace sk::cuda
