// sk_f32_spmm_ukernel_8x1__avx2: 8 rows × 1-channel blocks (contract: f32-spmm.h).
#include "f32-spmm.h"
#include "ops-avx2.h"

SK_DEFINE_SPMM_UKERNEL(avx2, 8, 1, Ops)
