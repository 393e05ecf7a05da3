// Scalar "vectors" of one float: the portable kernel set, and the reference
// the native tests hold every other ISA to.
#pragma once
#define SK_ISA_NAMESPACE scalar
#include "f32-spmm-impl.h"

namespace sk::cpu::scalar {
using Ops = ScalarOps;
}
