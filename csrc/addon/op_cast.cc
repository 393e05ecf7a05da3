// cast(src, srcType, dst, dstType, count, saturate) → Promise<void>, run by
// the executor; castSync(...) runs the same kernel on the calling thread, for
// building tensors from JS values (sk.tensor(numbers, dims, 'float16'), randn).
#include <algorithm>
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

}  // namespace

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
