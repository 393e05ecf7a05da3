// sk_f32_spmm_ukernel_32x1__avx2: 32 rows × 1-channel blocks (contract: f32-spmm.h).
#include "f32-spmm.h"
#include "ops-avx2.h"

SK_DEFINE_SPMM_UKERNEL(avx2, 32, 1, Ops)
