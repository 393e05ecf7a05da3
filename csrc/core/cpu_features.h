// CPU feature detection and the kernel set (ISA) chosen once at load.
#pragma once

struct sk_cpu_features {
  // x86-64 (each also requires the OS to save the register state)
  bool avx2, fma, f16c;
  bool avx512f, avx512bw, avx512vl, avx512bf16, avx512vnni;
  // ARM64
  bool neon, fp16, dotprod, bf16, i8mm;
};

enum sk_isa { SK_ISA_SCALAR = 0, SK_ISA_AVX2 = 1, SK_ISA_AVX512 = 2, SK_ISA_NEON = 3, SK_ISA_COUNT = 4 };

// The sk_isa of an ISA as the kernel lists (*.inc) spell it, for the picks'
// X-macros: SK_ISA_##isa##_ID.
#define SK_ISA_scalar_ID SK_ISA_SCALAR
#define SK_ISA_avx2_ID SK_ISA_AVX2
#define SK_ISA_avx512_ID SK_ISA_AVX512
#define SK_ISA_neon_ID SK_ISA_NEON

sk_cpu_features sk_cpu_detect();
const char* sk_isa_name(sk_isa isa);
const char* sk_cpu_arch();
// Whether this CPU can run the kernel set. AVX2 needs AVX2+FMA+F16C; AVX-512
// needs F, BW and VL as well; NEON is the AArch64 baseline.
bool sk_isa_supported(sk_isa isa, const sk_cpu_features& f);
// The best set this CPU supports.
sk_isa sk_isa_best(const sk_cpu_features& f);
// Parses "scalar|avx2|avx512|neon"; returns false for anything else.
bool sk_isa_parse(const char* name, sk_isa* out);
