// Dense linear kernels for the avx512 kernel set: 8×32 register tile (gemm.inc).
#include "ops-avx512.h"

#define SK_ISA_NAMESPACE avx512
#include "f32-gemm-impl.h"
#include "gemm.h"

SK_DEFINE_GEMM_UKERNELS(avx512, 8, 32)
