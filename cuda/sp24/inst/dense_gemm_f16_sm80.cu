// dense linear instances for f16 (both tile configs). Generated pattern: one
// file per (op, dtype) so ninja compiles them side by side.
#include "../linear_kernel.cuh"

namespace sk::cuda::linear {
template void run_linear<__half, false, BigTile>(const LinearParams&, cudaStream_t);
template void run_linear<__half, false, SmallTile>(const LinearParams&, cudaStream_t);
}  // namespace sk::cuda::linear
