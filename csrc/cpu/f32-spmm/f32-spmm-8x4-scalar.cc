// sk_f32_spmm_ukernel_8x4__scalar: 8 rows × 4-channel blocks (contract: f32-spmm.h).
#include "f32-spmm.h"
#include "ops-scalar.h"

SK_DEFINE_SPMM_UKERNEL(scalar, 8, 4, Ops)
