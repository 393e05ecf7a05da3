// attention(q, k, v, out, lse | null, args, mask | null) → Promise<void>, and
// attentionPick(qBytes, kBytes, vBytes, outBytes, lseBytes | null, args,
// mask | null) → the kernel the call would run. attentionPick needs no
// device: it runs the same checks on byte sizes, so they are testable on a
// machine without a GPU.
#include <string>

#include "../../csrc/addon/errors.h"
#include "../addon_cuda.h"
#include "../common.cuh"
#include "attention_args.h"
#include "device_buffer.h"

namespace sk::cuda {
namespace {

void check_holds(Napi::Env env, const char* name, size_t needed, size_t has) {
  if (needed > has)
    throw_error(env, SK_ERR_SHAPE,
                std::string("Expected ") + name + " to hold at least " + std::to_string(needed) +
                    " bytes for its shape and strides but it has " + std::to_string(has));
}

size_t byte_count(Napi::Env env, Napi::Value v, const char* name) {
  const double d = v.IsNumber() ? v.As<Napi::Number>().DoubleValue() : -1;
  if (!(d >= 0 && d <= 9007199254740991.0) || d != static_cast<double>(static_cast<int64_t>(d)))
    throw_error(env, SK_ERR_INVALID_ARGUMENT, std::string("Expected a byte count for ") + name);
  return static_cast<size_t>(d);
}

}  // namespace

// Not Guarded (it touches no device), so it translates host failures itself.
Napi::Value CudaAddon::AttentionPick(const Napi::CallbackInfo& info) try {
  Napi::Env env = info.Env();
  const bool with_lse = !info[4].IsNull() && !info[4].IsUndefined();
  AttentionPlan plan = plan_attention(env, info[5], info[6], with_lse);
  check_holds(env, "q", plan.q_bytes, byte_count(env, info[0], "qBytes"));
  check_holds(env, "k", plan.k_bytes, byte_count(env, info[1], "kBytes"));
  check_holds(env, "v", plan.v_bytes, byte_count(env, info[2], "vBytes"));
  check_holds(env, "out", plan.out_bytes, byte_count(env, info[3], "outBytes"));
  if (with_lse) check_holds(env, "lse", plan.lse_bytes, byte_count(env, info[4], "lseBytes"));
  Napi::Object r = Napi::Object::New(env);
  r.Set("kernel", plan.kernel->name);
  r.Set("headDim", plan.kernel->head_dim);
  r.Set("blockM", plan.kernel->block_m);
  r.Set("blockN", plan.kernel->block_n);
  Napi::Array grid = Napi::Array::New(env, 3);
  grid.Set(0u, static_cast<double>(plan.grid_x));
  grid.Set(1u, static_cast<double>(plan.params.heads_q));
  grid.Set(2u, static_cast<double>(plan.params.batch));
  r.Set("grid", grid);
  r.Set("maskBytes", static_cast<double>(plan.mask_blob ? plan.mask_blob->size() : 0));
  r.Set("vectorized", plan.params.vec);  // before the pointers' alignment is known
  return r;
} catch (const std::bad_alloc&) {
  throw make_error(info.Env(), SK_ERR_OUT_OF_MEMORY, "out of host memory");
}

Napi::Value CudaAddon::Attention(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const char* names[4] = {"q", "k", "v", "out"};
  DeviceMemoryRef mem[4];
  for (int i = 0; i < 4; ++i) mem[i] = DeviceBuffer::FromArg(*this, info, i, names[i]).memory();
  const bool with_lse = !info[4].IsNull() && !info[4].IsUndefined();
  DeviceMemoryRef lse = with_lse ? DeviceBuffer::FromArg(*this, info, 4, "lse").memory() : nullptr;
  AttentionPlan plan = plan_attention(env, info[5], info[6], with_lse);

  const int device = mem[0]->device();
  for (const DeviceMemoryRef& m : {mem[1], mem[2], mem[3], lse})
    if (m && m->device() != device)
      throw_error(env, SK_ERR_DEVICE, "Expected q, k, v, out and lse on one device but found cuda:" +
                                          std::to_string(device) + " and cuda:" + std::to_string(m->device()));
  // Outputs are written while inputs are still being read by other blocks.
  for (int i = 0; i < 3; ++i)
    if (mem[i] == mem[3] || (lse && mem[i] == lse))
      throw_error(env, SK_ERR_INVALID_ARGUMENT,
                  std::string("Expected out and lse in buffers of their own but one is also ") + names[i]);
  if (lse && lse == mem[3]) throw_error(env, SK_ERR_INVALID_ARGUMENT, "Expected out and lse in different buffers");
  check_holds(env, "q", plan.q_bytes, mem[0]->bytes());
  check_holds(env, "k", plan.k_bytes, mem[1]->bytes());
  check_holds(env, "v", plan.v_bytes, mem[2]->bytes());
  check_holds(env, "out", plan.out_bytes, mem[3]->bytes());
  if (lse) check_holds(env, "lse", plan.lse_bytes, lse->bytes());

  attn::FwdParams& p = plan.params;
  p.q = mem[0]->data();
  p.k = mem[1]->data();
  p.v = mem[2]->data();
  p.out = mem[3]->data();
  p.lse = lse ? static_cast<float*>(lse->data()) : nullptr;
  for (const void* ptr : {p.q, p.k, p.v, static_cast<const void*>(p.out)})
    p.vec = p.vec && reinterpret_cast<uintptr_t>(ptr) % 16 == 0;

  DeviceMemoryRef mask_mem;
  if (plan.mask_blob) {
    mask_mem = allocator(device).allocate(plan.mask_blob->size());
    bind_mask(plan, static_cast<unsigned char*>(mask_mem->data()));
  }
  const bool empty = p.seq_q == 0;
  const AttentionKernel* kernel = plan.kernel;
  auto blob = plan.mask_blob;
  void* blob_dst = mask_mem ? mask_mem->data() : nullptr;
  auto job = std::make_unique<JsJob>(env, [p, kernel, blob, blob_dst, empty](cudaStream_t s) {
    if (empty) return;
    // The blob lives in this job until it settles, so the pageable copy's source outlives it.
    if (blob) SK_CUDA_CHECK(cudaMemcpyAsync(blob_dst, blob->data(), blob->size(), cudaMemcpyHostToDevice, s));
    attention_forward(*kernel, p, s);
  });
  for (DeviceMemoryRef& m : mem) job->holds.push_back(m);
  if (lse) job->holds.push_back(lse);
  if (mask_mem) job->holds.push_back(mask_mem);
  return submit_settling(device, std::move(job));
}

}  // namespace sk::cuda
