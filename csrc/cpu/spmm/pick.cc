// sk_cpu_spmm_pick: the production SpMM tile per (ISA, block size) and the
// SpMV kernel, from spmm.inc / spmv.inc. Tiles chosen by measurement
// (bench/results/spmm-cpu.json and the notes in docs/formats.md).
#include <string.h>

#include "../dispatch.h"

namespace {

struct Choice {
  sk_isa isa;
  int32_t nr, mr;
};

// The measured choices (build/Release/sk_spmm_bench 0.9 __avx2 200,
// bench/native/spmm_bench.cc: 90 % sparse, one thread, best of 200; effective
// GFLOP/s at 28×28 / 14×14 / 7×7 / linear slice): 64x1 430 / 286 / 267 / 402
// against 32x1 383 / 244 / 220 / 381 (8 accumulator chains hide the FMA
// latency; 196 rows are 3 tiles and a masked tail, and a 64-row linear panel
// reads its weights once); 32x2 426 / 373 / 464 / 614 against 16x2 352 / 321
// / 348 / 513; 16x4 445 / 450 / 415 / 429 against 8x4 384 / 298 / 286 / 316.
// AVX-512 and NEON mirror the same register budgets (unmeasured here: no such CPU).
constexpr Choice kChoices[] = {
    {SK_ISA_SCALAR, 1, 8},  {SK_ISA_SCALAR, 2, 8},  {SK_ISA_SCALAR, 4, 8},
    {SK_ISA_AVX2, 1, 64},   {SK_ISA_AVX2, 2, 32},   {SK_ISA_AVX2, 4, 16},
    {SK_ISA_AVX512, 1, 64}, {SK_ISA_AVX512, 2, 64}, {SK_ISA_AVX512, 4, 32},
    {SK_ISA_NEON, 1, 32},   {SK_ISA_NEON, 2, 32},   {SK_ISA_NEON, 4, 16},
};

#define SK_ISA_ID_scalar SK_ISA_SCALAR
#define SK_ISA_ID_avx2 SK_ISA_AVX2
#define SK_ISA_ID_avx512 SK_ISA_AVX512
#define SK_ISA_ID_neon SK_ISA_NEON

struct SpmmEntry {
  sk_isa isa;
  int32_t mr, nr;
  sk_f32_spmm_ukernel_fn fn;
  const char* name;
};
constexpr SpmmEntry kSpmm[] = {
#define SK_SPMM_UKERNEL(isa, mr, nr) \
  {SK_ISA_ID_##isa, mr, nr, sk_f32_spmm_ukernel_##mr##x##nr##__##isa, "sk_f32_spmm_ukernel_" #mr "x" #nr "__" #isa},
#include "../f32-spmm/spmm.inc"
#undef SK_SPMM_UKERNEL
};

struct SpmvEntry {
  sk_isa isa;
  int32_t nr;
  sk_f32_spmv_ukernel_fn fn;
  const char* name;
  sk_f32_spmv16_ukernel_fn fn16;
  const char* name16;
};
constexpr SpmvEntry kSpmv[] = {
#define SK_SPMV_UKERNEL(isa, nr)                                                                               \
  {SK_ISA_ID_##isa, nr, sk_f32_spmv_ukernel_1x##nr##__##isa, "sk_f32_spmv_ukernel_1x" #nr "__" #isa,         \
   sk_f32_spmv16_ukernel_1x##nr##__##isa, "sk_f32_spmv16_ukernel_1x" #nr "__" #isa},
#include "../f32-spmv/spmv.inc"
#undef SK_SPMV_UKERNEL
};

}  // namespace

sk_spmm_kernel sk_cpu_spmm_pick(const sk_spmm_params& p, sk_isa isa) {
  constexpr sk_spmm_kernel kNone{nullptr, "none", 0, nullptr, "none", nullptr, "none"};
  sk_spmm_kernel k = kNone;
  int32_t mr = 0;
  for (const Choice& c : kChoices)
    if (c.isa == isa && c.nr == p.nr) mr = c.mr;
  for (const SpmmEntry& e : kSpmm)
    if (e.isa == isa && e.nr == p.nr && e.mr == mr) k.spmm = e.fn, k.spmm_name = e.name, k.mr = e.mr;
  for (const SpmvEntry& e : kSpmv)
    if (e.isa == isa && e.nr == p.nr) k.spmv = e.fn, k.spmv_name = e.name, k.spmv16 = e.fn16, k.spmv16_name = e.name16;
  if (!k.spmm || !k.spmv) return kNone;
  return k;
}
