#include "args.h"

#include <string>

#include "../../csrc/addon/errors.h"

namespace sk::cuda {
namespace {

size_t element_size(napi_typedarray_type type) {
  switch (type) {
    case napi_int8_array:
    case napi_uint8_array:
    case napi_uint8_clamped_array: return 1;
    case napi_int16_array:
    case napi_uint16_array: return 2;
    case napi_int32_array:
    case napi_uint32_array:
    case napi_float32_array: return 4;
    case napi_float64_array:
    case napi_bigint64_array:
    case napi_biguint64_array: return 8;
    default: return 0;
  }
}

const char* type_name(const Napi::Value& v) {
  if (v.IsUndefined()) return "undefined";
  if (v.IsNull()) return "null";
  if (v.IsNumber()) return "number";
  if (v.IsString()) return "string";
  if (v.IsBoolean()) return "boolean";
  if (v.IsArray()) return "Array";
  if (v.IsArrayBuffer()) return "ArrayBuffer";
  if (v.IsFunction()) return "function";
  return "object";
}

}  // namespace

HostBytes host_bytes_arg(const Napi::CallbackInfo& info, size_t index, const char* name) {
  Napi::Env env = info.Env();
  Napi::Value value = info[index];
  void* data = nullptr;
  size_t length = 0;
  napi_value buffer = nullptr;
  size_t offset = 0;
  if (value.IsTypedArray()) {
    napi_typedarray_type type;
    size_t elements = 0;
    NAPI_THROW_IF_FAILED(env, napi_get_typedarray_info(env, value, &type, &elements, &data, &buffer, &offset), {});
    size_t size = element_size(type);
    if (size == 0) throw_error(env, SK_ERR_INVALID_ARGUMENT, std::string("Unsupported TypedArray kind for ") + name);
    length = elements * size;
  } else if (value.IsDataView()) {
    NAPI_THROW_IF_FAILED(env, napi_get_dataview_info(env, value, &length, &data, &buffer, &offset), {});
  } else {
    throw_error(env, SK_ERR_INVALID_ARGUMENT,
                std::string("Expected a TypedArray or DataView for ") + name + " but received " + type_name(value));
  }
  Napi::Object owner(env, buffer);
  bool detached = false;
  NAPI_THROW_IF_FAILED(env, napi_is_detached_arraybuffer(env, buffer, &detached), {});
  if (detached)
    throw_error(env, SK_ERR_DISPOSED,
                std::string("The ArrayBuffer behind ") + name + " is detached (transferred or disposed)");
  if (owner.Get("resizable").ToBoolean().Value())
    throw_error(env, SK_ERR_INVALID_ARGUMENT,
                std::string("Expected a fixed-length buffer for ") + name +
                    " but received a view of a resizable ArrayBuffer, which could shrink while the copy runs");
  return {data, length, owner};
}

void check_fits(Napi::Env env, size_t bytes, size_t available, const char* bytes_name, const char* where) {
  if (bytes > available)
    throw_error(env, SK_ERR_INVALID_ARGUMENT,
                std::string("Expected at most ") + std::to_string(available) + " for " + bytes_name + " (the size of " +
                    where + ") but received " + std::to_string(bytes));
}

}  // namespace sk::cuda
