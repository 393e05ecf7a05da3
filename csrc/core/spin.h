// Short spin-waits before a futex sleep (waking a sleeping thread costs tens
// of µs on a VM): the thread pool's caller waiting for its last worker, the
// executor's job thread waiting for the next op.
#pragma once
#include <chrono>
#include <thread>

#if defined(__x86_64__) || defined(_M_X64)
#include <immintrin.h>
#define SK_CPU_RELAX() _mm_pause()
#elif defined(__aarch64__)
#define SK_CPU_RELAX() __asm__ __volatile__("yield")
#else
#define SK_CPU_RELAX() ((void)0)
#endif

namespace sk {

// Spins until ready() or `limit` passes; returns ready(). A `polite` spin
// yields its core between rounds, so a thread that waits for a core (the JS
// thread with an op's result to take) gets it at once instead of after the spin.
template <class Ready>
bool spin_until(Ready ready, std::chrono::microseconds limit, bool polite = false) {
  const auto end = std::chrono::steady_clock::now() + limit;
  for (;;) {
    for (int i = 0; i < 64; ++i) {
      if (ready()) return true;
      SK_CPU_RELAX();
    }
    if (std::chrono::steady_clock::now() >= end) return ready();
    if (polite) std::this_thread::yield();
  }
}

}  // namespace sk
