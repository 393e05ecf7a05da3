// sk_f32_spmm_ukernel_16x4__neon: 16 rows × 4-channel blocks (contract: f32-spmm.h).
#include "f32-spmm.h"
#include "ops-neon.h"

SK_DEFINE_SPMM_UKERNEL(neon, 16, 4, Ops)
