// The cast family's pick(): one kernel per ISA, listed in cast.inc.
#include "../dispatch.h"
#include "cast.h"

sk_cast_kernel sk_cpu_cast_pick(const sk_cast_params& p, sk_isa isa) {
  if (!sk_dtype_valid(p.src_type) || !sk_dtype_valid(p.dst_type)) return {nullptr, "none"};
  switch (isa) {
#define SK_CAST_UKERNEL(name)                                                                                          \
  case SK_ISA_##name##_ID:                                                                                             \
    return {sk_cast_ukernel__##name, "sk_cast_ukernel__" #name};
#include "cast.inc"
#undef SK_CAST_UKERNEL
    default: return {nullptr, "none"};
  }
}
