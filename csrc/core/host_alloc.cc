#include "host_alloc.h"

#include <stdlib.h>

#include <list>
#include <mutex>
#include <unordered_map>

#include "host_slabs.h"

namespace sk {
namespace {

// Freed blocks wait for a request of the same size, kCacheMaxBytes in all:
// programs allocate the same sizes call after call, and a block freed to the
// OS comes back as fresh pages, a fault each, and on the JS thread those
// faults cost more than the op that follows (bench/results/tuning-notes.md).
// Mid-size blocks are cached in their slabs (host_slabs.h); bigger ones in a
// list by exact rounded size, the oldest evicted first to make room.
constexpr size_t kCacheMaxBytes = size_t(256) << 20;

struct Block {
  size_t refs;
  size_t bytes;  // as requested
  Slab* slab;    // null: aligned_alloc
};

struct Cached {
  size_t rounded;
  void* block;
};

struct Registry {
  std::mutex mu;
  std::unordered_map<void*, Block> live;
  SlabArena slabs;
  std::list<Cached> big;  // freed blocks above the slabs' sizes, newest first
  size_t big_bytes = 0;
  uint64_t live_bytes = 0;
};

size_t rounded_size(size_t bytes) {  // aligned_alloc wants a multiple of the alignment; at least one line
  const size_t r = (bytes + kHostAlignment - 1) / kHostAlignment * kHostAlignment;
  return r == 0 && bytes == 0 ? kHostAlignment : r;
}

// Takes a cached big block of exactly `rounded` bytes, or null. Holds r.mu.
void* take_big(Registry& r, size_t rounded) {
  for (auto it = r.big.begin(); it != r.big.end(); ++it)
    if (it->rounded == rounded) {
      void* p = it->block;
      r.big_bytes -= rounded;
      r.big.erase(it);
      ASAN_UNPOISON_MEMORY_REGION(p, rounded);
      return p;
    }
  return nullptr;
}

// Brings the cache down to kCacheMaxBytes: the big blocks go first, oldest
// first (into `evicted`, to be freed outside the lock), then slab memory.
void trim(Registry& r, std::list<Cached>& evicted, size_t cap) {
  while (r.big_bytes > 0 && r.big_bytes + r.slabs.cached_bytes() > cap) {
    evicted.splice(evicted.end(), r.big, std::prev(r.big.end()));
    r.big_bytes -= evicted.back().rounded;
  }
  if (cap == 0 || r.big_bytes + r.slabs.cached_bytes() > cap) r.slabs.trim(cap - r.big_bytes);
}

void free_all(const std::list<Cached>& blocks) {
  for (const Cached& c : blocks) {
    ASAN_UNPOISON_MEMORY_REGION(c.block, c.rounded);
    free(c.block);
  }
}

// Process-wide: a block may be created in one worker_thread's addon instance
// and outlive it; never destroyed, so late releases at exit stay safe.
Registry& registry() {
  static Registry* r = new Registry();
  return *r;
}

}  // namespace

void* host_alloc(size_t bytes) {
  Registry& r = registry();
  void* p = nullptr;
  Slab* slab = nullptr;
  if (SlabArena::serves(bytes)) {
    std::lock_guard<std::mutex> lock(r.mu);
    p = r.slabs.take(bytes, &slab);
    if (!p) return nullptr;
    r.live[p] = Block{1, bytes, slab};
    r.live_bytes += bytes;
    return p;
  }
  const size_t rounded = rounded_size(bytes);
  if (rounded < bytes) return nullptr;  // overflow
  if (bytes > kSlabMaxBytes) {
    std::lock_guard<std::mutex> lock(r.mu);
    p = take_big(r, rounded);
  }
  if (!p && bytes > kSlabMaxBytes) {
    // Weights and big outputs stream through the kernels: huge pages let the
    // hardware prefetchers run past 4 KiB and spare a TLB miss per page
    // (tuning-notes.md, "Huge pages for big blocks"). The alignment costs
    // address space only: untouched pages are never resident.
    // posix_memalign: aligned_alloc wants the size a multiple of the alignment.
    if (posix_memalign(&p, kHugeAlign, rounded) != 0) p = nullptr;
    if (p) advise_pages(p, rounded, true);
  } else if (!p) {
    p = aligned_alloc(kHostAlignment, rounded);
  }
  if (!p) return nullptr;
  std::lock_guard<std::mutex> lock(r.mu);
  r.live[p] = Block{1, bytes, nullptr};
  r.live_bytes += bytes;
  return p;
}

bool host_retain(void* ptr) {
  Registry& r = registry();
  std::lock_guard<std::mutex> lock(r.mu);
  auto it = r.live.find(ptr);
  if (it == r.live.end()) return false;
  ++it->second.refs;
  return true;
}

void host_release(void* ptr) {
  Registry& r = registry();
  std::list<Cached> evicted;
  {
    std::lock_guard<std::mutex> lock(r.mu);
    auto it = r.live.find(ptr);
    if (it == r.live.end() || --it->second.refs > 0) return;
    const Block b = it->second;
    r.live.erase(it);
    r.live_bytes -= b.bytes;
    const size_t rounded = rounded_size(b.bytes);
    if (b.slab) {
      r.slabs.give(ptr, b.slab);
    } else if (b.bytes > kSlabMaxBytes && rounded <= kCacheMaxBytes) {
      ASAN_POISON_MEMORY_REGION(ptr, rounded);
      r.big.push_front({rounded, ptr});
      r.big_bytes += rounded;
    } else {
      evicted.push_back({rounded, ptr});
    }
    trim(r, evicted, kCacheMaxBytes);
  }
  free_all(evicted);
}

void host_empty_cache() {
  Registry& r = registry();
  std::list<Cached> evicted;
  {
    std::lock_guard<std::mutex> lock(r.mu);
    trim(r, evicted, 0);
  }
  free_all(evicted);
}

HostStats host_stats() {
  Registry& r = registry();
  std::lock_guard<std::mutex> lock(r.mu);
  return HostStats{r.live.size(), r.live_bytes, r.big.size() + r.slabs.cached_blocks(),
                   r.big_bytes + r.slabs.cached_bytes()};
}

}  // namespace sk
