// Declarations of the decode kernel sets listed in decode.inc.
#pragma once
#include "decode.h"

#define SK_DECODE_UKERNEL(isa, smr, snv, pmr, pdv)                                                                     \
  void sk_f32_decode_ukernel__##isa(const sk_decode_task* t, float* scratch);                                          \
  void sk_f32_quest_score_ukernel__##isa(const sk_quest_score_job* j);                                                 \
  void sk_widen_ukernel__##isa(sk_dtype type, const void* src, size_t n, float* dst);
#include "decode.inc"
#undef SK_DECODE_UKERNEL
