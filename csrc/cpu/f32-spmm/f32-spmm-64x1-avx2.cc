// sk_f32_spmm_ukernel_64x1__avx2: 64 rows × 1-channel blocks (contract: f32-spmm.h).
#include "f32-spmm.h"
#include "ops-avx2.h"

SK_DEFINE_SPMM_UKERNEL(avx2, 64, 1, Ops)
