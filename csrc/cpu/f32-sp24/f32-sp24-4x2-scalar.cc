// 2:4 linear kernels for the scalar kernel set (sp24.inc): 4×2 SpMM tile,
// and a gemv that indexes x with each group's two positions.
#include "../f32-gemm/ops-scalar.h"

#define SK_ISA_NAMESPACE scalar
#include "f32-sp24-impl.h"
#include "sp24.h"

namespace sk::cpu::scalar {

struct Kept {};  // one lane: sp24_row's group loop does the indexing

}  // namespace sk::cpu::scalar

SK_DEFINE_SP24_GEMM(scalar, 4, 2)
SK_DEFINE_SP24_GEMV(scalar, sk::cpu::scalar::Kept)
