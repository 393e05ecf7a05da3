// Decode over a paged KV cache on CUDA: the CPU binding's calls
// (csrc/addon/op_decode.cc) with device buffers, their arguments parsed and
// checked by the same csrc/addon/decode_args.cc:
//   kvCreate(args with device) → cache       bookkeeping on the host, pages in device memory
//   kvAppend(cache, k, v, count, args) → Promise<void>
//   kvDecode(cache, q, out, lse, selCount, selPages, streaming, args) → Promise<void>
//   kvStats(cache), kvRelease(cache)
// Pages are reserved on the JS thread (a refusal changes nothing); the page
// table, lengths and flags a job reads travel in one blob uploaded by the job.
// New slabs are zeroed by the next append's job, before its kernel.
#include <string.h>

#include <memory>
#include <string>
#include <vector>

#include "../../csrc/addon/decode_args.h"
#include "../../csrc/addon/errors.h"
#include "../addon_cuda.h"
#include "../common.cuh"
#include "../decode/decode.h"
#include "args.h"
#include "device_buffer.h"
#include "linear_args.h"

namespace sk::cuda {
namespace {

constexpr napi_type_tag kKvTag = {0x6b76637564614b56ULL, 0x2e9d04c1b7a35f68ULL};

struct QuestTop {  // a Quest selection's top pages on the device, and how many calls it has served
  QuestKey key;
  int64_t uses = 0, stride = 0;
  DeviceMemoryRef count, pages;
};

struct KvBox {
  int device = 0, multiprocessors = 1;
  std::shared_ptr<KvPages> pages;  // null once released
  std::shared_ptr<std::vector<DeviceMemoryRef>> fresh = std::make_shared<std::vector<DeviceMemoryRef>>();
  std::shared_ptr<QuestTop> quest;
};

KvBox& box_arg(const Napi::CallbackInfo& info) { return kv_box_arg<KvBox>(info, kKvTag); }

DeviceMemoryRef on_device(CudaAddon& addon, const Napi::CallbackInfo& info, size_t i, const char* name, int device,
                          size_t need) {
  DeviceMemoryRef m = DeviceBuffer::FromArg(addon, info, i, name).memory();
  if (m->device() != device)
    throw_error(info.Env(), SK_ERR_DEVICE,
                std::string("Expected ") + name + " on the cache's device cuda:" + std::to_string(device));
  check_holds(info.Env(), name, need, m->bytes());
  return m;
}

// Host bytes appended to a blob at an 8-byte boundary; returns their offset.
template <class T>
size_t put(std::vector<unsigned char>& blob, const T* data, size_t n) {
  const size_t at = (blob.size() + 7) / 8 * 8;
  blob.resize(at + n * sizeof(T));
  if (n) memcpy(blob.data() + at, data, n * sizeof(T));
  return at;
}

// What a job uploads: the cache's page tables, then the op's own arrays
// (put() after this); `view` gives the pages once the blob's device copy is known.
struct Blob {
  std::shared_ptr<std::vector<unsigned char>> bytes = std::make_shared<std::vector<unsigned char>>();
  size_t at_kv = 0, at_meta = 0;
  int64_t stride = 0;
  explicit Blob(const KvPages& pages) {
    std::vector<uint8_t*> kv, meta;
    pages.tables(&kv, &meta, &stride);
    at_kv = put(*bytes, kv.data(), kv.size()), at_meta = put(*bytes, meta.data(), meta.size());
  }
  sk_kv_pages view(const KvPages& pages, unsigned char* device) const {
    return pages.view(reinterpret_cast<uint8_t* const*>(device + at_kv),
                      reinterpret_cast<uint8_t* const*>(device + at_meta), stride);
  }
};

}  // namespace

Napi::Value CudaAddon::KvCreate(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const KvConfig c = kv_create_args(env, info[0]);
  const Napi::Value dv = info[0].As<Napi::Object>().Get("device");
  const double d = dv.IsNumber() ? dv.As<Napi::Number>().DoubleValue() : -1;
  if (!(d >= 0 && d < status_.device_count && d == static_cast<int>(d)))
    throw_error(env, SK_ERR_DEVICE,
                "Expected a CUDA device index below " + std::to_string(status_.device_count) + " for args.device");
  const int device = static_cast<int>(d);
  auto box = std::make_unique<KvBox>();
  box->device = device;
  {
    DeviceGuard guard(device);
    SK_CUDA_CHECK(cudaDeviceGetAttribute(&box->multiprocessors, cudaDevAttrMultiProcessorCount, device));
  }
  allocator(device);  // created on the JS thread, before the pool grows from an append
  std::shared_ptr<CachingAllocator> alloc = allocators_.at(device);
  auto fresh = box->fresh;
  box->pages = std::make_shared<KvPages>(c, [alloc, fresh](size_t bytes) -> KvPages::Slab {
    DeviceMemoryRef m;
    try {
      m = alloc->allocate(bytes);
    } catch (const CudaFailure&) {
      return nullptr;  // KvPages reports the append as out of memory, changing nothing
    }
    fresh->push_back(m);
    return KvPages::Slab(static_cast<uint8_t*>(m->data()), [m](uint8_t*) {});
  });
  auto handle = Napi::External<KvBox>::New(env, box.release(), [](Napi::Env, KvBox* b) { delete b; });
  handle.TypeTag(&kKvTag);
  return handle;
}

Napi::Value CudaAddon::KvAppend(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  KvBox& box = box_arg(info);
  KvAppendPlan plan = kv_append_args(env, *box.pages, info[3], info[4]);
  sk_kv_append_params p = plan.params;
  const size_t es = sk_dtype_size(p.in_type);
  DeviceMemoryRef k = on_device(*this, info, 1, "k", box.device, static_cast<size_t>(plan.k_elems) * es);
  DeviceMemoryRef v = on_device(*this, info, 2, "v", box.device, static_cast<size_t>(plan.v_elems) * es);
  const std::vector<int64_t> start = box.pages->lengths();
  std::string why;
  const sk_status st = box.pages->append(plan.count.data(), &why);
  if (st != SK_OK) throw_error(env, st, why);
  const Blob b(*box.pages);
  const size_t at_start = put(*b.bytes, start.data(), start.size());
  const size_t at_count = put(*b.bytes, plan.count.data(), plan.count.size());
  auto blob = b.bytes;
  DeviceMemoryRef dev = allocator(box.device).allocate(blob->size());
  auto* base = static_cast<unsigned char*>(dev->data());
  p.k = k->data(), p.v = v->data();
  p.start = reinterpret_cast<const int64_t*>(base + at_start),
  p.count = reinterpret_cast<const int64_t*>(base + at_count);
  p.cache = b.view(*box.pages, base);
  auto zero = std::make_shared<std::vector<DeviceMemoryRef>>();
  zero->swap(*box.fresh);
  auto job = std::make_unique<JsJob>(env, [p, blob, base, zero, keep = box.pages](cudaStream_t s) {
    for (const DeviceMemoryRef& m : *zero) SK_CUDA_CHECK(cudaMemsetAsync(m->data(), 0, m->bytes(), s));
    SK_CUDA_CHECK(cudaMemcpyAsync(base, blob->data(), blob->size(), cudaMemcpyHostToDevice, s));
    kv_append_forward(p, s);
  });
  job->holds.push_back(k), job->holds.push_back(v), job->holds.push_back(dev);
  return submit_settling(box.device, std::move(job));
}

Napi::Value CudaAddon::KvDecode(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  KvBox& box = box_arg(info);
  DecodePlan plan = decode_args(env, *box.pages, info[6], info[7]);
  sk_decode_params p = plan.params;
  const size_t es = sk_dtype_size(p.q_type);
  DeviceMemoryRef q = on_device(*this, info, 1, "q", box.device, static_cast<size_t>(plan.q_elems) * es);
  DeviceMemoryRef out = on_device(*this, info, 2, "out", box.device, static_cast<size_t>(plan.out_elems) * es);
  DeviceMemoryRef lse;
  const bool with_lse = !info[3].IsNull() && !info[3].IsUndefined();
  if (with_lse) lse = on_device(*this, info, 3, "lse", box.device, static_cast<size_t>(plan.lse_elems) * sizeof(float));
  if (out == q || (lse && (lse == q || lse == out)))
    throw_error(env, SK_ERR_INVALID_ARGUMENT, "Expected out and lse in buffers of their own");
  const int64_t pairs = p.batch * p.cache.kv_heads;
  HostBytes sel[2] = {};
  const char* sel_names[2] = {"selCount", "selPages"};
  const int64_t sel_elems[2] = {pairs, pairs * plan.sel_stride};
  for (int i = 0; i < 2; ++i) {
    if (info[4 + i].IsNull() || info[4 + i].IsUndefined()) continue;
    if (!info[4 + i].IsTypedArray() || info[4 + i].As<Napi::TypedArray>().TypedArrayType() != napi_int32_array)
      throw_error(env, SK_ERR_INVALID_ARGUMENT, std::string("Expected an Int32Array for ") + sel_names[i]);
    sel[i] = host_bytes_arg(info, 4 + i, sel_names[i]);
    if (sel[i].length < static_cast<size_t>(sel_elems[i]) * sizeof(int32_t))
      throw_error(env, SK_ERR_SHAPE, "Expected " + std::to_string(sel_elems[i]) + " elements in " + sel_names[i]);
  }

  const std::vector<int64_t> lengths = box.pages->lengths();
  p.lengths = lengths.data();  // the host copy, for the grid's size
  const DecodeShape shape = decode_shape(p, box.multiprocessors);
  const DecodeScratch layout = decode_scratch(p, shape);
  const Blob b(*box.pages);
  const size_t at_lengths = put(*b.bytes, lengths.data(), lengths.size());
  const size_t at_streaming = put(*b.bytes, plan.streaming.data(), plan.streaming.size());
  auto blob = b.bytes;
  DeviceMemoryRef dev = allocator(box.device).allocate(blob->size());
  DeviceMemoryRef scratch = allocator(box.device).allocate(layout.bytes);
  auto* base = static_cast<unsigned char*>(dev->data());
  p.q = q->data(), p.out = out->data(), p.lse = lse ? static_cast<float*>(lse->data()) : nullptr;
  p.lengths = reinterpret_cast<const int64_t*>(base + at_lengths);
  p.cache = b.view(*box.pages, base);
  p.streaming = plan.streaming.empty() ? nullptr : base + at_streaming;
  std::vector<DeviceMemoryRef> holds = {q, out, lse, dev, scratch};
  if (p.method == SK_DECODE_QUEST) {
    // The stream runs jobs in order, so the selection a later call reuses is written before it runs.
    p.reuse_top = box.quest && box.quest->key == plan.quest && box.quest->uses < plan.reuse;
    if (!p.reuse_top) {
      auto top = std::make_shared<QuestTop>();
      top->key = plan.quest, top->stride = std::min(p.budget, plan.sel_stride);
      top->count = allocator(box.device).allocate(static_cast<size_t>(pairs) * sizeof(int32_t));
      top->pages = allocator(box.device).allocate(static_cast<size_t>(pairs * top->stride) * sizeof(int32_t));
      box.quest = top;
    }
    box.quest->uses++;
    p.top_stride = box.quest->stride;
    p.top_count = static_cast<int32_t*>(box.quest->count->data()),
    p.top_pages = static_cast<int32_t*>(box.quest->pages->data());
    holds.push_back(box.quest->count), holds.push_back(box.quest->pages);
  }
  void* to_host[2] = {sel[0].data, sel[1].data};
  const size_t from[2] = {layout.sel_count, layout.sel_pages};
  const size_t bytes[2] = {static_cast<size_t>(sel_elems[0]) * 4, static_cast<size_t>(sel_elems[1]) * 4};
  auto job = std::make_unique<JsJob>(env, [p, shape, blob, base, keep = box.pages, scratch_ptr = scratch->data(),
                                           to_host, from, bytes](cudaStream_t s) {
    SK_CUDA_CHECK(cudaMemcpyAsync(base, blob->data(), blob->size(), cudaMemcpyHostToDevice, s));
    decode_forward(p, shape, scratch_ptr, s);
    for (int i = 0; i < 2; ++i)
      if (to_host[i])
        SK_CUDA_CHECK(cudaMemcpyAsync(to_host[i], static_cast<unsigned char*>(scratch_ptr) + from[i], bytes[i],
                                      cudaMemcpyDeviceToHost, s));
  });
  for (int i = 0; i < 2; ++i)
    if (sel[i].data) job->keep_alive(sel[i].owner);
  for (DeviceMemoryRef& m : holds)
    if (m) job->holds.push_back(std::move(m));
  return submit_settling(box.device, std::move(job));
}

Napi::Value CudaAddon::KvStats(const Napi::CallbackInfo& info) {
  return kv_stats_object(info.Env(), *box_arg(info).pages);
}

Napi::Value CudaAddon::KvRelease(const Napi::CallbackInfo& info) {
  KvBox& box = box_arg(info);
  box.pages.reset();  // queued jobs keep their own references
  box.quest.reset();
  box.fresh->clear();
  return info.Env().Undefined();
}

}  // namespace sk::cuda
