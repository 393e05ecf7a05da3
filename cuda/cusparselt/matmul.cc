#include "matmul.h"

#include <map>
#include <memory>
#include <mutex>
#include <tuple>

#include "../common.cuh"
#include "loader.h"

namespace sk::cusparselt {
namespace {

using sk::cuda::CudaFailure;

void check(Status s, const char* call) {
  if (s == kSuccess) return;
  const Api* a = api();
  std::string text = a && a->GetErrorString ? a->GetErrorString(s) : "";
  throw CudaFailure(s == 10 ? SK_ERR_UNSUPPORTED : SK_ERR_DEVICE,
                    std::string("cuSPARSELt ") + call + " failed with status " + std::to_string(s) +
                        (text.empty() ? "" : " (" + text + ")"));
}

int value_type(sk_dtype dtype) { return dtype == SK_F16 ? kR16F : kR16BF; }

struct PlanEntry {
  MatDescriptor a, b, c;
  MatmulDescriptor matmul;
  AlgSelection alg;
  Plan plan;
  size_t workspace_bytes = 0;
  void* workspace = nullptr;
};

std::mutex g_mu;
std::map<int, std::unique_ptr<Handle>> g_handles;
std::map<std::tuple<int, int, int64_t, int64_t>, std::unique_ptr<MatDescriptor>> g_weight_descs;
std::map<std::tuple<int, int, int64_t, int64_t, int64_t>, std::unique_ptr<PlanEntry>> g_plans;

const Api& live_api() {
  const Api* a = api();
  if (!a) throw CudaFailure(SK_ERR_UNSUPPORTED, describe());
  return *a;
}

// Callers hold g_mu. Handles, descriptors and plans live until the process exits.
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

// Releases what a failed plan build had initialized (stage = steps done), so
// a refused shape leaks nothing; built plans live until the process exits and
// are never destroyed from static destructors (the library may be gone then).
void release_partial(const Api& a, PlanEntry& e, int stage) {
  if (stage >= 6) a.MatmulPlanDestroy(&e.plan);
  if (stage >= 5 && a.MatmulAlgSelectionDestroy) a.MatmulAlgSelectionDestroy(&e.alg);
  if (stage >= 3) a.MatDescriptorDestroy(&e.c);
  if (stage >= 2) a.MatDescriptorDestroy(&e.b);
  if (stage >= 1) a.MatDescriptorDestroy(&e.a);
}

const PlanEntry& plan_locked(int device, sk_dtype dtype, int64_t m, int64_t n, int64_t k) {
  const auto key = std::make_tuple(device, int(dtype), m, n, k);
  if (auto it = g_plans.find(key); it != g_plans.end()) return *it->second;
  const Api& a = live_api();
  const Handle& h = handle_locked(device);
  const int type = value_type(dtype);
  auto e = std::make_unique<PlanEntry>();
  int stage = 0;
  try {
    check(a.StructuredDescriptorInit(&h, &e->a, n, k, k, 16, type, kOrderRow, kSparsity50),
          "cusparseLtStructuredDescriptorInit");
    stage = 1;
    check(a.DenseDescriptorInit(&h, &e->b, k, m, k, 16, type, kOrderCol), "cusparseLtDenseDescriptorInit (x)");
    stage = 2;
    check(a.DenseDescriptorInit(&h, &e->c, n, m, n, 16, type, kOrderCol), "cusparseLtDenseDescriptorInit (out)");
    stage = 3;
    check(a.MatmulDescriptorInit(&h, &e->matmul, kOpN, kOpN, &e->a, &e->b, &e->c, &e->c,
                                 enum_table(status().version).compute_32f),
          "cusparseLtMatmulDescriptorInit");
    stage = 4;
    check(a.MatmulAlgSelectionInit(&h, &e->alg, &e->matmul, kAlgDefault), "cusparseLtMatmulAlgSelectionInit");
    stage = 5;
    check(a.MatmulPlanInit(&h, &e->plan, &e->matmul, &e->alg), "cusparseLtMatmulPlanInit");
    stage = 6;
    check(a.MatmulGetWorkspace(&h, &e->plan, &e->workspace_bytes), "cusparseLtMatmulGetWorkspace");
    if (e->workspace_bytes) SK_CUDA_CHECK(cudaMalloc(&e->workspace, e->workspace_bytes));
  } catch (...) {
    release_partial(a, *e, stage);
    throw;
  }
  auto& slot = g_plans[key];
  slot = std::move(e);
  return *slot;
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
  const PlanEntry* e;
  const Handle* h;
  {
    std::lock_guard<std::mutex> lock(g_mu);
    h = &handle_locked(device);
    e = &plan_locked(device, dtype, m, n, k);
  }
  const float alpha = 1.f, beta = 0.f;
  cudaStream_t streams[1] = {stream};
  check(live_api().Matmul(h, &e->plan, &alpha, compressed, x, &beta, out, out, e->workspace,
                          reinterpret_cast<Stream*>(streams), 1),
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
