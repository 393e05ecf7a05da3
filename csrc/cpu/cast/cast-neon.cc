// NEON cast: 4 lanes (128-bit registers), AArch64 baseline.
#define SK_ISA_NAMESPACE neon
#define SK_VEC_WIDTH 4
#include "cast-impl.h"
#include "cast.h"

void sk_cast_ukernel__neon(const sk_cast_params* p) { sk::cpu::neon::cast_run(*p); }
