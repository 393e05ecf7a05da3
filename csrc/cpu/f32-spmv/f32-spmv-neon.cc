// sk_f32_spmv{,16}_ukernel_1x{1,2,4}__neon (contract: f32-spmv.h). NEON has no
// gather, so one-channel rows use the four-sum scalar loop; blocked groups
// keep their NR sums in one vector.
#define SK_ISA_NAMESPACE neon
#include "f32-spmv-impl.h"
#include "f32-spmv.h"

SK_DEFINE_SPMV_UKERNEL(neon, 1, sk::cpu::neon::spmv_dot)
SK_DEFINE_SPMV_UKERNEL(neon, 2, sk::cpu::neon::spmv_dot)
SK_DEFINE_SPMV_UKERNEL(neon, 4, sk::cpu::neon::spmv_dot)
