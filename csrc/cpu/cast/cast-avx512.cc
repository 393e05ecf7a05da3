// AVX-512 cast: 16 lanes with mask-register selects. Built with -mavx512f
// -mavx512bw -mavx512vl (binding.gyp, sk_cpu_avx512).
#define SK_ISA_NAMESPACE avx512
#define SK_VEC_WIDTH 16
#include "cast-impl.h"
#include "cast.h"

void sk_cast_ukernel__avx512(const sk_cast_params* p) { sk::cpu::avx512::cast_run(*p); }
