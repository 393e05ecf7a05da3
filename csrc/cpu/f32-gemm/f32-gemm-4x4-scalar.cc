// Dense linear kernels for the scalar kernel set: 4×4 register tile (gemm.inc).
#include "ops-scalar.h"

#define SK_ISA_NAMESPACE scalar
#include "f32-gemm-impl.h"
#include "gemm.h"

SK_DEFINE_GEMM_UKERNELS(scalar, 4, 4)
