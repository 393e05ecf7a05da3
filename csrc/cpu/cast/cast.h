// Declarations of the cast micro-kernels listed in cast.inc.
#pragma once
#include "../../core/params.h"

#define SK_CAST_UKERNEL(isa) void sk_cast_ukernel__##isa(const sk_cast_params* p);
#include "cast.inc"
#undef SK_CAST_UKERNEL
