#include "dispatch.h"

#include "../core/heuristics.h"
#include "attention/f32-attn.h"
#include "cast/cast.h"

sk_cast_kernel sk_cpu_cast_pick(const sk_cast_params& p, sk_isa isa) {
  if (!sk_dtype_valid(p.src_type) || !sk_dtype_valid(p.dst_type)) return {nullptr, "none"};
  switch (isa) {
#define SK_CAST_UKERNEL(name) \
  case SK_ISA_##name##_ID: return {sk_cast_ukernel__##name, "sk_cast_ukernel__" #name};
#define SK_ISA_scalar_ID SK_ISA_SCALAR
#define SK_ISA_avx2_ID SK_ISA_AVX2
#define SK_ISA_avx512_ID SK_ISA_AVX512
#define SK_ISA_neon_ID SK_ISA_NEON
#include "cast/cast.inc"
#undef SK_CAST_UKERNEL
    default: return {nullptr, "none"};
  }
}

sk_attention_kernel sk_cpu_attention_pick(const sk_attention_params& p, sk_isa isa) {
  const sk_attention_kernel none{nullptr, "none", {}};
  if (p.dtype != SK_F32 && p.dtype != SK_F16 && p.dtype != SK_BF16) return none;
  if (p.head_dim < 1 || p.head_dim > sk::attention_max_head_dim()) return none;
  if (p.heads_kv < 1 || p.heads_q % p.heads_kv != 0) return none;
  sk_attention_tiling t{sk::attention_q_tile(p.head_dim), sk::attention_kv_tile(p.head_dim), 1, 0};
  if (t.kv_tile < 1 || t.kv_tile > kAttentionMaxTile || t.q_tile < 1 || t.q_tile > kAttentionMaxTile) return none;
  t.scratch_bytes = sk_attention_scratch_layout(p.head_dim, t.q_tile, t.kv_tile).floats * sizeof(float);
  switch (isa) {
#define SK_ATTN_UKERNEL(name, mr, nr, width)                                               \
  case SK_ISA_##name##_ID:                                                                 \
    t.lanes = width;                                                                       \
    if (t.q_tile % t.lanes != 0) return none; /* rows are padded to the lanes in scratch */ \
    return {sk_f32_attn_ukernel_##mr##x##nr##__##name, "sk_f32_attn_ukernel_" #mr "x" #nr "__" #name, t};
#include "attention/attention.inc"
#undef SK_ATTN_UKERNEL
    default: return none;
  }
}
