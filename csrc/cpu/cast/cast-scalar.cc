// Scalar cast: the reference every ISA kernel must match bit for bit.
#define SK_ISA_NAMESPACE scalar
#define SK_VEC_WIDTH 1
#include "cast-impl.h"
#include "cast.h"

void sk_cast_ukernel__scalar(const sk_cast_params* p) { sk::cpu::scalar::cast_run(*p); }
