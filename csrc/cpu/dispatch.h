// CPU kernel selection: one pick() per op. The kernel set (ISA) is decided once
// at load (addon) and passed in; pick() answers "supported?" and "which kernel?"
// from the same code, so the two cannot disagree.
#pragma once
#include "../core/cpu_features.h"
#include "../core/params.h"

typedef void (*sk_cast_ukernel_fn)(const sk_cast_params* p);

struct sk_cast_kernel {
  sk_cast_ukernel_fn fn;  // null when unsupported
  const char* name;       // e.g. "sk_cast_ukernel__avx512"
};

// The cast kernel for an ISA; fn is null if the ISA was not built for this
// architecture or the dtypes are not valid.
sk_cast_kernel sk_cpu_cast_pick(const sk_cast_params& p, sk_isa isa);
