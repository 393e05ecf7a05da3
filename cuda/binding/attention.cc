// attention(q, k, v, out, lse | null, args, mask | null) → Promise<void>, and
// attentionPick(args, mask | null, bytes?) → the kernel the call would run.
// The arguments are parsed by csrc/addon/attention_args.cc (shared with the
// CPU binding) and judged by the backend's attention_pick(); attentionPick
// needs no device, so every check is testable on a machine without a GPU.
#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include "../../csrc/addon/args.h"
#include "../../csrc/addon/attention_args.h"
#include "../../csrc/addon/errors.h"
#include "../addon_cuda.h"
#include "../attention/attention.h"
#include "../common.cuh"
#include "device_buffer.h"

namespace sk::cuda {
namespace {

const AttentionKernel& picked(Napi::Env env, const sk_attention_params& p) {
  const sk_pick<const AttentionKernel*> pick = attention_pick(p);
  if (!pick.ok()) throw_error(env, pick.status, pick.reason);
  return *pick.kernel;
}

// FP8 scales (args.fp8, copied by the parser) packed for one upload: q's,
// k's, v's and k's mean back to back (no padding: float arrays need only 4-byte alignment).
struct Fp8Upload {
  std::vector<float> packed;
  size_t k_at = 0, v_at = 0, mean_at = 0;
};

std::shared_ptr<Fp8Upload> pack_fp8(const Fp8Scales& f) {
  auto u = std::make_shared<Fp8Upload>();
  u->k_at = f.q.size(), u->v_at = u->k_at + f.k.size(), u->mean_at = u->v_at + f.v.size();
  u->packed.reserve(u->mean_at + f.k_mean.size());
  for (const std::vector<float>* part : {&f.q, &f.k, &f.v, &f.k_mean})
    u->packed.insert(u->packed.end(), part->begin(), part->end());
  return u;
}

void check_holds(Napi::Env env, const char* name, int64_t elems, size_t elem_bytes, size_t has) {
  const double needed = static_cast<double>(elems) * static_cast<double>(elem_bytes);
  if (needed > static_cast<double>(has))
    expected(env, SK_ERR_SHAPE, "at least " + num(static_cast<int64_t>(needed)) + " bytes for its shape and strides",
             name, num(static_cast<int64_t>(has)));
}

}  // namespace

// Not Guarded (it touches no device), so it translates host failures itself.
Napi::Value CudaAddon::AttentionPick(const Napi::CallbackInfo& info) try {
  Napi::Env env = info.Env();
  const bool with_lse = info[2].IsObject() && !info[2].As<Napi::Object>().Get("lse").IsNull();
  AttentionCall call = parse_attention(env, info[0], info[1], with_lse);
  const AttentionKernel& kernel = picked(env, call.params);
  check_pick_bytes(env, call, info[2]);
  sk_attention_params p = call.params;
  if (call.mask) p.mask = &call.mask->mask;  // geometry only: fwd_params reads no array here
  const attn::FwdParams f = fwd_params(p, kernel, nullptr);
  Napi::Object r = Napi::Object::New(env);
  r.Set("kernel", kernel.name);
  r.Set("scratchBytes", 0);
  r.Set("headDim", kernel.head_dim);
  r.Set("blockM", kernel.block_m);
  r.Set("blockN", kernel.block_n);
  Napi::Array grid = Napi::Array::New(env, 3);
  grid.Set(0u, static_cast<double>(fwd_grid_x(f, kernel)));
  grid.Set(1u, static_cast<double>(p.heads_q));
  grid.Set(2u, static_cast<double>(p.batch));
  r.Set("grid", grid);
  r.Set("maskBytes", static_cast<double>(call.mask ? call.mask->bytes.size() : 0));
  r.Set("vectorized", f.vec);  // null pointers: before the buffers' alignment is known
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
  AttentionCall call = parse_attention(env, info[5], info[6], with_lse);
  sk_attention_params p = call.params;
  const AttentionKernel& kernel = picked(env, p);

  const int device = mem[0]->device();
  for (const DeviceMemoryRef& m : {mem[1], mem[2], mem[3], lse})
    if (m && m->device() != device)
      throw_error(env, SK_ERR_DEVICE,
                  "Expected q, k, v, out and lse on one device but found cuda:" + std::to_string(device) +
                      " and cuda:" + std::to_string(m->device()));
  // Outputs are written while inputs are still being read by other blocks.
  for (int i = 0; i < 3; ++i)
    if (mem[i] == mem[3] || (lse && mem[i] == lse))
      throw_error(env, SK_ERR_INVALID_ARGUMENT,
                  std::string("Expected out and lse in buffers of their own but one is also ") + names[i]);
  if (lse && lse == mem[3]) throw_error(env, SK_ERR_INVALID_ARGUMENT, "Expected out and lse in different buffers");
  const size_t es = sk_dtype_size(p.dtype);
  check_holds(env, "q", call.q_elems, es, mem[0]->bytes());
  check_holds(env, "k", call.k_elems, es, mem[1]->bytes());
  check_holds(env, "v", call.v_elems, es, mem[2]->bytes());
  check_holds(env, "out", call.out_elems, call.fp8 ? sizeof(float) : es, mem[3]->bytes());  // FP8 writes float32
  if (lse) check_holds(env, "lse", call.lse_elems, sizeof(float), lse->bytes());

  p.q = mem[0]->data(), p.k = mem[1]->data(), p.v = mem[2]->data(), p.out = mem[3]->data();
  p.lse = lse ? static_cast<float*>(lse->data()) : nullptr;
  DeviceMemoryRef mask_mem;
  const sk_mask_rules* rules = nullptr;
  auto blob = call.mask;
  if (blob) {  // one upload: the lists, the per-token arrays and the rules, pointing into the device copy
    mask_mem = allocator(device).allocate(blob->bytes.size());
    const auto* base = static_cast<const unsigned char*>(mask_mem->data());
    p.mask = &blob->bind(base);
    rules = reinterpret_cast<const sk_mask_rules*>(base + blob->rules_at);
  }
  DeviceMemoryRef fp8_mem;
  std::shared_ptr<Fp8Upload> fp8 = call.fp8 ? pack_fp8(*call.fp8) : nullptr;
  sk_fp8_scales fp8_dev{};
  if (fp8) {  // the kernel reads the device copy, uploaded by the job
    fp8_mem = allocator(device).allocate(std::max<size_t>(fp8->packed.size(), 1) * sizeof(float));
    const float* base = static_cast<const float*>(fp8_mem->data());
    fp8_dev = {call.fp8->scales.tile, base, base + fp8->k_at, base + fp8->v_at,
               call.fp8->k_mean.empty() ? nullptr : base + fp8->mean_at};
    p.fp8 = &fp8_dev;
  }
  const attn::FwdParams f = fwd_params(p, kernel, rules);
  const bool empty = p.batch == 0 || p.seq_q == 0;
  const AttentionKernel* k = &kernel;
  void* blob_dst = mask_mem ? mask_mem->data() : nullptr;
  void* fp8_dst = fp8_mem ? fp8_mem->data() : nullptr;
  auto job = std::make_unique<JsJob>(env, [f, k, blob, blob_dst, fp8, fp8_dst, empty](cudaStream_t s) {
    if (empty) return;
    // The blob and the scales live in this job until it settles, so the pageable copies' sources outlive them.
    if (blob)
      SK_CUDA_CHECK(cudaMemcpyAsync(blob_dst, blob->bytes.data(), blob->bytes.size(), cudaMemcpyHostToDevice, s));
    if (fp8)
      SK_CUDA_CHECK(
          cudaMemcpyAsync(fp8_dst, fp8->packed.data(), fp8->packed.size() * sizeof(float), cudaMemcpyHostToDevice, s));
    attention_forward(*k, f, s);
  });
  for (DeviceMemoryRef& m : mem) job->holds.push_back(m);
  if (lse) job->holds.push_back(lse);
  if (mask_mem) job->holds.push_back(mask_mem);
  if (fp8_mem) job->holds.push_back(fp8_mem);
  return submit_settling(device, std::move(job));
}

}  // namespace sk::cuda
