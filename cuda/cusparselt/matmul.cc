#include "matmul.h"

#include <map>
#include <memory>
#include <mutex>
#include <tuple>

#include "../../csrc/core/lru_cache.h"
#include "../common.cuh"
#include "loader.h"

namespace sk::cusparselt {
namespace {

using sk::cuda::CudaFailure;

void check(Status s, const char* call) {
  if (s == kSuccess) return;
  const Api* a = api();
  std::string text = a && a->GetErrorString ? a->GetErrorString(s) : "";
  throw CudaFailure(s == 10 ? SK_ERR_UNSUPPORTED : SK_ERR_DEVICE, std::string("cuSPARSELt ") + call +
                                                                      " failed with status " + std::to_string(s) +
                                                                      (text.empty() ? "" : " (" + text + ")"));
}

int value_type(sk_dtype dtype) { return dtype == SK_F16 ? kR16F : kR16BF; }

// A plan and what it was built from. The destructor releases what was
// initialized (stage = steps done), so a failed build leaks nothing and an
// evicted plan frees its workspace: cudaFree waits for the device's queued
// work, so a matmul still running on it is not cut short.
struct PlanEntry {
  int device = 0;
  int stage = 0;
  MatDescriptor a, b, c;
  MatmulDescriptor matmul;
  AlgSelection alg;
  Plan plan;
  size_t workspace_bytes = 0;
  void* workspace = nullptr;
  ~PlanEntry();
};

// Plans kept at once, least recently used out first: one per (device, dtype,
// m, n, k), so a model whose row counts vary (prefill lengths) would
// otherwise add a plan and a workspace per length for the life of the process.
constexpr size_t kMaxPlans = 32;

using PlanKey = std::tuple<int, int, int64_t, int64_t, int64_t>;

// One rule for cuSPARSELt's state: every call that takes a handle, a
// descriptor or a plan runs under g_mu, whichever thread makes it (the JS
// thread's compressed_bytes, the executors' compress and matmul), and so do
// the caches that hold them. NVIDIA's sparse libraries document concurrent
// use of one handle as unsafe, and these calls only queue work on a stream,
// so the lock is held for host time, never for the GPU's.
std::mutex g_mu;
std::map<int, std::unique_ptr<Handle>> g_handles;
std::map<std::tuple<int, int, int64_t, int64_t>, std::unique_ptr<MatDescriptor>> g_weight_descs;
// Never destroyed (no static destructor: the library may be gone at exit).
sk::LruCache<PlanKey, PlanEntry>& g_plans = *new sk::LruCache<PlanKey, PlanEntry>(kMaxPlans);

const Api& live_api() {
  const Api* a = api();
  if (!a) throw CudaFailure(SK_ERR_UNSUPPORTED, describe());
  return *a;
}

// Callers hold g_mu. Handles and weight descriptors (one per weight shape) live until the process exits.
const Handle& handle_locked(int device) {
  auto& slot = g_handles[device];
  if (!slot) {
    auto h = std::make_unique<Handle>();
    check(live_api().Init(h.get()), "cusparseLtInit");
    slot = std::move(h);
  }
  return *slot;
}

const MatDescriptor& weight_desc_locked(int device, sk_dtype dtype, int64_t n, int64_t k) {
  auto& slot = g_weight_descs[{device, int(dtype), n, k}];
  if (!slot) {
    auto d = std::make_unique<MatDescriptor>();
    check(live_api().StructuredDescriptorInit(&handle_locked(device), d.get(), n, k, k, 16, value_type(dtype),
                                              kOrderRow, kSparsity50),
          "cusparseLtStructuredDescriptorInit");
    slot = std::move(d);
  }
  return *slot;
}

PlanEntry::~PlanEntry() {
  const Api* lib = api();
  if (!lib) return;
  if (stage >= 6) lib->MatmulPlanDestroy(&plan);
  if (stage >= 5 && lib->MatmulAlgSelectionDestroy) lib->MatmulAlgSelectionDestroy(&alg);
  if (stage >= 3) lib->MatDescriptorDestroy(&c);
  if (stage >= 2) lib->MatDescriptorDestroy(&b);
  if (stage >= 1) lib->MatDescriptorDestroy(&a);
  if (workspace) {
    int current = 0;
    cudaGetDevice(&current);
    cudaSetDevice(device);
    cudaFree(workspace);
    cudaSetDevice(current);
  }
}

std::shared_ptr<PlanEntry> build_plan(int device, sk_dtype dtype, int64_t m, int64_t n, int64_t k) {
  const Api& a = live_api();
  const Handle& h = handle_locked(device);
  const int type = value_type(dtype);
  auto e = std::make_shared<PlanEntry>();
  e->device = device;
  check(a.StructuredDescriptorInit(&h, &e->a, n, k, k, 16, type, kOrderRow, kSparsity50),
        "cusparseLtStructuredDescriptorInit");
  e->stage = 1;
  check(a.DenseDescriptorInit(&h, &e->b, k, m, k, 16, type, kOrderCol), "cusparseLtDenseDescriptorInit (x)");
  e->stage = 2;
  check(a.DenseDescriptorInit(&h, &e->c, n, m, n, 16, type, kOrderCol), "cusparseLtDenseDescriptorInit (out)");
  e->stage = 3;
  check(a.MatmulDescriptorInit(&h, &e->matmul, kOpN, kOpN, &e->a, &e->b, &e->c, &e->c,
                               enum_table(status().version).compute_32f),
        "cusparseLtMatmulDescriptorInit");
  e->stage = 4;
  check(a.MatmulAlgSelectionInit(&h, &e->alg, &e->matmul, kAlgDefault), "cusparseLtMatmulAlgSelectionInit");
  e->stage = 5;
  check(a.MatmulPlanInit(&h, &e->plan, &e->matmul, &e->alg), "cusparseLtMatmulPlanInit");
  e->stage = 6;
  check(a.MatmulGetWorkspace(&h, &e->plan, &e->workspace_bytes), "cusparseLtMatmulGetWorkspace");
  if (e->workspace_bytes) SK_CUDA_CHECK(cudaMalloc(&e->workspace, e->workspace_bytes));
  return e;
}

}  // namespace

std::string weight_unsupported(sk_dtype dtype, int64_t n, int64_t k) {
  if (!status().loaded) return describe();
  if (dtype != SK_F16 && dtype != SK_BF16) return "cuSPARSELt path takes float16 or bfloat16";
  if (n % 16 != 0 || k % 16 != 0 || n == 0 || k == 0)
    return "cuSPARSELt needs N and K to be nonzero multiples of 16 (received [" + std::to_string(n) + ", " +
           std::to_string(k) + "])";
  return "";
}

std::string call_unsupported(int64_t m, const void* x, const void* out) {
  if (m % 8 != 0 || m == 0) return "cuSPARSELt needs the rows of x to be a nonzero multiple of 8";
  if (reinterpret_cast<uintptr_t>(x) % 16 != 0 || reinterpret_cast<uintptr_t>(out) % 16 != 0)
    return "cuSPARSELt needs 16-byte aligned x and out";
  return "";
}

size_t compressed_bytes(int device, sk_dtype dtype, int64_t n, int64_t k) {
  std::lock_guard<std::mutex> lock(g_mu);
  size_t bytes = 0, buffer = 0;
  check(live_api().SpMMACompressedSize2(&handle_locked(device), &weight_desc_locked(device, dtype, n, k), &bytes,
                                        &buffer),
        "cusparseLtSpMMACompressedSize2");
  return bytes;
}

void compress(int device, sk_dtype dtype, int64_t n, int64_t k, const void* dense, void* compressed,
              cudaStream_t stream) {
  std::lock_guard<std::mutex> lock(g_mu);
  const Api& a = live_api();
  const Handle& h = handle_locked(device);
  const MatDescriptor& d = weight_desc_locked(device, dtype, n, k);
  size_t bytes = 0, buffer_bytes = 0;
  check(a.SpMMACompressedSize2(&h, &d, &bytes, &buffer_bytes), "cusparseLtSpMMACompressedSize2");
  void* buffer = nullptr;
  if (buffer_bytes) SK_CUDA_CHECK(cudaMallocAsync(&buffer, buffer_bytes, stream));
  const Status s = a.SpMMACompress2(&h, &d, 1, kOpN, dense, compressed, buffer, stream);
  if (buffer) SK_CUDA_CHECK(cudaFreeAsync(buffer, stream));
  check(s, "cusparseLtSpMMACompress2");
}

void matmul(int device, sk_dtype dtype, int64_t m, int64_t n, int64_t k, const void* compressed, const void* x,
            void* out, cudaStream_t stream) {
  std::lock_guard<std::mutex> lock(g_mu);
  const Api& a = live_api();
  const Handle& h = handle_locked(device);
  const std::shared_ptr<PlanEntry> e =
      g_plans.get({device, int(dtype), m, n, k}, [&] { return build_plan(device, dtype, m, n, k); });
  const float alpha = 1.f, beta = 0.f;
  cudaStream_t streams[1] = {stream};
  check(a.Matmul(&h, &e->plan, &alpha, compressed, x, &beta, out, out, e->workspace, reinterpret_cast<Stream*>(streams),
                 1),
        "cusparseLtMatmul");
}

std::string g_fallback;

void note_fallback(const std::string& reason) {
  std::lock_guard<std::mutex> lock(g_mu);
  g_fallback = reason;
}

std::string last_fallback() {
  std::lock_guard<std::mutex> lock(g_mu);
  return g_fallback;
}

size_t cached_plans() {
  std::lock_guard<std::mutex> lock(g_mu);
  return g_plans.size();
}

}  // namespace sk::cusparselt
