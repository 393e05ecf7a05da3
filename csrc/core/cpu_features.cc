#include "cpu_features.h"

#include <string.h>

#if defined(__x86_64__)
#include <cpuid.h>
#elif defined(__aarch64__)
#include <asm/hwcap.h>
#include <sys/auxv.h>
#endif

namespace {

#if defined(__x86_64__)
// XCR0 says which register files the OS saves on a context switch: a CPU can
// report AVX-512 while the kernel keeps it disabled.
unsigned long long read_xcr0() {
  unsigned int lo, hi;
  __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
  return (static_cast<unsigned long long>(hi) << 32) | lo;
}

void detect_x86(sk_cpu_features& f) {
  unsigned int a, b, c, d;
  if (!__get_cpuid(1, &a, &b, &c, &d)) return;
  const bool osxsave = c & bit_OSXSAVE;
  const bool fma = c & bit_FMA, f16c = c & bit_F16C, avx = c & bit_AVX;
  if (!osxsave || !avx) return;
  const unsigned long long xcr0 = read_xcr0();
  const bool ymm_ok = (xcr0 & 0x6) == 0x6;    // SSE + AVX state
  const bool zmm_ok = (xcr0 & 0xE6) == 0xE6;  // + opmask, ZMM_Hi256, Hi16_ZMM
  if (!ymm_ok || !__get_cpuid_count(7, 0, &a, &b, &c, &d)) return;
  f.avx2 = b & bit_AVX2;
  f.fma = fma;
  f.f16c = f16c;
  if (zmm_ok) {
    f.avx512f = b & bit_AVX512F;
    f.avx512bw = b & bit_AVX512BW;
    f.avx512vl = b & bit_AVX512VL;
    f.avx512vnni = c & bit_AVX512VNNI;
    unsigned int a1, b1, c1, d1;
    if (__get_cpuid_count(7, 1, &a1, &b1, &c1, &d1)) f.avx512bf16 = a1 & bit_AVX512BF16;
  }
}
#endif

#if defined(__aarch64__)
void detect_arm64(sk_cpu_features& f) {
  const unsigned long hw = getauxval(AT_HWCAP);
  const unsigned long hw2 = getauxval(AT_HWCAP2);
  f.neon = hw & HWCAP_ASIMD;
  f.fp16 = (hw & HWCAP_FPHP) && (hw & HWCAP_ASIMDHP);
  f.dotprod = hw & HWCAP_ASIMDDP;
#ifdef HWCAP2_BF16
  f.bf16 = hw2 & HWCAP2_BF16;
#endif
#ifdef HWCAP2_I8MM
  f.i8mm = hw2 & HWCAP2_I8MM;
#endif
  (void)hw2;
}
#endif

}  // namespace

sk_cpu_features sk_cpu_detect() {
  sk_cpu_features f;
  memset(&f, 0, sizeof f);
#if defined(__x86_64__)
  detect_x86(f);
#elif defined(__aarch64__)
  detect_arm64(f);
#endif
  return f;
}

const char* sk_cpu_arch() {
#if defined(__x86_64__)
  return "x64";
#elif defined(__aarch64__)
  return "arm64";
#else
  return "unknown";
#endif
}

const char* sk_isa_name(sk_isa isa) {
  static const char* const kNames[SK_ISA_COUNT] = {"scalar", "avx2", "avx512", "neon"};
  return isa >= 0 && isa < SK_ISA_COUNT ? kNames[isa] : "invalid";
}

bool sk_isa_supported(sk_isa isa, const sk_cpu_features& f) {
  switch (isa) {
    case SK_ISA_SCALAR: return true;
#if defined(__x86_64__)
    case SK_ISA_AVX2: return f.avx2 && f.fma && f.f16c;
    case SK_ISA_AVX512: return f.avx2 && f.fma && f.f16c && f.avx512f && f.avx512bw && f.avx512vl;
#endif
#if defined(__aarch64__)
    case SK_ISA_NEON: return f.neon;
#endif
    default: return false;
  }
}

sk_isa sk_isa_best(const sk_cpu_features& f) {
  const sk_isa order[] = {SK_ISA_AVX512, SK_ISA_AVX2, SK_ISA_NEON};
  for (sk_isa isa : order)
    if (sk_isa_supported(isa, f)) return isa;
  return SK_ISA_SCALAR;
}

bool sk_isa_parse(const char* name, sk_isa* out) {
  for (int i = 0; i < SK_ISA_COUNT; ++i) {
    if (strcmp(name, sk_isa_name(static_cast<sk_isa>(i))) == 0) {
      *out = static_cast<sk_isa>(i);
      return true;
    }
  }
  return false;
}
