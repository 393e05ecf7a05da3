// sk_f32_spmv{,16}_ukernel_1x{1,2,4}__scalar (contract: f32-spmv.h).
#define SK_ISA_NAMESPACE scalar
#include "f32-spmv-impl.h"
#include "f32-spmv.h"

SK_DEFINE_SPMV_UKERNEL(scalar, 1, sk::cpu::scalar::spmv_dot)
SK_DEFINE_SPMV_UKERNEL(scalar, 2, sk::cpu::scalar::spmv_dot)
SK_DEFINE_SPMV_UKERNEL(scalar, 4, sk::cpu::scalar::spmv_dot)
