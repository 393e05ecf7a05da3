// AVX2 decode: 8 lanes; tiles of 4 query rows × 2 vectors (8 accumulators
// of 16 ymm). Built with -mavx2 -mfma -mf16c (binding.gyp, sk_cpu_avx2).
#include "../x86-intrinsics.h"

#define SK_ISA_NAMESPACE avx2
#define SK_VEC_WIDTH 8
#include "f32-decode-impl.h"
#include "f32-decode.h"

using DecodeOps = sk::cpu::avx2::VecOps;  // csrc/cpu/vec-ops.h

void sk_f32_decode_ukernel__avx2(const sk_decode_task* t, float* scratch) {
  sk::cpu::avx2::decode_any<DecodeOps, 4, 2, 4, 2>(*t, scratch);
}
void sk_f32_quest_score_ukernel__avx2(const sk_quest_score_job* j) { sk::cpu::avx2::quest_any<DecodeOps>(*j); }
void sk_widen_ukernel__avx2(sk_dtype type, const void* src, size_t n, float* dst) {
  sk::cpu::avx2::widen_row<DecodeOps>(type, src, n, dst);
}
