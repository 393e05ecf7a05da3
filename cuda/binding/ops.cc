// alloc, zero, copyToDevice, copyToHost, cast, synchronize. Each checks its
// arguments here, on the JS thread, then queues work on the device's stream.
// Copies use pageable host memory: the runtime stages them through its own
// pinned buffers, so they are slower than pinned copies but need no setup,
// and the launcher thread (not the JS thread) absorbs the blocking.
#include <string>

#include "../../csrc/addon/convert.h"
#include "../../csrc/addon/errors.h"
#include "../addon_cuda.h"
#include "../cast/cast.h"
#include "../common.cuh"
#include "args.h"
#include "device_buffer.h"

namespace sk::cuda {

Napi::Value CudaAddon::Alloc(const Napi::CallbackInfo& info) {
  int device = device_arg(info, 0);
  size_t bytes = count_arg(info, 1, "bytes");
  return DeviceBuffer::Wrap(*this, allocator(device).allocate(bytes));
}

Napi::Value CudaAddon::Zero(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  DeviceBuffer& buf = DeviceBuffer::FromArg(*this, info, 0, "buf");
  size_t bytes = count_arg(info, 1, "bytes");
  const DeviceMemoryRef& mem = buf.memory();
  check_fits(env, bytes, mem->bytes(), "bytes", "buf");
  if (bytes == 0) return env.Undefined();
  void* data = mem->data();
  auto job =
      std::make_unique<Job>([data, bytes](cudaStream_t s) { SK_CUDA_CHECK(cudaMemsetAsync(data, 0, bytes, s)); });
  job->settles = false;
  job->holds.push_back(mem);
  executor(mem->device()).submit(std::move(job));
  return env.Undefined();
}

Napi::Value CudaAddon::CopyToDevice(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  HostBytes src = host_bytes_arg(info, 0, "src");
  DeviceBuffer& dst = DeviceBuffer::FromArg(*this, info, 1, "dst");
  size_t bytes = count_arg(info, 2, "bytes");
  const DeviceMemoryRef& mem = dst.memory();
  check_fits(env, bytes, src.length, "bytes", "src");
  check_fits(env, bytes, mem->bytes(), "bytes", "dst");
  const void* from = src.data;
  void* to = mem->data();
  auto job = std::make_unique<JsJob>(env, [from, to, bytes](cudaStream_t s) {
    if (bytes) SK_CUDA_CHECK(cudaMemcpyAsync(to, from, bytes, cudaMemcpyHostToDevice, s));
  });
  job->keep_alive(src.owner);
  job->holds.push_back(mem);
  return submit_settling(mem->device(), std::move(job));
}

Napi::Value CudaAddon::CopyToHost(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  DeviceBuffer& src = DeviceBuffer::FromArg(*this, info, 0, "src");
  HostBytes dst = host_bytes_arg(info, 1, "dst");
  size_t bytes = count_arg(info, 2, "bytes");
  const DeviceMemoryRef& mem = src.memory();
  check_fits(env, bytes, mem->bytes(), "bytes", "src");
  check_fits(env, bytes, dst.length, "bytes", "dst");
  const void* from = mem->data();
  void* to = dst.data;
  auto job = std::make_unique<JsJob>(env, [from, to, bytes](cudaStream_t s) {
    if (bytes) SK_CUDA_CHECK(cudaMemcpyAsync(to, from, bytes, cudaMemcpyDeviceToHost, s));
  });
  job->keep_alive(dst.owner);
  job->holds.push_back(mem);
  return submit_settling(mem->device(), std::move(job));
}

Napi::Value CudaAddon::Cast(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  DeviceBuffer& src = DeviceBuffer::FromArg(*this, info, 0, "src");
  sk_dtype src_type = dtype_arg(info, 1, "srcType");
  DeviceBuffer& dst = DeviceBuffer::FromArg(*this, info, 2, "dst");
  sk_dtype dst_type = dtype_arg(info, 3, "dstType");
  size_t count = count_arg(info, 4, "count");
  bool saturate = info[5].ToBoolean().Value();
  const DeviceMemoryRef& in = src.memory();
  const DeviceMemoryRef& out = dst.memory();
  if (in->device() != out->device())
    throw_error(env, SK_ERR_DEVICE,
                "Expected src and dst on the same device but received cuda:" + std::to_string(in->device()) +
                    " and cuda:" + std::to_string(out->device()));
  check_fits(env, checked_bytes(env, count, sk_dtype_size(src_type), "count"), in->bytes(), "count × element size",
             "src");
  check_fits(env, checked_bytes(env, count, sk_dtype_size(dst_type), "count"), out->bytes(), "count × element size",
             "dst");
  if (in == out && sk_dtype_size(src_type) != sk_dtype_size(dst_type))
    throw_error(env, SK_ERR_INVALID_ARGUMENT,
                "Expected distinct src and dst buffers: an in-place cast needs types of the same size");
  sk_cast_params p{in->data(), out->data(), count, src_type, dst_type, saturate};
  auto job = std::make_unique<JsJob>(env, [p](cudaStream_t s) { cast(p, s); });
  job->holds.push_back(in);
  job->holds.push_back(out);
  return submit_settling(in->device(), std::move(job));
}

Napi::Value CudaAddon::Synchronize(const Napi::CallbackInfo& info) {
  int device = device_arg(info, 0);
  // An empty job: it finishes after everything queued before it.
  return submit_settling(device, std::make_unique<JsJob>(info.Env(), [](cudaStream_t) {}));
}

}  // namespace sk::cuda
