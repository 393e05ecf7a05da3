// sk_f32_spmm_ukernel_16x1__neon: 16 rows × 1-channel blocks (contract: f32-spmm.h).
#include "f32-spmm.h"
#include "ops-neon.h"

SK_DEFINE_SPMM_UKERNEL(neon, 16, 1, Ops)
