// sk_f32_spmm_ukernel_16x1__avx512: 16 rows × 1-channel blocks (contract: f32-spmm.h).
#include "f32-spmm.h"
#include "ops-avx512.h"

SK_DEFINE_SPMM_UKERNEL(avx512, 16, 1, Ops)
