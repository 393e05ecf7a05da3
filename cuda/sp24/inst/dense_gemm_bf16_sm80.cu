// dense linear instances for bf16 (both tile configs). Generated pattern: one
// file per (op, dtype) so ninja compiles them side by side.
#include "../linear_kernel.cuh"

namespace sk::cuda::linear {
template void run_linear<__nv_bfloat16, false, BigTile>(const LinearParams&, cudaStream_t);
template void run_linear<__nv_bfloat16, false, SmallTile>(const LinearParams&, cudaStream_t);
}  // namespace sk::cuda::linear
