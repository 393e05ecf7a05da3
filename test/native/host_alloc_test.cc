// Host blocks: references, and the cache of freed blocks (4 KiB or more,
// 256 MiB in all) that host_alloc reuses by size; and
// the bounded LRU cache of shared values (cuSPARSELt plans).
#include <stdint.h>

#include <memory>
#include <stdexcept>
#include <vector>

#include "../../csrc/core/host_alloc.h"
#include "../../csrc/core/host_slabs.h"
#include "../../csrc/core/lru_cache.h"
#include "check.h"

SK_TEST(host_alloc_reuses_a_freed_block_of_the_same_size) {
  sk::host_empty_cache();
  const size_t big = size_t(1) << 20;
  void* a = sk::host_alloc(big);
  CHECK(a && reinterpret_cast<uintptr_t>(a) % sk::kHostAlignment == 0, "aligned block");
  CHECK(sk::host_retain(a), "retain");
  sk::host_release(a);
  CHECK(sk::host_stats().cached_blocks == 0, "still referenced: not cached");
  sk::host_release(a);
  sk::HostStats s = sk::host_stats();
  CHECK(s.cached_blocks == 1 && s.cached_bytes == sk::SlabArena::class_bytes(big + sk::kSlabRedzone),
        "cached %llu blocks, %llu bytes", (unsigned long long)s.cached_blocks, (unsigned long long)s.cached_bytes);
  CHECK(!sk::host_retain(a), "a cached block is not live");
  void* other = sk::host_alloc(big + 200 * 1024);  // another size class: a new block
  CHECK(other != a && sk::host_stats().cached_blocks == 1, "other size classes miss");
  void* b = sk::host_alloc(big - 10);  // the same size class
  CHECK(b == a, "the same size class reuses the block");
  s = sk::host_stats();
  CHECK(s.cached_blocks == 0 && s.cached_bytes == 0, "taken from the cache");
  void* small = sk::host_alloc(1000);
  sk::host_release(small);
  CHECK(sk::host_stats().cached_blocks == 0, "blocks under 4 KiB are freed");
  sk::host_release(b), sk::host_release(other);
  CHECK(sk::host_stats().cached_blocks == 2, "both cached");
  sk::host_empty_cache();
  s = sk::host_stats();
  CHECK(s.cached_blocks == 0 && s.cached_bytes == 0, "emptied");
}

SK_TEST(host_alloc_cache_holds_at_most_256_mib) {
  sk::host_empty_cache();
  const size_t mib = size_t(1) << 20;
  std::vector<void*> blocks;
  for (int i = 0; i < 300; ++i) blocks.push_back(sk::host_alloc(mib));  // address space only: never touched
  for (void* p : blocks) sk::host_release(p);
  sk::HostStats s = sk::host_stats();
  // Slabs hold four or five 1 MiB slots and go back to the OS whole, so the
  // cache ends within one slab of the cap.
  CHECK(s.cached_bytes <= 256 * mib && s.cached_bytes >= 248 * mib, "cached %llu MiB",
        (unsigned long long)(s.cached_bytes / mib));
  void* again = sk::host_alloc(mib);
  CHECK(sk::host_stats().cached_blocks == s.cached_blocks - 1, "a request takes a cached block");
  sk::host_release(again);
  void* huge = sk::host_alloc(300 * mib);
  sk::host_release(huge);
  CHECK(sk::host_stats().cached_bytes == s.cached_bytes, "a block past the cap is freed, not cached");
  std::vector<void*> bigs;
  for (int i = 0; i < 30; ++i) bigs.push_back(sk::host_alloc(10 * mib));
  for (void* p : bigs) sk::host_release(p);
  s = sk::host_stats();
  CHECK(s.cached_bytes <= 256 * mib && s.cached_bytes >= 240 * mib, "big blocks and slabs share the cap: %llu MiB",
        (unsigned long long)(s.cached_bytes / mib));
  sk::host_empty_cache();
}

namespace {
struct Counted {  // counts its destructions, as a plan's destructor frees it
  explicit Counted(int* freed) : freed(freed) {}
  ~Counted() { ++*freed; }
  int* freed;
};
}  // namespace

SK_TEST(lru_cache_bounds_its_values_and_frees_the_evicted_once_unused) {
  int freed = 0, made = 0;
  sk::LruCache<int, Counted> cache(2);
  const auto make = [&] { return ++made, std::make_shared<Counted>(&freed); };
  cache.get(1, make);
  cache.get(2, make);
  CHECK(cache.get(1, make) && made == 2, "a hit makes nothing (made %d)", made);
  std::shared_ptr<Counted> held = cache.get(2, make);  // 2 most recent, then 1
  cache.get(3, make);                                  // evicts 1, the least recent
  CHECK(cache.size() == 2 && made == 3 && freed == 1, "size %zu made %d freed %d", cache.size(), made, freed);
  cache.get(4, make);  // evicts 2, which the caller still holds
  CHECK(freed == 1 && held.use_count() == 1, "an evicted value in use lives on (freed %d)", freed);
  held.reset();
  CHECK(freed == 2, "and is freed when its user lets go (freed %d)", freed);
  cache.get(1, make);
  CHECK(made == 5 && freed == 3, "an evicted key is made again (made %d freed %d)", made, freed);
  bool threw = false;
  try {
    cache.get(9, []() -> std::shared_ptr<Counted> { throw std::runtime_error("refused"); });
  } catch (const std::runtime_error&) {
    threw = true;
  }
  CHECK(threw && cache.size() == 2 && freed == 3, "a failed make changes nothing (size %zu freed %d)", cache.size(),
        freed);
  sk::LruCache<int, Counted> zero(0);
  CHECK(zero.capacity() == 1, "capacity at least 1");
}
