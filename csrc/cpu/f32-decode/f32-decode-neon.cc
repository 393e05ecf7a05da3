// NEON decode: 4 lanes; tiles of 6 query rows × 4 vectors (24 accumulators
// of 32 q registers), vfmaq_f32. AArch64 baseline (binding.gyp, sk_cpu_neon).
#include <arm_neon.h>

#define SK_ISA_NAMESPACE neon
#define SK_VEC_WIDTH 4
#include "f32-decode-impl.h"
#include "f32-decode.h"

using DecodeOps = sk::cpu::neon::VecOps;  // csrc/cpu/vec-ops.h

void sk_f32_decode_ukernel__neon(const sk_decode_task* t, float* scratch) {
  sk::cpu::neon::decode_any<DecodeOps, 6, 4, 6, 4>(*t, scratch);
}
void sk_f32_quest_score_ukernel__neon(const sk_quest_score_job* j) { sk::cpu::neon::quest_any<DecodeOps>(*j); }
void sk_widen_ukernel__neon(sk_dtype type, const void* src, size_t n, float* dst) {
  sk::cpu::neon::widen_row<DecodeOps>(type, src, n, dst);
}
