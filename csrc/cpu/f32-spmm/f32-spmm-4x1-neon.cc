// sk_f32_spmm_ukernel_4x1__neon: 4 rows × 1-channel blocks (contract: f32-spmm.h).
#include "f32-spmm.h"
#include "ops-neon.h"

SK_DEFINE_SPMM_UKERNEL(neon, 4, 1, Ops)
