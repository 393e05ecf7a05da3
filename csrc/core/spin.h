// Short spin-waits before a futex sleep (waking a sleeping thread costs tens
// of µs on a VM): the thread pool's caller waiting for its last worker, the
// executor's job thread waiting for the next op.
#pragma once
#include <chrono>

#if defined(__x86_64__) || defined(_M_X64)
#include <immintrin.h>
#define SK_CPU_RELAX() _mm_pause()
#elif defined(__aarch64__)
#define SK_CPU_RELAX() __asm__ __volatile__("yield")
#else
#define SK_CPU_RELAX() ((void)0)
#endif

namespace sk {

// Spins until ready() or `limit` passes; returns ready().
template <class Ready>
bool spin_until(Ready ready, std::chrono::microseconds limit) {
  const auto end = std::chrono::steady_clock::now() + limit;
  for (;;) {
    for (int i = 0; i < 64; ++i) {
      if (ready()) return true;
      SK_CPU_RELAX();
    }
    if (std::chrono::steady_clock::now() >= end) return ready();
  }
}

}  // namespace sk
