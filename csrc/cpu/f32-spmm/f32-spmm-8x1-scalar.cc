// sk_f32_spmm_ukernel_8x1__scalar: 8 rows × 1-channel blocks (contract: f32-spmm.h).
#include "f32-spmm.h"
#include "ops-scalar.h"

SK_DEFINE_SPMM_UKERNEL(scalar, 8, 1, Ops)
