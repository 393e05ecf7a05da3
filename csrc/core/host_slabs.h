// Host blocks of 4 KiB to 8 MiB carved from slabs: 2 MiB-aligned mappings
// that, for blocks of 64 KiB or more, the kernel may back with transparent
// huge pages, so the first write to fresh memory takes one fault per 2 MiB
// instead of one per 4 KiB. Freed slots stay mapped for the next block of
// their size class instead of going back to malloc, which trims its heap.
// Outputs that JS code leaves to the GC are freed only when V8 collects them,
// tens of megabytes later; until then every call writes its output into fresh
// memory, and with 4 KiB pages those faults cost more than the op itself.
// Internal to host_alloc.cc, which serializes every call with its mutex.
#pragma once
#include <stddef.h>

#include <map>
#include <vector>

// Under ASan free blocks are poisoned and so is a redzone after each live
// one, so ASan reports a kernel or a view that touches a block after its last
// release or past its end, as it would for malloc'd memory.
#if defined(__SANITIZE_ADDRESS__)
#define SK_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SK_ASAN 1
#endif
#endif
#ifdef SK_ASAN
#include <sanitizer/asan_interface.h>
#else
#define ASAN_POISON_MEMORY_REGION(p, n) ((void)(p), (void)(n))
#define ASAN_UNPOISON_MEMORY_REGION(p, n) ((void)(p), (void)(n))
#endif

namespace sk {

constexpr size_t kSlabMinBytes = size_t(4) << 10;  // below a page, malloc packs blocks better
constexpr size_t kSlabMaxBytes = size_t(8) << 20;  // above this, a block is its own mapping's worth

#ifdef SK_ASAN
constexpr size_t kSlabRedzone = 64;  // bytes after every block; part of its size class
#else
constexpr size_t kSlabRedzone = 0;
#endif

// 2 MiB: a transparent huge page on x86-64 and on ARM64 with 4 KiB pages;
// where pages are bigger the alignment is merely harmless.
constexpr size_t kHugeAlign = size_t(2) << 20;

// Advises the kernel on [base, base + bytes) (base page-aligned): huge pages
// when `huge`, none at all when SPARSEKIT_HUGEPAGES=0 (docs/safety.md).
void advise_pages(void* base, size_t bytes, bool huge);

struct Slab;

class SlabArena {
 public:
  static bool serves(size_t bytes) { return bytes >= kSlabMinBytes && bytes <= kSlabMaxBytes; }
  // The size a block of `bytes` occupies: eight classes per doubling, so a
  // class wastes at most an eighth; from 64 KiB up, whole 4 KiB pages.
  static size_t class_bytes(size_t bytes);

  // A slot of class_bytes(bytes + kSlabRedzone) for `bytes` (served sizes only) and the slab it lies in, or null
  // when no memory can be mapped. Warm slots (freed earlier, pages resident)
  // go before fresh ones.
  void* take(size_t bytes, Slab** slab);
  // Returns a slot to its slab as warm (cached) memory.
  void give(void* p, Slab* slab);
  // Brings cached bytes down to `cap`: unmaps wholly free slabs, oldest
  // first, then drops the pages of warm slots. Returns the bytes still cached.
  size_t trim(size_t cap);
  size_t cached_blocks() const { return cached_blocks_; }
  size_t cached_bytes() const { return cached_bytes_; }

 private:
  std::map<size_t, std::vector<Slab*>> classes_;  // class bytes → its slabs, oldest first
  size_t cached_blocks_ = 0;
  size_t cached_bytes_ = 0;
  unsigned long long clock_ = 0;  // orders slabs by their last free
};

}  // namespace sk
