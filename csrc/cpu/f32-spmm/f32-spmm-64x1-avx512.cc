// sk_f32_spmm_ukernel_64x1__avx512: 64 rows × 1-channel blocks (contract: f32-spmm.h).
#include "f32-spmm.h"
#include "ops-avx512.h"

SK_DEFINE_SPMM_UKERNEL(avx512, 64, 1, Ops)
