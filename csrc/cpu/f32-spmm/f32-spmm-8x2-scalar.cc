// sk_f32_spmm_ukernel_8x2__scalar: 8 rows × 2-channel blocks (contract: f32-spmm.h).
#include "f32-spmm.h"
#include "ops-scalar.h"

SK_DEFINE_SPMM_UKERNEL(scalar, 8, 2, Ops)
