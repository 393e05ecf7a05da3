// The dispatch table of the forward kernels (from instances.inc) and the
// device check; host code only, the kernels live in inst/*.cu.
#include "attention.h"

#include <string>

#include "../common.cuh"
#include "traits.h"

namespace sk::cuda {
namespace attn {
// Defined in fwd_kernel.cuh, instantiated once per inst/*.cu.
template <int kHeadDim, sk_dtype kType>
void run_fwd(const FwdParams& p, cudaStream_t stream);
#define SK_ATTN_INSTANCE(D, TYPE, NAME) extern template void run_fwd<D, TYPE>(const FwdParams&, cudaStream_t);
#include "instances.inc"
#undef SK_ATTN_INSTANCE
}  // namespace attn

namespace {

#define SK_ATTN_INSTANCE(D, TYPE, NAME)                                                                 \
  {TYPE, {"attn_fwd_hdim" #D "_" #NAME, D, attn::attention_q_tile(), attn::attention_kv_tile(D), \
          &attn::run_fwd<D, TYPE>}},
struct Entry {
  sk_dtype dtype;
  AttentionKernel kernel;
};
constexpr Entry kKernels[] = {
#include "instances.inc"
};
#undef SK_ATTN_INSTANCE

}  // namespace

const AttentionKernel* attention_pick(sk_dtype dtype, int64_t head_dim) {
  const AttentionKernel* best = nullptr;
  for (const Entry& e : kKernels)
    if (e.dtype == dtype && head_dim >= 1 && head_dim <= e.kernel.head_dim &&
        (best == nullptr || e.kernel.head_dim < best->head_dim))
      best = &e.kernel;
  return best;
}

void attention_forward(const AttentionKernel& kernel, const attn::FwdParams& p, cudaStream_t stream) {
  int device = 0, major = 0, minor = 0;
  SK_CUDA_CHECK(cudaGetDevice(&device));
  SK_CUDA_CHECK(cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, device));
  SK_CUDA_CHECK(cudaDeviceGetAttribute(&minor, cudaDevAttrComputeCapabilityMinor, device));
  if (major < 8)
    throw CudaFailure(SK_ERR_UNSUPPORTED, "CUDA attention needs compute capability 8.0 or newer (mma.sync on "
                                          "float16 / bfloat16); cuda:" + std::to_string(device) + " is " +
                                              std::to_string(major) + "." + std::to_string(minor));
  kernel.run(p, stream);
}

}  // namespace sk::cuda
