// Decode over a paged KV cache on the executor (lib/ops/decode.ts validates
// first; decode_args.cc checks again what memory safety depends on):
//   kvCreate(args) → cache                                  a handle: bookkeeping and host pages
//   kvAppend(cache, k, v, count, args) → Promise<void>      sk_kv_append_params
//   kvDecode(cache, q, out, lse, selCount, selPages, streaming, args) → Promise<void>   sk_decode_params
//   kvStats(cache) → { lengths, pages, pooledPages, pooledBytes, pageBytes }
//   kvRelease(cache)                                        later uses: ERR_SK_DISPOSED
// Pages are reserved (and the pool grown) here, on the JS thread, so an
// append past what memory allows fails at once and leaves the cache as it
// was; the jobs get copies of the page tables and lengths they read.
#include <string.h>
#include <sys/mman.h>

#include <memory>
#include <string>
#include <vector>

#include "../cpu/dispatch.h"
#include "addon.h"
#include "convert.h"
#include "decode_args.h"
#include "errors.h"
#include "holds.h"

namespace sk {
namespace {

constexpr napi_type_tag kKvTag = {0x6b7663616368652dULL, 0x51c3a9e07d2b4f16ULL};

// A Quest selection's top pages, and how many calls it has served.
struct QuestTop {
  QuestKey key;
  int64_t uses = 0;
  std::vector<int32_t> count, pages;
};

struct KvBox {
  std::shared_ptr<KvPages> pages;  // null once released
  std::shared_ptr<QuestTop> quest;
};

KvBox& box_arg(const Napi::CallbackInfo& info) { return kv_box_arg<KvBox>(info, kKvTag); }

// What a job reads, copied on the JS thread.
struct JobState {
  std::shared_ptr<KvPages> pages;  // keeps the slabs alive
  std::vector<uint8_t*> kv, meta;  // the page tables
  std::vector<int64_t> start, count, lengths;
  std::vector<int32_t> sel_count, sel_pages;
  std::vector<uint8_t> streaming;
  std::shared_ptr<QuestTop> quest;

