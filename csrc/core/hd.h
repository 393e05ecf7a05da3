// Host/device qualifiers for tile math shared by the CPU and CUDA builds.
// Headers that use SK_HD stay free of STL, N-API and CUDA types so both
// compilers take them and the CPU tests cover what the GPU runs.
#pragma once

#if defined(__CUDACC__)
#define SK_HD __host__ __device__ __forceinline__
#else
#define SK_HD inline
#endif
