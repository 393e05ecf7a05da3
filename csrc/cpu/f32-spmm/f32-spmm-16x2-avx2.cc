// sk_f32_spmm_ukernel_16x2__avx2: 16 rows × 2-channel blocks (contract: f32-spmm.h).
#include "f32-spmm.h"
#include "ops-avx2.h"

SK_DEFINE_SPMM_UKERNEL(avx2, 16, 2, Ops)
