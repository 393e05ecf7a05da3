// Every ISA's cast kernel against the scalar one, bit for bit, plus spot
// values from the format definitions (docs/formats.md). The exhaustive checks
// against an independent reference live in test/numeric/.
#include <math.h>
#include <stdint.h>
#include <string.h>

#include <vector>

#include "../../csrc/core/cpu_features.h"
#include "../../csrc/cpu/dispatch.h"
#include "check.h"
#include "helpers.h"

namespace {

using sktest::isas_here;

std::vector<uint8_t> run_cast(sk_isa isa, const void* src, sk_dtype from, sk_dtype to, size_t n, bool sat) {
  std::vector<uint8_t> out(n * sk_dtype_size(to) + 1);
  sk_cast_params p{src, out.data(), n, from, to, sat};
  sk_cast_kernel k = sk_cpu_cast_pick(p, isa);
  k.fn(&p);
  out.pop_back();
  return out;
}

// float32 patterns: every exponent with boundary and tie mantissas, both signs,
// plus a deterministic pseudo-random spread.
std::vector<uint32_t> f32_sweep() {
  std::vector<uint32_t> v;
  const uint32_t mantissas[] = {0,        1,        2,        0x7FF,    0x800,    0x801,    0xFFF,
                                0x1000,   0x1001,   0x7FFF,   0x8000,   0x8001,   0xFFFF,   0x10000,
                                0x80000,  0xFFFFF,  0x100000, 0x180000, 0x200000, 0x300000, 0x400000,
                                0x400001, 0x7FFFFF, 0x7FFFFE, 0x600000, 0x0FFFFF, 0x17FFFF};
  for (uint32_t s = 0; s < 2; ++s)
    for (uint32_t e = 0; e < 256; ++e)
      for (uint32_t m : mantissas) v.push_back(s << 31 | e << 23 | m);
  uint32_t x = 12345;
  for (int i = 0; i < 200000; ++i) {
    x ^= x << 13, x ^= x >> 17, x ^= x << 5;
    v.push_back(x);
  }
  return v;
}

}  // namespace

SK_TEST(cast_every_isa_matches_scalar_on_all_narrow_patterns) {
  std::vector<uint16_t> all16(65536);
  for (uint32_t i = 0; i < 65536; ++i) all16[i] = static_cast<uint16_t>(i);
  std::vector<uint8_t> all8(256);
  for (uint32_t i = 0; i < 256; ++i) all8[i] = static_cast<uint8_t>(i);
  const struct {
    sk_dtype t;
    const void* data;
    size_t n;
  } inputs[] = {{SK_F16, all16.data(), 65536}, {SK_BF16, all16.data(), 65536}, {SK_F8E4M3FN, all8.data(), 256},
                {SK_F8E5M2, all8.data(), 256}, {SK_I8, all8.data(), 256},      {SK_U8, all8.data(), 256}};
  for (sk_isa isa : isas_here())
    for (const auto& in : inputs)
      for (int to = 0; to < SK_DTYPE_COUNT; ++to)
        for (bool sat : {false, true}) {
          auto want = run_cast(SK_ISA_SCALAR, in.data, in.t, static_cast<sk_dtype>(to), in.n, sat);
          auto got = run_cast(isa, in.data, in.t, static_cast<sk_dtype>(to), in.n, sat);
          CHECK(want == got, "%s: %s -> %s (saturate %d)", sk_isa_name(isa), sk_dtype_name(in.t),
                sk_dtype_name(static_cast<sk_dtype>(to)), sat);
        }
}

SK_TEST(cast_every_isa_matches_scalar_on_float32_sweep) {
  std::vector<uint32_t> sweep = f32_sweep();
  for (sk_isa isa : isas_here())
    for (int to = 0; to < SK_DTYPE_COUNT; ++to)
      for (bool sat : {false, true}) {
        auto want = run_cast(SK_ISA_SCALAR, sweep.data(), SK_F32, static_cast<sk_dtype>(to), sweep.size(), sat);
        auto got = run_cast(isa, sweep.data(), SK_F32, static_cast<sk_dtype>(to), sweep.size(), sat);
        CHECK(want == got, "%s: float32 -> %s (saturate %d)", sk_isa_name(isa),
              sk_dtype_name(static_cast<sk_dtype>(to)), sat);
      }
}

