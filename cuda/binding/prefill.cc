// Dynamic sparse prefill on CUDA (lib/prefill/native.ts validates first; what
// memory safety depends on is checked again here, on the JS thread):
//   blockScores(q, k, out, args) → Promise<void>: sk_block_scores_params, out float32 on the device
//   blockScoresPick(qBytes, kBytes, outBytes, args) → the plan (no device)
//   gatherRows(src, idx, dst, args) → Promise<void>: sk_gather_rows_params, idx an Int32Array on the host
//   gatherRowsPick(srcBytes, idx, dstBytes, args) → the plan (no device)
// The indices are copied on the host, checked against [0, seq) and only then
// uploaded, so no kernel reads an index that was not checked.
#include <math.h>

#include <memory>
#include <string>
#include <vector>

#include "../../csrc/addon/args.h"
#include "../../csrc/addon/errors.h"
#include "../addon_cuda.h"
#include "../common.cuh"
#include "../prefill/prefill.h"
#include "device_buffer.h"
#include "linear_args.h"

namespace sk::cuda {
namespace {

constexpr int64_t kMaxGrid = 2147483647;  // gridDim.x

// Bytes a [n0, n1, n2, d] strided view of elem_size-byte elements reaches.
size_t reach_bytes(Napi::Env env, int64_t n0, int64_t n1, int64_t n2, int64_t d, const int64_t s[3], size_t elem_size,
                   const char* name) {
  const int64_t elems = strided_reach(env, n0, n1, n2, d, s, name);
  int64_t bytes;
  if (__builtin_mul_overflow(elems, static_cast<int64_t>(elem_size), &bytes))
    throw_error(env, SK_ERR_SHAPE, std::string("Size overflows for ") + name);
  return static_cast<size_t>(bytes);
}

int64_t checked_product(Napi::Env env, std::initializer_list<int64_t> factors, const char* name) {
  int64_t r = 1;
  for (int64_t f : factors)
    if (__builtin_mul_overflow(r, f, &r)) throw_error(env, SK_ERR_SHAPE, std::string("Size overflows for ") + name);
  return r;
}

struct ScoresPlan {
  sk_block_scores_params params{};
  size_t q_bytes = 0, k_bytes = 0, out_bytes = 0, scratch_bytes = 0;
};

// The CPU binding's checks (csrc/addon/op_prefill.cc), with float16 / bfloat16 only.
ScoresPlan plan_scores(Napi::Env env, Napi::Value args_value) {
  if (!args_value.IsObject()) throw_error(env, SK_ERR_INVALID_ARGUMENT, "Expected an args object");
  Napi::Object a = args_value.As<Napi::Object>();
  ScoresPlan plan;
  sk_block_scores_params& p = plan.params;
  const int64_t dt = args_int(env, a, "dtype", 0, SK_DTYPE_COUNT - 1, SK_ERR_DTYPE);
  if (dt != SK_F16 && dt != SK_BF16)
    throw_error(env, SK_ERR_DTYPE, "Expected float16 or bfloat16 for blockScores on CUDA (cast float32 first)");
  p.dtype = static_cast<sk_dtype>(dt);
  int64_t qs[3], ks[3];
  block_scores_args(env, a, p, qs, ks);
  if (p.method != SK_SCORE_XATTENTION && p.stride != 1)
    throw_error(env, SK_ERR_INVALID_ARGUMENT, "Expected args.stride 1 for methods 2, 3 and 4 on CUDA");
  plan.q_bytes = reach_bytes(env, p.batch, p.heads_q, p.seq, p.head_dim, qs, 2, "q");
  plan.k_bytes = reach_bytes(env, p.batch, p.heads_kv, p.seq, p.head_dim, ks, 2, "k");
  const int64_t nb = (p.seq + p.block - 1) / p.block;
  const int64_t per_head = p.method == SK_SCORE_KEY_IMPORTANCE   ? p.seq
                           : p.method == SK_SCORE_VERTICAL_SLASH ? 2 * p.seq
                                                                 : checked_product(env, {nb, nb}, "out");
  plan.out_bytes = static_cast<size_t>(checked_product(env, {p.batch, p.heads_q, per_head, 4}, "out"));
  // Scratch and grid sizes: each factor is checked so that the kernels' int64 indexing cannot overflow.
  checked_product(env, {p.batch, p.heads_q + p.heads_kv, nb, p.block, nb, 8}, "the scratch");
  checked_product(env, {p.batch, p.heads_q, p.seq, 8}, "the scratch");
  if (block_scores_grid(p) > kMaxGrid)
    throw_error(env, SK_ERR_SHAPE, "Expected fewer (batch × heads × blocks) for CUDA grids");
  plan.scratch_bytes = p.batch == 0 ? 0 : block_scores_scratch_bytes(p);
  return plan;
}

struct GatherPlan {
  sk_gather_rows_params params{};
  std::shared_ptr<std::vector<int32_t>> idx;
  size_t src_bytes = 0, dst_bytes = 0;
};

GatherPlan plan_gather(Napi::Env env, Napi::Value idx_value, Napi::Value args_value) {
  if (!args_value.IsObject()) throw_error(env, SK_ERR_INVALID_ARGUMENT, "Expected an args object");
  Napi::Object a = args_value.As<Napi::Object>();
  GatherPlan plan;
  sk_gather_rows_params& p = plan.params;
  int64_t ss[3];
  gather_rows_args(env, a, p, ss);
  if (p.elem_size != 1 && p.elem_size != 2 && p.elem_size != 4 && p.elem_size != 8)
    throw_error(env, SK_ERR_INVALID_ARGUMENT, "Expected args.elemSize 1, 2, 4 or 8");
  const int64_t n = checked_product(env, {p.batch, p.heads, p.seq}, "idx");
  plan.dst_bytes = static_cast<size_t>(checked_product(env, {n, p.row, static_cast<int64_t>(p.elem_size)}, "dst"));
  plan.src_bytes = reach_bytes(env, p.batch, p.heads, p.seq, p.row, ss, p.elem_size, "src");
  if (!idx_value.IsTypedArray() || idx_value.As<Napi::TypedArray>().TypedArrayType() != napi_int32_array)
    throw_error(env, SK_ERR_INVALID_ARGUMENT, "Expected an Int32Array for idx");
  Napi::Int32Array ia = idx_value.As<Napi::Int32Array>();
  if (ia.ArrayBuffer().IsDetached()) throw_error(env, SK_ERR_DISPOSED, "The ArrayBuffer behind idx is detached");
  if (static_cast<int64_t>(ia.ElementLength()) != n)
    throw_error(env, SK_ERR_SHAPE,
                "Expected " + num(n) + " elements (batch × heads × seq) in idx but received " +
                    num(static_cast<int64_t>(ia.ElementLength())));
  plan.idx = std::make_shared<std::vector<int32_t>>(ia.Data(), ia.Data() + n);  // copied, then checked
  for (int64_t i = 0; i < n; ++i)
    if ((*plan.idx)[i] < 0 || (*plan.idx)[i] >= p.seq)
      throw_error(
          env, SK_ERR_INVALID_ARGUMENT,
          "Expected indices in [0, " + num(p.seq) + ") in idx but received " + num((*plan.idx)[i]) + " at " + num(i));
  return plan;
}

}  // namespace

// Not Guarded (they touch no device), so they translate host failures themselves.
Napi::Value CudaAddon::BlockScoresPick(const Napi::CallbackInfo& info) try {
  Napi::Env env = info.Env();
  ScoresPlan plan = plan_scores(env, info[3]);
  check_holds(env, "q", plan.q_bytes, byte_count_arg(env, info[0], "qBytes"));
  check_holds(env, "k", plan.k_bytes, byte_count_arg(env, info[1], "kBytes"));
  check_holds(env, "out", plan.out_bytes, byte_count_arg(env, info[2], "outBytes"));
  Napi::Object r = Napi::Object::New(env);
  r.Set("kernel", block_scores_kernel_name(plan.params));
  r.Set("scratchBytes", static_cast<double>(plan.scratch_bytes));
  r.Set("grid", static_cast<double>(block_scores_grid(plan.params)));
  return r;
} catch (const std::bad_alloc&) {
  throw make_error(info.Env(), SK_ERR_OUT_OF_MEMORY, "out of host memory");
}

Napi::Value CudaAddon::GatherRowsPick(const Napi::CallbackInfo& info) try {
  Napi::Env env = info.Env();
  GatherPlan plan = plan_gather(env, info[1], info[3]);
  check_holds(env, "src", plan.src_bytes, byte_count_arg(env, info[0], "srcBytes"));
  check_holds(env, "dst", plan.dst_bytes, byte_count_arg(env, info[2], "dstBytes"));
  Napi::Object r = Napi::Object::New(env);
  r.Set("kernel", "sk_gather_rows");
  r.Set("indexBytes", static_cast<double>(plan.idx->size() * sizeof(int32_t)));
  return r;
} catch (const std::bad_alloc&) {
  throw make_error(info.Env(), SK_ERR_OUT_OF_MEMORY, "out of host memory");
}

Napi::Value CudaAddon::BlockScores(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  ScoresPlan plan = plan_scores(env, info[3]);
  DeviceMemoryRef q = DeviceBuffer::FromArg(*this, info, 0, "q").memory();
  DeviceMemoryRef k = DeviceBuffer::FromArg(*this, info, 1, "k").memory();
  DeviceMemoryRef out = DeviceBuffer::FromArg(*this, info, 2, "out").memory();
  const int device = q->device();
  for (const DeviceMemoryRef& m : {k, out})
    if (m->device() != device)
      throw_error(env, SK_ERR_DEVICE,
                  "Expected q, k and out on one device but found cuda:" + std::to_string(device) +
                      " and cuda:" + std::to_string(m->device()));
  if (out == q || out == k) throw_error(env, SK_ERR_INVALID_ARGUMENT, "Expected out in a buffer of its own");
  check_holds(env, "q", plan.q_bytes, q->bytes());
  check_holds(env, "k", plan.k_bytes, k->bytes());
  check_holds(env, "out", plan.out_bytes, out->bytes());
  sk_block_scores_params p = plan.params;
  p.q = q->data(), p.k = k->data(), p.out = static_cast<float*>(out->data());
  DeviceMemoryRef scratch = plan.scratch_bytes ? allocator(device).allocate(plan.scratch_bytes) : nullptr;
  void* scratch_ptr = scratch ? scratch->data() : nullptr;
  auto job = std::make_unique<JsJob>(env, [p, scratch_ptr](cudaStream_t s) {
    if (p.batch == 0) return;
    block_scores_forward(p, scratch_ptr, s);
  });
  job->holds.push_back(q), job->holds.push_back(k), job->holds.push_back(out);
  if (scratch) job->holds.push_back(scratch);
  return submit_settling(device, std::move(job));
}

Napi::Value CudaAddon::GatherRows(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  GatherPlan plan = plan_gather(env, info[1], info[3]);
  DeviceMemoryRef src = DeviceBuffer::FromArg(*this, info, 0, "src").memory();
  DeviceMemoryRef dst = DeviceBuffer::FromArg(*this, info, 2, "dst").memory();
  const int device = src->device();
  if (dst->device() != device)
    throw_error(env, SK_ERR_DEVICE,
                "Expected src and dst on one device but found cuda:" + std::to_string(device) +
                    " and cuda:" + std::to_string(dst->device()));
  if (dst == src) throw_error(env, SK_ERR_INVALID_ARGUMENT, "Expected dst in a buffer of its own");
  check_holds(env, "src", plan.src_bytes, src->bytes());
  check_holds(env, "dst", plan.dst_bytes, dst->bytes());
  const size_t idx_bytes = plan.idx->size() * sizeof(int32_t);
  DeviceMemoryRef idx = idx_bytes ? allocator(device).allocate(idx_bytes) : nullptr;
  sk_gather_rows_params p = plan.params;
  p.src = src->data(), p.dst = dst->data(), p.idx = idx ? static_cast<const int32_t*>(idx->data()) : nullptr;
  auto host_idx = plan.idx;  // the checked copy: the upload's source, alive until the job settles
  auto job = std::make_unique<JsJob>(env, [p, host_idx, idx_bytes](cudaStream_t s) {
    if (idx_bytes == 0) return;
    SK_CUDA_CHECK(cudaMemcpyAsync(const_cast<int32_t*>(p.idx), host_idx->data(), idx_bytes, cudaMemcpyHostToDevice, s));
    gather_rows_forward(p, s);
  });
  job->holds.push_back(src), job->holds.push_back(dst);
  if (idx) job->holds.push_back(idx);
  return submit_settling(device, std::move(job));
}

}  // namespace sk::cuda
