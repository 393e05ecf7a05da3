#include "convert.h"

#include <cmath>
#include <string>

#include "errors.h"

namespace sk {

HostView host_view_arg(const Napi::CallbackInfo& info, size_t index, const char* name, size_t bytes) {
  Napi::Env env = info.Env();
  if (index >= info.Length() || !info[index].IsTypedArray())
    throw_error(env, SK_ERR_INVALID_ARGUMENT, std::string("Expected a TypedArray for ") + name);
  Napi::TypedArray array = info[index].As<Napi::TypedArray>();
  Napi::ArrayBuffer buffer = array.ArrayBuffer();
  // A detached buffer reports zero length, so the size check covers it.
  if (array.ByteLength() < bytes || buffer.ByteLength() < array.ByteOffset() + array.ByteLength())
    throw_error(env, SK_ERR_DISPOSED,
                std::string("Expected at least ") + std::to_string(bytes) + " bytes in " + name + " but received " +
                    std::to_string(array.ByteLength()) + " (a detached or disposed buffer has 0)");
  void* data = static_cast<uint8_t*>(buffer.Data()) + array.ByteOffset();
  return {data, bytes, buffer};
}

sk_dtype dtype_arg(const Napi::CallbackInfo& info, size_t index, const char* name) {
  if (index >= info.Length() || !info[index].IsNumber())
    throw_error(info.Env(), SK_ERR_DTYPE, std::string("Expected a dtype id for ") + name);
  int t = info[index].As<Napi::Number>().Int32Value();
  if (!sk_dtype_valid(t)) throw_error(info.Env(), SK_ERR_DTYPE, std::string("Unknown dtype id for ") + name);
  return static_cast<sk_dtype>(t);
}

size_t count_arg(const Napi::CallbackInfo& info, size_t index, const char* name) {
  if (index >= info.Length() || !info[index].IsNumber())
    throw_error(info.Env(), SK_ERR_INVALID_ARGUMENT, std::string("Expected a number for ") + name);
  double v = info[index].As<Napi::Number>().DoubleValue();
  if (!(v >= 0) || v != std::floor(v) || v > 9007199254740991.0)
    throw_error(info.Env(), SK_ERR_INVALID_ARGUMENT, std::string("Expected a non-negative safe integer for ") + name);
  return static_cast<size_t>(v);
}

size_t checked_bytes(Napi::Env env, size_t count, size_t elem_size, const char* name) {
  if (elem_size != 0 && count > SIZE_MAX / elem_size)
    throw_error(env, SK_ERR_INVALID_ARGUMENT, std::string("Size overflows for ") + name);
  return count * elem_size;
}

HostView array_arg(const Napi::CallbackInfo& info, size_t index, const char* name, int64_t elems, size_t elem_size) {
  Napi::Env env = info.Env();
  if (!info[index].IsTypedArray())
    throw_error(env, SK_ERR_INVALID_ARGUMENT, std::string("Expected a TypedArray for ") + name);
  Napi::TypedArray a = info[index].As<Napi::TypedArray>();
  if (a.ElementSize() != elem_size)
    throw_error(env, SK_ERR_DTYPE, "Expected " + std::to_string(elem_size) + "-byte elements for " + name);
  if (!a.ArrayBuffer().IsDetached() && static_cast<int64_t>(a.ElementLength()) < elems)
    throw_error(env, SK_ERR_SHAPE,
                "Expected at least " + std::to_string(elems) + " elements in " + name + " but received " +
                    std::to_string(a.ElementLength()));
  return host_view_arg(info, index, name, checked_bytes(env, static_cast<size_t>(elems), elem_size, name));
}

HostView typed_arg(const Napi::CallbackInfo& info, size_t index, const char* name, napi_typedarray_type type,
                   const char* type_name, int64_t elems, size_t elem_size) {
  if (!info[index].IsTypedArray() || info[index].As<Napi::TypedArray>().TypedArrayType() != type)
    throw_error(info.Env(), SK_ERR_INVALID_ARGUMENT, std::string("Expected a ") + type_name + " for " + name);
  return array_arg(info, index, name, elems, elem_size);
}

}  // namespace sk