SK_TEST(cast_lengths_that_are_not_a_multiple_of_the_vector) {
  std::vector<float> src(131);
  for (size_t i = 0; i < src.size(); ++i) src[i] = static_cast<float>(i) * 0.37f - 20.f;
  for (sk_isa isa : isas_here())
    for (size_t n : {1, 3, 15, 17, 33, 131})
      for (int to = 0; to < SK_DTYPE_COUNT; ++to) {
        auto want = run_cast(SK_ISA_SCALAR, src.data(), SK_F32, static_cast<sk_dtype>(to), n, true);
        auto got = run_cast(isa, src.data(), SK_F32, static_cast<sk_dtype>(to), n, true);
        CHECK(want == got, "%s: n=%zu to %s", sk_isa_name(isa), n, sk_dtype_name(static_cast<sk_dtype>(to)));
      }
}

SK_TEST(cast_spot_values_from_the_format_rules) {
  struct Spot {
    float x;
    sk_dtype to;
    bool sat;
    uint32_t want;
  };
  const Spot spots[] = {
      {1.0625f, SK_F8E4M3FN, true, 0x38},
      {1.1875f, SK_F8E4M3FN, true, 0x3A},
      {0.0029296875f, SK_F8E4M3FN, true, 0x02},
      {480.f, SK_F8E5M2, true, 0x60},
      {1000.f, SK_F8E4M3FN, true, 0x7E},
      {464.f, SK_F8E4M3FN, false, 0x7E},
      {465.f, SK_F8E4M3FN, false, 0x7F},
      {-INFINITY, SK_F8E4M3FN, false, 0xFF},
      {-INFINITY, SK_F8E4M3FN, true, 0xFE},
      {61440.f, SK_F8E5M2, false, 0x7C},
      {61439.f, SK_F8E5M2, false, 0x7B},
      {INFINITY, SK_F8E5M2, true, 0x7B},
      {-NAN, SK_F8E5M2, true, 0x7F},
      {65520.f, SK_F16, true, 0x7C00},
      {65519.f, SK_F16, true, 0x7BFF},
      {5.9604644775390625e-8f, SK_F16, true, 0x0001},
      {2.98023223876953125e-8f, SK_F16, true, 0x0000},  // exactly half the smallest subnormal: ties to even
      {-0.f, SK_BF16, true, 0x8000},
      {1.00390625f, SK_BF16, true, 0x3F80},  // tie to even
      {2.5f, SK_I8, true, 2},
      {3.5f, SK_I8, true, 4},
      {-300.f, SK_I8, true, 0x80},
      {NAN, SK_I32, true, 0},
      {3e9f, SK_I32, true, 0x7FFFFFFF},
      {-1.f, SK_U8, true, 0},
  };
  for (sk_isa isa : isas_here())
    for (const Spot& s : spots) {
      auto out = run_cast(isa, &s.x, SK_F32, s.to, 1, s.sat);
      uint32_t got = 0;
      memcpy(&got, out.data(), out.size());
      CHECK(got == s.want, "%s: %.9g -> %s (saturate %d): got 0x%X want 0x%X", sk_isa_name(isa), s.x,
            sk_dtype_name(s.to), s.sat, got, s.want);
    }
}

SK_TEST(cast_int32_to_int8_saturates_without_the_float_detour) {
  const int32_t src[] = {16777217, -16777217, 127, 128, -129, 0};
  const uint8_t want[] = {127, 0x80, 127, 127, 0x80, 0};
  for (sk_isa isa : isas_here()) {
    auto out = run_cast(isa, src, SK_I32, SK_I8, 6, true);
    CHECK(memcmp(out.data(), want, 6) == 0, "%s", sk_isa_name(isa));
    auto same = run_cast(isa, src, SK_I32, SK_I32, 6, true);
    CHECK(memcmp(same.data(), src, sizeof src) == 0, "%s: int32 -> int32 must copy", sk_isa_name(isa));
  }
}
