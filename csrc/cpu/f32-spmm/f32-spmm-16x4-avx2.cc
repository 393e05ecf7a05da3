// sk_f32_spmm_ukernel_16x4__avx2: 16 rows × 4-channel blocks (contract: f32-spmm.h).
#include "f32-spmm.h"
#include "ops-avx2.h"

SK_DEFINE_SPMM_UKERNEL(avx2, 16, 4, Ops)
