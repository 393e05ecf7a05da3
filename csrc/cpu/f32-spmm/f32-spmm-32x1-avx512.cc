// sk_f32_spmm_ukernel_32x1__avx512: 32 rows × 1-channel blocks (contract: f32-spmm.h).
#include "f32-spmm.h"
#include "ops-avx512.h"

SK_DEFINE_SPMM_UKERNEL(avx512, 32, 1, Ops)
