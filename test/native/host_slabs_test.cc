// Mid-size host blocks from slabs (host_slabs.h): size classes, alignment,
// reuse by class, retain / release, emptying the cache beside live blocks,
// big blocks outside the slabs, poisoning under ASan, and several threads.
#include <stdint.h>
#include <string.h>

#include <thread>
#include <vector>

#include "../../csrc/core/host_alloc.h"
#include "../../csrc/core/host_slabs.h"
#include "check.h"

namespace {
constexpr size_t kKiB = 1024, kMiB = kKiB * kKiB;
bool aligned(const void* p, size_t to) { return reinterpret_cast<uintptr_t>(p) % to == 0; }
}  // namespace

SK_TEST(host_slabs_size_classes_waste_at_most_an_eighth) {
  using sk::SlabArena;
  CHECK(SlabArena::class_bytes(64 * kKiB) == 64 * kKiB, "64 KiB is a class");
  CHECK(SlabArena::class_bytes(64 * kKiB + 1) == 72 * kKiB, "then steps of 8 KiB");
  CHECK(SlabArena::class_bytes(401408) == 416 * kKiB, "a conv1x1 512x14x14 output: %zu",
        SlabArena::class_bytes(401408));
  CHECK(SlabArena::class_bytes(8 * kMiB) == 8 * kMiB, "8 MiB is the last class");
  CHECK(SlabArena::class_bytes(4 * kKiB + 1) == 4 * kKiB + 512, "small classes step by less than a page");
  CHECK(!SlabArena::serves(4 * kKiB - 1) && SlabArena::serves(4 * kKiB) && !SlabArena::serves(8 * kMiB + 1),
        "the slabs' range");
  for (size_t bytes = 4 * kKiB; bytes <= 8 * kMiB; bytes += 4093) {
    const size_t c = SlabArena::class_bytes(bytes);
    CHECK(c >= bytes && (c - bytes) * 8 <= bytes && c % sk::kHostAlignment == 0, "%zu bytes -> class %zu", bytes, c);
    CHECK(bytes <= 60 * kKiB || c % 4096 == 0, "%zu bytes -> class %zu: whole pages", bytes, c);
  }
}

SK_TEST(host_slabs_blocks_are_aligned_and_sizes_of_one_class_share_slots) {
  sk::host_empty_cache();
  for (size_t bytes :
       {size_t(1), size_t(63), 4 * kKiB + 3, 64 * kKiB, 100 * kKiB + 3, size_t(401408), 8 * kMiB, 9 * kMiB + 5}) {
    void* p = sk::host_alloc(bytes);
    CHECK(p && aligned(p, sk::kHostAlignment), "%zu bytes aligned", bytes);
    if (bytes >= 64 * kKiB && sk::SlabArena::serves(bytes))
      CHECK(aligned(p, 4096), "mid-size slab blocks start on a page (%zu bytes)", bytes);
    memset(p, 0xab, bytes);
    sk::host_release(p);
  }
  sk::host_empty_cache();
  const size_t conv = 401408;  // class 416 KiB, with or without ASan's redzone
  void* a = sk::host_alloc(conv);
  void* b = sk::host_alloc(conv);
  CHECK(static_cast<char*>(b) - static_cast<char*>(a) == 416 * kKiB, "a fresh slab hands out adjacent slots");
  sk::host_release(a);
  sk::HostStats s = sk::host_stats();
  CHECK(s.cached_blocks == 1 && s.cached_bytes == 416 * kKiB, "cached by class: %llu bytes",
        (unsigned long long)s.cached_bytes);
  void* c = sk::host_alloc(410 * kKiB);  // another size of the same class
  CHECK(c == a && sk::host_stats().cached_blocks == 0, "reused by class");
  void* d = sk::host_alloc(420 * kKiB);  // the next class
  CHECK(d != a && d != b, "another class, another slot");
  for (void* p : {b, c, d}) sk::host_release(p);
  sk::host_empty_cache();
}

SK_TEST(host_slabs_a_retained_block_is_never_handed_out_again) {
  sk::host_empty_cache();
  void* a = sk::host_alloc(200 * kKiB);
  CHECK(sk::host_retain(a), "retain");
  CHECK(!sk::host_retain(static_cast<char*>(a) + 64), "an interior pointer is no block");
  sk::host_release(a);
  void* b = sk::host_alloc(200 * kKiB);
  CHECK(b != a, "still held by its second reference");
  sk::host_release(a);
  CHECK(!sk::host_retain(a), "a cached block is not live");
  sk::host_release(a);  // unknown now: ignored, not a double free
  CHECK(sk::host_stats().cached_blocks == 1, "cached once (%llu)", (unsigned long long)sk::host_stats().cached_blocks);
  sk::host_release(b);
  sk::host_empty_cache();
}

