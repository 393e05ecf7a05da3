// Dense linear kernels for the neon kernel set: 8×8 register tile (gemm.inc).
#include "ops-neon.h"

#define SK_ISA_NAMESPACE neon
#include "f32-gemm-impl.h"
#include "gemm.h"

SK_DEFINE_GEMM_UKERNELS(neon, 8, 8)
