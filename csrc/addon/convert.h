// JS values → native views, with the checks memory safety depends on.
#pragma once
#include <napi.h>

#include <stddef.h>
#include <stdint.h>

#include "../core/dtype.h"

namespace sk {

// A typed array's memory as the kernel sees it.
struct HostView {
  void* data;
  size_t bytes;
  Napi::ArrayBuffer buffer;  // keep referenced until the op completes
};

// A TypedArray argument with at least `bytes` bytes that is not detached.
HostView host_view_arg(const Napi::CallbackInfo& info, size_t index, const char* name, size_t bytes);
sk_dtype dtype_arg(const Napi::CallbackInfo& info, size_t index, const char* name);
// A non-negative integer (a count or size) that fits in size_t and in 2^53.
size_t count_arg(const Napi::CallbackInfo& info, size_t index, const char* name);
// count * elem_size, or an ERR_SK_INVALID_ARGUMENT error if it overflows.
size_t checked_bytes(Napi::Env env, size_t count, size_t elem_size, const char* name);
// A TypedArray argument of elem_size-byte elements holding at least `elems`
// of them (ERR_SK_DTYPE for another element size, ERR_SK_SHAPE when short).
HostView array_arg(const Napi::CallbackInfo& info, size_t index, const char* name, int64_t elems, size_t elem_size);
// The same, of one TypedArray kind (type_name for messages: "Int32Array").
HostView typed_arg(const Napi::CallbackInfo& info, size_t index, const char* name, napi_typedarray_type type,
                   const char* type_name, int64_t elems, size_t elem_size);

}  // namespace sk
