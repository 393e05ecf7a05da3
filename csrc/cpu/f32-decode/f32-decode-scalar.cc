// Scalar decode: one float per "vector". Built for the baseline (sk_core);
// the fallback every CPU runs.
#define SK_ISA_NAMESPACE scalar
#define SK_VEC_WIDTH 1
#include "f32-decode-impl.h"
#include "f32-decode.h"

using DecodeOps = sk::cpu::scalar::VecOps;  // csrc/cpu/vec-ops.h

void sk_f32_decode_ukernel__scalar(const sk_decode_task* t, float* scratch) {
  sk::cpu::scalar::decode_any<DecodeOps, 4, 4, 4, 4>(*t, scratch);
}
void sk_f32_quest_score_ukernel__scalar(const sk_quest_score_job* j) { sk::cpu::scalar::quest_any<DecodeOps>(*j); }
void sk_widen_ukernel__scalar(sk_dtype type, const void* src, size_t n, float* dst) {
  sk::cpu::scalar::widen_row<DecodeOps>(type, src, n, dst);
}
