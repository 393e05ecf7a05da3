// sk_f32_spmm_ukernel_32x1__neon: 32 rows × 1-channel blocks (contract: f32-spmm.h).
#include "f32-spmm.h"
#include "ops-neon.h"

SK_DEFINE_SPMM_UKERNEL(neon, 32, 1, Ops)
