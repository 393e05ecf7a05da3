// The CPU backend's contract: one pick() per op. The kernel set (ISA) is
// decided once at load (addon) and passed in; pick() answers "supported?" and
// "which kernel?" from the same code, so the two cannot disagree. Each pick is
// defined in its family's driver.cc (csrc/cpu/<family>/driver.cc).
#pragma once
#include "../core/cpu_features.h"
#include "../core/params.h"
#include "f32-attn/attention.h"
#include "f32-decode/decode.h"
#include "f32-gemm/gemm.h"
#include "f32-sp24/sp24.h"
#include "f32-spmm/spmm.h"

typedef void (*sk_cast_ukernel_fn)(const sk_cast_params* p);

struct sk_cast_kernel {
  sk_cast_ukernel_fn fn;  // null when unsupported
  const char* name;       // e.g. "sk_cast_ukernel__avx512"
};

// The cast kernel for an ISA; fn is null if the ISA was not built for this
// architecture or the dtypes are not valid.
sk_cast_kernel sk_cpu_cast_pick(const sk_cast_params& p, sk_isa isa);

// The attention kernel set for an ISA, with its tiles and per-thread
// scratch; refused (status and reason) if the ISA was not built here or the
// op is outside what the kernels take (dtype other than float32 / float16 /
// bfloat16, head_dim not in 1..kAttentionMaxHeadDim, heads_q not a multiple
// of heads_kv). Defined in f32-attn/driver.cc.
sk_pick<sk_attention_kernel> sk_cpu_attention_pick(const sk_attention_params& p, sk_isa isa);

// The SpMM micro-kernel (production tile for p.nr) and the SpMV kernel of an
// ISA (csrc/cpu/f32-spmm/driver.cc); both null if the ISA was not built here or
// p.nr is not 1, 2 or 4. The driver runs SpMV when sk_spmm_uses_spmv(p).
sk_spmm_kernel sk_cpu_spmm_pick(const sk_spmm_params& p, sk_isa isa);
// The dense linear kernel set (gemm tile + gemv) for an ISA; fn null if the
// ISA was not built here, the format is not dense or the weight dtype is not
// float32 / float16 / bfloat16. Defined in f32-gemm/driver.cc.
sk_linear_kernel sk_cpu_linear_pick(const sk_linear_params& p, sk_isa isa);

// The 2:4 linear kernels (panel kernel + decode gemv) for an ISA; fn null if
// the ISA was not built here, the format is not 2:4, k % 4 != 0 or the weight
// dtype is not float32 / float16 / bfloat16. Defined in f32-sp24/driver.cc.
sk_linear_sp24_kernel sk_cpu_linear_sp24_pick(const sk_linear_params& p, sk_isa isa);
