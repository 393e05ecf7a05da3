// Scalar decode: one float per "vector". Built for the baseline (sk_core);
// the fallback every CPU runs.
#define SK_ISA_NAMESPACE scalar
#define SK_VEC_WIDTH 1
#include "f32-decode-impl.h"
#include "f32-decode.h"

namespace sk::cpu::scalar {

struct DecodeOps {
  using V = float;
  static constexpr int W = 1;
  static V set1(float x) { return x; }
  static V load(const float* p) { return *p; }
  static void store(float* p, V v) { *p = v; }
  static V add(V a, V b) { return a + b; }
  static V sub(V a, V b) { return a - b; }
  static V mul(V a, V b) { return a * b; }
  static V fma(V a, V b, V c) { return a * b + c; }  // no FMA in the x86-64 baseline
  static V max(V a, V b) { return a > b ? a : b; }
  static V pow2_bits(V t) { return TailLanes::flt(TailLanes::bits(t) << 23); }
  static V zero_below(V r, V x, V lim) { return x >= lim ? r : 0.0f; }
};

}  // namespace sk::cpu::scalar

using sk::cpu::scalar::DecodeOps;

void sk_f32_decode_ukernel__scalar(const sk_decode_task* t, float* scratch) {
  sk::cpu::scalar::decode_any<DecodeOps, 4, 4, 4, 4>(*t, scratch);
}
void sk_f32_quest_score_ukernel__scalar(const float* bounds, const uint8_t* meta, const sk_kv_pages* c, float* score) {
  sk::cpu::scalar::quest_any<DecodeOps>(bounds, meta, c, score);
}
void sk_widen_ukernel__scalar(sk_dtype type, const void* src, size_t n, float* dst) {
  sk::cpu::scalar::widen_row<DecodeOps>(type, src, n, dst);
}
