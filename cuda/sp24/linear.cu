// The dispatch table of the linear kernels, the device check and the bias
// step used after cuSPARSELt. The GEMM kernels are instantiated in inst/*.cu.
#include "linear.h"

#include <string>

#include "linear_kernel.cuh"

namespace sk::cuda {
namespace linear {
extern template void run_linear<__half, true, BigTile>(const LinearParams&, cudaStream_t);
extern template void run_linear<__half, true, SmallTile>(const LinearParams&, cudaStream_t);
extern template void run_linear<__nv_bfloat16, true, BigTile>(const LinearParams&, cudaStream_t);
extern template void run_linear<__nv_bfloat16, true, SmallTile>(const LinearParams&, cudaStream_t);
extern template void run_linear<__half, false, BigTile>(const LinearParams&, cudaStream_t);
extern template void run_linear<__half, false, SmallTile>(const LinearParams&, cudaStream_t);
extern template void run_linear<__nv_bfloat16, false, BigTile>(const LinearParams&, cudaStream_t);
extern template void run_linear<__nv_bfloat16, false, SmallTile>(const LinearParams&, cudaStream_t);

template <class T>
__global__ void add_bias_kernel(T* out, const void* bias, bool bias_f32, int64_t m, int64_t n) {
  const int64_t total = m * n;
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < total; i += int64_t(gridDim.x) * blockDim.x) {
    const int64_t col = i % n;
    const float b =
        bias_f32 ? static_cast<const float*>(bias)[col] : static_cast<float>(static_cast<const T*>(bias)[col]);
    out[i] = T(static_cast<float>(out[i]) + b);
  }
}
}  // namespace linear

namespace {

// Rows of x up to which the small tile is used: with few rows the big tile
// would leave most of its 128 rows empty and the grid too small to fill the GPU.
constexpr int64_t kSmallTileMaxRows = 64;

struct Entry {
  sk_dtype dtype;
  bool sparse;
  bool small;
  LinearKernelInfo info;
};
using linear::BigTile;
using linear::run_linear;
using linear::SmallTile;
const Entry kKernels[] = {
    {SK_F16, true, false, {"sp24_gemm_f16_128x128", 128, 128, &run_linear<__half, true, BigTile>}},
    {SK_F16, true, true, {"sp24_gemm_f16_64x32", 64, 32, &run_linear<__half, true, SmallTile>}},
    {SK_BF16, true, false, {"sp24_gemm_bf16_128x128", 128, 128, &run_linear<__nv_bfloat16, true, BigTile>}},
    {SK_BF16, true, true, {"sp24_gemm_bf16_64x32", 64, 32, &run_linear<__nv_bfloat16, true, SmallTile>}},
    {SK_F16, false, false, {"dense_gemm_f16_128x128", 128, 128, &run_linear<__half, false, BigTile>}},
    {SK_F16, false, true, {"dense_gemm_f16_64x32", 64, 32, &run_linear<__half, false, SmallTile>}},
    {SK_BF16, false, false, {"dense_gemm_bf16_128x128", 128, 128, &run_linear<__nv_bfloat16, false, BigTile>}},
    {SK_BF16, false, true, {"dense_gemm_bf16_64x32", 64, 32, &run_linear<__nv_bfloat16, false, SmallTile>}},
};

}  // namespace

const LinearKernelInfo* linear_pick(sk_dtype dtype, bool sparse, int64_t m) {
  const bool small = m <= kSmallTileMaxRows;
  for (const Entry& e : kKernels)
    if (e.dtype == dtype && e.sparse == sparse && e.small == small) return &e.info;
  return nullptr;
}

void linear_forward(const LinearKernelInfo& kernel, const linear::LinearParams& p, cudaStream_t stream) {
  require_sm80("CUDA linear needs", "mma.sync / mma.sp on float16 / bfloat16");
  if (p.m == 0 || p.n == 0) return;
  kernel.run(p, stream);
}

void add_bias(sk_dtype dtype, void* out, const void* bias, bool bias_f32, int64_t m, int64_t n, cudaStream_t stream) {
  if (m == 0 || n == 0 || bias == nullptr) return;
  const int64_t total = m * n;
  const unsigned blocks = static_cast<unsigned>(total / 256 + 1 < 65536 ? total / 256 + 1 : 65536);
  if (dtype == SK_F16)
    linear::add_bias_kernel<__half><<<blocks, 256, 0, stream>>>(static_cast<__half*>(out), bias, bias_f32, m, n);
  else
    linear::add_bias_kernel<__nv_bfloat16>
        <<<blocks, 256, 0, stream>>>(static_cast<__nv_bfloat16*>(out), bias, bias_f32, m, n);
  SK_CUDA_CHECK(cudaGetLastError());
}

}  // namespace sk::cuda
