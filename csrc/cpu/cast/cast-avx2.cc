// AVX2 cast: 8 lanes. Built with -mavx2 -mfma -mf16c (binding.gyp, sk_cpu_avx2).
#define SK_ISA_NAMESPACE avx2
#define SK_VEC_WIDTH 8
#include "cast-impl.h"
#include "cast.h"

void sk_cast_ukernel__avx2(const sk_cast_params* p) { sk::cpu::avx2::cast_run(*p); }
