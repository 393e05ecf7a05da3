// cast(src, srcType, dst, dstType, count, saturate) → Promise<void>, run by
// the executor; castSync(...) runs the same kernel on the calling thread, for
// building tensors from JS values (sk.tensor(numbers, dims, 'float16'), randn).
// streamRead(src, words) → Promise<void>: reads src once on every thread, the
// benchmarks' memory-bandwidth yardstick (bench/, the decode suite).
#include <algorithm>
#include <atomic>
#include <memory>

#include "../core/host_alloc.h"
#include "../cpu/dispatch.h"
#include "addon.h"
#include "convert.h"
#include "errors.h"
#include "holds.h"

namespace sk {
namespace {

constexpr size_t kCastGrain = 1 << 16;  // elements per task: big enough to amortize the hand-off

struct CastCall {
  sk_cast_params params;
  sk_cast_kernel kernel;
  HostView src, dst;
};

CastCall parse_cast(const Napi::CallbackInfo& info, sk_isa isa) {
  Napi::Env env = info.Env();
  sk_cast_params p{};
  p.src_type = dtype_arg(info, 1, "srcType");
  p.dst_type = dtype_arg(info, 3, "dstType");
  p.count = count_arg(info, 4, "count");
  p.saturate = info.Length() > 5 && info[5].ToBoolean().Value();
  HostView src = host_view_arg(info, 0, "src", checked_bytes(env, p.count, sk_dtype_size(p.src_type), "src"));
  HostView dst = host_view_arg(info, 2, "dst", checked_bytes(env, p.count, sk_dtype_size(p.dst_type), "dst"));
  p.src = src.data;
  p.dst = dst.data;
  sk_cast_kernel kernel = sk_cpu_cast_pick(p, isa);
  if (!kernel.fn) throw_error(env, SK_ERR_UNSUPPORTED, "No cast kernel for these dtypes on this CPU");
  return {p, kernel, src, dst};
}

// Reads n 64-bit words; four independent XOR chains keep the loads streaming.
// The result is folded into an atomic so the reads cannot be dropped.
void read_words(const uint64_t* w, size_t n) {
  uint64_t a = 0, b = 0, c = 0, d = 0;
  size_t i = 0;
  for (; i + 4 <= n; i += 4) a ^= w[i], b ^= w[i + 1], c ^= w[i + 2], d ^= w[i + 3];
  for (; i < n; ++i) a ^= w[i];
  static std::atomic<uint64_t> sink{0};
  sink.fetch_xor(a ^ b ^ c ^ d, std::memory_order_relaxed);
}

}  // namespace

Napi::Value SparsekitAddon::StreamRead(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const size_t words = count_arg(info, 1, "words");
  HostView src = host_view_arg(info, 0, "src", checked_bytes(env, words, 8, "src"));
  auto holds = std::make_shared<Holds>();
  holds->hold(src);
  const uint64_t* w = static_cast<const uint64_t*>(src.data);
  if (reinterpret_cast<uintptr_t>(w) % 8)
    throw_error(env, SK_ERR_INVALID_ARGUMENT, "Expected src to start on an 8-byte boundary");
  return submit_op(*executor_, env, holds, [w, words](ThreadPool& pool) {
    const size_t tasks = (words + kCastGrain - 1) / kCastGrain;
    pool.parallel_for(tasks,
                      [&](size_t t) { read_words(w + t * kCastGrain, std::min(kCastGrain, words - t * kCastGrain)); });
    return JobResult{};
  });
}

Napi::Value SparsekitAddon::CastSync(const Napi::CallbackInfo& info) {
  CastCall c = parse_cast(info, isa_);
  c.kernel.fn(&c.params);
  return info.Env().Undefined();
}

Napi::Value SparsekitAddon::Cast(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  CastCall c = parse_cast(info, isa_);
  const sk_cast_params p = c.params;
  const sk_cast_kernel kernel = c.kernel;
  HostView& src = c.src;
  HostView& dst = c.dst;
  auto holds = std::make_shared<Holds>();
  holds->hold(src);
  holds->hold(dst);
  return submit_op(*executor_, env, holds, [p, kernel](ThreadPool& pool) {
    const size_t tasks = (p.count + kCastGrain - 1) / kCastGrain;
    const size_t src_size = sk_dtype_size(p.src_type), dst_size = sk_dtype_size(p.dst_type);
    pool.parallel_for(tasks, [&](size_t t) {
      sk_cast_params part = p;
      const size_t begin = t * kCastGrain;
      part.count = std::min(kCastGrain, p.count - begin);
      part.src = static_cast<const uint8_t*>(p.src) + begin * src_size;
      part.dst = static_cast<uint8_t*>(p.dst) + begin * dst_size;
      kernel.fn(&part);
    });
    return JobResult{};
  });
}

}  // namespace sk
