// CPU tensor memory that sparsekit owns: 64-byte-aligned blocks exposed to JS
// as external ArrayBuffers, freed at once by release() (dispose) or by GC.
#include <stdint.h>
#include <string.h>

#include <string>

#include "../core/host_alloc.h"
#include "addon.h"
#include "errors.h"

namespace sk {
namespace {

// The ArrayBuffer's own reference. release() and the GC finalizer may both
// try to drop it; whoever comes first does, the other finds it gone.
struct ViewRef {
  void* block;
  size_t bytes;
  bool dropped = false;
};

}  // namespace

Napi::Value SparsekitAddon::Alloc(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsNumber())
    throw_error(env, SK_ERR_INVALID_ARGUMENT, "Expected a byte count for bytes");
  double bytes = info[0].As<Napi::Number>().DoubleValue();
  // V8 caps an ArrayBuffer at 2^53 - 1; stay far below what aligned_alloc can do.
  if (!(bytes >= 0) || bytes != static_cast<double>(static_cast<uint64_t>(bytes)) || bytes > 9007199254740991.0)
    throw_error(env, SK_ERR_INVALID_ARGUMENT, "Expected a non-negative safe integer for bytes");
  size_t n = static_cast<size_t>(bytes);
  const bool zero = info.Length() > 1 && info[1].ToBoolean().Value();
  void* block = host_alloc(n);
  if (!block)
    throw_error(env, SK_ERR_OUT_OF_MEMORY, "Could not allocate " + std::to_string(n) + " bytes of host memory");
  if (zero) memset(block, 0, n);
  auto* ref = new ViewRef{block, n};
  Napi::ArrayBuffer ab = Napi::ArrayBuffer::New(
      env, block, n,
      [](Napi::Env finalize_env, void*, ViewRef* r) {
        if (!r->dropped) {
          host_release(r->block);
          Napi::MemoryManagement::AdjustExternalMemory(finalize_env, -static_cast<int64_t>(r->bytes));
        }
        delete r;
      },
      ref);
  Napi::MemoryManagement::AdjustExternalMemory(env, static_cast<int64_t>(n));
  // Keep the ViewRef reachable from the buffer for release(): a hidden
  // property would be visible to JS, so the pointer travels in an External.
  Napi::Object result = Napi::Object::New(env);
  result.Set("buffer", ab);
  Napi::External<ViewRef> handle = Napi::External<ViewRef>::New(env, ref);
  handle.TypeTag(&block_tag_);
  result.Set("handle", handle);
  return result;
}

Napi::Value SparsekitAddon::Release(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 2 || !info[0].IsArrayBuffer() || !info[1].IsExternal())
    throw_error(env, SK_ERR_INVALID_ARGUMENT, "Expected the buffer and handle that alloc() returned");
  Napi::ArrayBuffer ab = info[0].As<Napi::ArrayBuffer>();
  Napi::External<ViewRef> handle = info[1].As<Napi::External<ViewRef>>();
  if (!handle.CheckTypeTag(&block_tag_))
    throw_error(env, SK_ERR_INVALID_ARGUMENT, "Expected a host-block handle from this copy of sparsekit");
  ViewRef* ref = handle.Data();
  if (ref->dropped) return env.Undefined();
  // A zero-length ArrayBuffer has no data pointer, so only a non-empty one can be compared.
  if (ref->bytes != 0 && ab.Data() != ref->block)
    throw_error(env, SK_ERR_INVALID_ARGUMENT, "The buffer and handle passed to release() do not belong together");
  size_t n = ref->bytes;
  ab.Detach();  // JS can no longer reach the memory
  ref->dropped = true;
  host_release(ref->block);  // queued ops keep their own references
  Napi::MemoryManagement::AdjustExternalMemory(env, -static_cast<int64_t>(n));
  return env.Undefined();
}

Napi::Value SparsekitAddon::HostStats(const Napi::CallbackInfo& info) {
  sk::HostStats s = host_stats();
  Napi::Object out = Napi::Object::New(info.Env());
  out.Set("blocks", static_cast<double>(s.blocks));
  out.Set("bytes", static_cast<double>(s.bytes));
  out.Set("cachedBlocks", static_cast<double>(s.cached_blocks));
  out.Set("cachedBytes", static_cast<double>(s.cached_bytes));
  return out;
}

Napi::Value SparsekitAddon::EmptyHostCache(const Napi::CallbackInfo& info) {
  host_empty_cache();
  return info.Env().Undefined();
}

}  // namespace sk
