// Helpers shared by the native tests: the kernel sets this CPU runs, and a
// small deterministic random source.
#pragma once
#include <math.h>
#include <stdint.h>
#include <stdlib.h>

#include <vector>

#include "../../csrc/core/cpu_features.h"

namespace sktest {

inline std::vector<sk_isa> isas_here() {
  std::vector<sk_isa> out;
  sk_cpu_features f = sk_cpu_detect();
  for (int i = 0; i < SK_ISA_COUNT; ++i)
    if (sk_isa_supported(static_cast<sk_isa>(i), f)) out.push_back(static_cast<sk_isa>(i));
  return out;
}

// Whether a micro-kernel of this ISA runs here. SK_TEST_EMULATED_ISAS=1:
// every listed kernel runs, for a build whose AVX-512 kernels were compiled
// against SIMDe's emulation (scripts/test-avx512-emulated.sh).
inline bool runs_here(sk_isa isa) { return getenv("SK_TEST_EMULATED_ISAS") || sk_isa_supported(isa, sk_cpu_detect()); }

// xorshift64: the same inputs on every machine and compiler.
struct Rng {
  uint64_t s;
  double uniform() {  // [0, 1)
    s ^= s << 13, s ^= s >> 7, s ^= s << 17;
    return static_cast<double>(s >> 11) / 9007199254740992.0;
  }
  double normal() { return sqrt(-2 * log(1 - uniform())) * cos(6.283185307179586 * uniform()); }
};

}  // namespace sktest
