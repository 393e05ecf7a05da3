// Dense linear kernels for the avx2 kernel set: 6×16 register tile (gemm.inc).
#include "ops-avx2.h"

#define SK_ISA_NAMESPACE avx2
#include "f32-gemm-impl.h"
#include "gemm.h"

SK_DEFINE_GEMM_UKERNELS(avx2, 6, 16)
