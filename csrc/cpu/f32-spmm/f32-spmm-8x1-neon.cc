// sk_f32_spmm_ukernel_8x1__neon: 8 rows × 1-channel blocks (contract: f32-spmm.h).
#include "f32-spmm.h"
#include "ops-neon.h"

SK_DEFINE_SPMM_UKERNEL(neon, 8, 1, Ops)