  // Copies the cache's page tables; returns the pages as the kernels read them.
  sk_kv_pages take_tables(const std::shared_ptr<KvPages>& from) {
    pages = from;
    int64_t stride;
    from->tables(&kv, &meta, &stride);
    return from->view(kv, meta, stride);
  }
};

// Slab memory for the pool: fresh anonymous pages, so zero without a memset
// here (the append that first writes them faults them in, on the executor's
// threads), 2 MiB-aligned and advised as transparent huge pages: a slab holds
// KV heads' runs of pages that decode reads end to end, and on 4 KiB pages
// each 4 KiB of them costs a TLB walk and a new hardware-prefetch stream.
KvPages::Slab map_slab(size_t bytes) {
  constexpr size_t kHuge = size_t{2} << 20;
  const size_t n = (bytes + kHuge - 1) / kHuge * kHuge;
  void* raw = mmap(nullptr, n + kHuge, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (raw == MAP_FAILED) return nullptr;
  const uintptr_t at = (reinterpret_cast<uintptr_t>(raw) + kHuge - 1) & ~(kHuge - 1);
  const size_t head = at - reinterpret_cast<uintptr_t>(raw);
  if (head) munmap(raw, head);
  if (kHuge - head) munmap(reinterpret_cast<void*>(at + n), kHuge - head);
#ifdef MADV_HUGEPAGE
  madvise(reinterpret_cast<void*>(at), n, MADV_HUGEPAGE);  // advice only: without it the pages are 4 KiB
#endif
  return KvPages::Slab(reinterpret_cast<uint8_t*>(at), [n](uint8_t* p) { munmap(p, n); });
}

// An optional Int32Array output of at least n elements, or null.
int32_t* optional_int32(const Napi::CallbackInfo& info, size_t index, const char* name, int64_t n, Holds& holds) {
  if (info[index].IsNull() || info[index].IsUndefined()) return nullptr;
  HostView v = typed_arg(info, index, name, napi_int32_array, "Int32Array", n, sizeof(int32_t));
  holds.hold(v);
  return static_cast<int32_t*>(v.data);
}

}  // namespace

Napi::Value SparsekitAddon::KvCreate(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const KvConfig c = kv_create_args(env, info[0]);
  auto pages = std::make_shared<KvPages>(c, map_slab);
  auto handle = Napi::External<KvBox>::New(env, new KvBox{pages, nullptr}, [](Napi::Env, KvBox* b) { delete b; });
  handle.TypeTag(&kKvTag);
  return handle;
}

Napi::Value SparsekitAddon::KvAppend(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  KvBox& box = box_arg(info);
  KvAppendPlan plan = kv_append_args(env, *box.pages, info[3], info[4]);
  sk_kv_append_params p = plan.params;
  const size_t es = sk_dtype_size(p.in_type);
  HostView k = array_arg(info, 1, "k", plan.k_elems, es);
  HostView v = array_arg(info, 2, "v", plan.v_elems, es);
  const sk_cast_kernel cast = sk_cpu_cast_pick(sk_cast_params{nullptr, nullptr, 0, SK_F32, p.cache.type, true}, isa_);
  if (!cast.fn) throw_error(env, SK_ERR_UNSUPPORTED, "No cast kernel for the cache's type on this CPU");
  auto job = std::make_shared<JobState>();
  job->start = box.pages->lengths();
  std::string why;
  const sk_status st = box.pages->append(plan.count.data(), &why);
  if (st != SK_OK) throw_error(env, st, why);
  job->count = std::move(plan.count);
  p.cache = job->take_tables(box.pages);
  p.k = k.data, p.v = v.data, p.start = job->start.data(), p.count = job->count.data();
  auto holds = std::make_shared<Holds>();
  holds->hold(k), holds->hold(v);
  return submit_op(*executor_, env, holds, [p, job, fn = cast.fn](ThreadPool& pool) {
    if (sk_cpu_kv_append_run(p, fn, pool) != SK_OK)
      return JobResult{SK_ERR_OUT_OF_MEMORY, "out of memory for the append's rows"};
    return JobResult{};
  });
}

Napi::Value SparsekitAddon::KvDecode(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  KvBox& box = box_arg(info);
  DecodePlan plan = decode_args(env, *box.pages, info[6], info[7]);
  sk_decode_params p = plan.params;
  const size_t es = sk_dtype_size(p.q_type);
  auto holds = std::make_shared<Holds>();
  HostView q = array_arg(info, 1, "q", plan.q_elems, es);
  HostView out = array_arg(info, 2, "out", plan.out_elems, es);
  holds->hold(q), holds->hold(out);
  if (!info[3].IsNull() && !info[3].IsUndefined()) {
    HostView lse = typed_arg(info, 3, "lse", napi_float32_array, "Float32Array", plan.lse_elems, sizeof(float));
    holds->hold(lse);
    p.lse = static_cast<float*>(lse.data);
  }
  const int64_t pairs = p.batch * p.cache.kv_heads;
  int32_t* sel_count_out = optional_int32(info, 4, "selCount", pairs, *holds);
  int32_t* sel_pages_out = optional_int32(info, 5, "selPages", pairs * plan.sel_stride, *holds);
  p.q = q.data, p.out = out.data;
  const sk_decode_kernel kernel = sk_cpu_decode_pick(p, isa_);
  if (!kernel.fn) throw_error(env, SK_ERR_UNSUPPORTED, "No decode kernel for this cache and these queries on this CPU");

  auto job = std::make_shared<JobState>();
  p.cache = job->take_tables(box.pages);
  job->lengths = box.pages->lengths();
  job->sel_count.resize(static_cast<size_t>(pairs));
  job->sel_pages.resize(static_cast<size_t>(pairs * plan.sel_stride));
  job->streaming = std::move(plan.streaming);
  p.lengths = job->lengths.data();
  p.sel_count = job->sel_count.data(), p.sel_pages = job->sel_pages.data();
  p.streaming = job->streaming.empty() ? nullptr : job->streaming.data();
  if (p.method == SK_DECODE_QUEST) {
    // The executor runs jobs in order, so the selection a later call reuses is written before it runs.
    p.reuse_top = box.quest && box.quest->key == plan.quest && box.quest->uses < plan.reuse;
    if (!p.reuse_top) {
      p.top_stride = std::min(p.budget, plan.sel_stride);
      box.quest = std::make_shared<QuestTop>();
      box.quest->key = plan.quest;
      box.quest->count.resize(static_cast<size_t>(pairs));
      box.quest->pages.resize(static_cast<size_t>(pairs * p.top_stride));
    } else {
      p.top_stride = static_cast<int64_t>(box.quest->pages.size()) / pairs;
    }
    box.quest->uses++;
    job->quest = box.quest;
    p.top_count = box.quest->count.data(), p.top_pages = box.quest->pages.data();
  }
  const int64_t sel_stride = plan.sel_stride;
  return submit_op(
      *executor_, env, holds, [p, kernel, job, sel_count_out, sel_pages_out, pairs, sel_stride](ThreadPool& pool) {
        if (sk_cpu_decode_run(p, kernel, pool) != SK_OK)
          return JobResult{SK_ERR_OUT_OF_MEMORY, "out of memory for the decode scratch"};
        if (sel_count_out) memcpy(sel_count_out, job->sel_count.data(), static_cast<size_t>(pairs) * sizeof(int32_t));
        if (sel_pages_out)
          memcpy(sel_pages_out, job->sel_pages.data(), static_cast<size_t>(pairs * sel_stride) * sizeof(int32_t));
        return JobResult{};
      });
}

Napi::Value SparsekitAddon::KvStats(const Napi::CallbackInfo& info) {
  return kv_stats_object(info.Env(), *box_arg(info).pages);
}

Napi::Value SparsekitAddon::KvRelease(const Napi::CallbackInfo& info) {
  KvBox& box = box_arg(info);
  box.pages.reset();  // queued jobs keep their own references
  box.quest.reset();
  return info.Env().Undefined();
}

}  // namespace sk