SK_TEST(host_slabs_emptying_the_cache_keeps_live_neighbours_intact) {
  sk::host_empty_cache();
  const size_t bytes = 300 * kKiB;
  void* a = sk::host_alloc(bytes);
  void* b = sk::host_alloc(bytes);  // the same slab as a
  memset(a, 1, bytes);
  memset(b, 7, bytes);
  const uint64_t live = sk::host_stats().blocks;
  sk::host_release(a);
  sk::host_empty_cache();
  sk::HostStats s = sk::host_stats();
  CHECK(s.cached_blocks == 0 && s.cached_bytes == 0 && s.blocks == live - 1, "emptied beside a live block");
  const unsigned char* bb = static_cast<const unsigned char*>(b);
  size_t bad = 0;
  for (size_t i = 0; i < bytes; ++i) bad += bb[i] != 7;
  CHECK(bad == 0, "the live neighbour kept its data (%zu bytes changed)", bad);
  void* again = sk::host_alloc(bytes);
  const unsigned char* aa = static_cast<const unsigned char*>(again);
  size_t nonzero = 0;
  for (size_t i = 0; i < bytes; ++i) nonzero += aa[i] != 0;
  CHECK(again == a && nonzero == 0, "the emptied slot comes back with its pages dropped (%zu nonzero)", nonzero);
  sk::host_release(again);
  sk::host_release(b);
  sk::host_empty_cache();
}

SK_TEST(host_slabs_big_blocks_bypass_the_slabs_and_cache_by_exact_size) {
  sk::host_empty_cache();
  void* big = sk::host_alloc(9 * kMiB + 100);
  sk::host_release(big);
  sk::HostStats s = sk::host_stats();
  CHECK(s.cached_blocks == 1 && s.cached_bytes == 9 * kMiB + 128, "rounded to 64 bytes only: %llu",
        (unsigned long long)s.cached_bytes);
  void* other = sk::host_alloc(9 * kMiB + 4096);
  CHECK(other != big && sk::host_stats().cached_blocks == 1, "another exact size misses");
  void* same = sk::host_alloc(9 * kMiB + 90);
  CHECK(same == big, "the same rounded size hits");
  sk::host_release(same), sk::host_release(other);
  sk::host_empty_cache();
  CHECK(sk::host_stats().cached_bytes == 0, "emptied");
}

SK_TEST(host_slabs_free_blocks_are_poisoned_under_asan) {
#ifdef SK_ASAN
  sk::host_empty_cache();
  char* p = static_cast<char*>(sk::host_alloc(100 * kKiB + 8));
  CHECK(!__asan_region_is_poisoned(p, 100 * kKiB + 8), "a live block is addressable");
  CHECK(__asan_address_is_poisoned(p + 100 * kKiB + 8), "past its bytes is not");
  sk::host_release(p);
  CHECK(__asan_address_is_poisoned(p) && __asan_address_is_poisoned(p + 50 * kKiB), "a freed block is poisoned");
  void* big = sk::host_alloc(10 * kMiB);
  sk::host_release(big);
  CHECK(__asan_address_is_poisoned(big), "a cached big block is poisoned");
  sk::host_empty_cache();
#else
  printf("     (no ASan in this build: poisoning unchecked)\n");
#endif
}

SK_TEST(host_slabs_threads_never_share_a_slot) {
  sk::host_empty_cache();
  constexpr int kThreads = 4, kRounds = 300;
  std::vector<std::thread> threads;
  std::vector<int> overlaps(kThreads, 0);
  for (int t = 0; t < kThreads; ++t)
    threads.emplace_back([t, &overlaps] {
      std::vector<unsigned char*> held;
      for (int i = 0; i < kRounds; ++i) {
        const size_t bytes = (64 + 37 * ((i + t) % 9)) * kKiB;
        auto* p = static_cast<unsigned char*>(sk::host_alloc(bytes));
        if (!p) continue;
        memset(p, t + 1, bytes);
        held.push_back(p);
        if (held.size() > 6) {  // check the oldest kept its tag, then let it go
          unsigned char* q = held.front();
          overlaps[t] += q[0] != t + 1 || q[64 * kKiB - 1] != t + 1;
          sk::host_release(q);
          held.erase(held.begin());
        }
      }
      for (unsigned char* q : held) sk::host_release(q);
    });
  for (std::thread& th : threads) th.join();
  int total = 0;
  for (int n : overlaps) total += n;
  CHECK(total == 0, "%d blocks overwritten by another thread", total);
  sk::host_empty_cache();
}
