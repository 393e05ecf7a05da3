// sk_f32_spmm_ukernel_32x4__avx512: 32 rows × 4-channel blocks (contract: f32-spmm.h).
#include "f32-spmm.h"
#include "ops-avx512.h"

SK_DEFINE_SPMM_UKERNEL(avx512, 32, 4, Ops)
