// AVX-512 decode: 16 lanes (a page row of 16 tokens per vector); tiles of 6
// query rows × 4 vectors (24 accumulators of 32 zmm). Built with -mavx512f
// -mavx512bw -mavx512vl … (binding.gyp, sk_cpu_avx512).
#include "../x86-intrinsics.h"

#define SK_ISA_NAMESPACE avx512
#define SK_VEC_WIDTH 16
#include "f32-decode-impl.h"
#include "f32-decode.h"

using DecodeOps = sk::cpu::avx512::VecOps;  // csrc/cpu/vec-ops.h

void sk_f32_decode_ukernel__avx512(const sk_decode_task* t, float* scratch) {
  sk::cpu::avx512::decode_any<DecodeOps, 6, 4, 6, 4>(*t, scratch);
}
void sk_f32_quest_score_ukernel__avx512(const sk_quest_score_job* j) { sk::cpu::avx512::quest_any<DecodeOps>(*j); }
void sk_widen_ukernel__avx512(sk_dtype type, const void* src, size_t n, float* dst) {
  sk::cpu::avx512::widen_row<DecodeOps>(type, src, n, dst);
}
