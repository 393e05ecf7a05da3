// sk_f32_spmm_ukernel_32x2__neon: 32 rows × 2-channel blocks (contract: f32-spmm.h).
#include "f32-spmm.h"
#include "ops-neon.h"

SK_DEFINE_SPMM_UKERNEL(neon, 32, 2, Ops)
