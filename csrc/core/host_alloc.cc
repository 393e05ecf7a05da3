#include "host_alloc.h"

#include <stdlib.h>

#include <list>
#include <mutex>
#include <unordered_map>

namespace sk {
namespace {

// Freed blocks of kCacheMinBytes or more wait for a request of the same
// rounded size, kCacheMaxBytes in all (the oldest go first to make room):
// programs allocate the same sizes call after call, and a block freed to the
// OS comes back as fresh pages, a fault each, and on the JS thread those
// faults cost more than the op that follows (bench/results/tuning-notes.md).
constexpr size_t kCacheMinBytes = size_t(64) << 10;
constexpr size_t kCacheMaxBytes = size_t(256) << 20;

struct Cached {
  size_t rounded;
  void* block;
};

struct Registry {
  std::mutex mu;
  std::unordered_map<void*, size_t> refs;   // block → references
  std::unordered_map<void*, size_t> sizes;  // block → bytes
  std::list<Cached> cache;                  // newest first
  HostStats stats{0, 0, 0, 0};
};

size_t rounded_size(size_t bytes) {  // aligned_alloc wants a multiple of the alignment; at least one line
  const size_t r = (bytes + kHostAlignment - 1) / kHostAlignment * kHostAlignment;
  return r == 0 && bytes == 0 ? kHostAlignment : r;
}

// Takes a cached block of exactly `rounded` bytes, or null. Holds r.mu.
void* take_cached(Registry& r, size_t rounded) {
  for (auto it = r.cache.begin(); it != r.cache.end(); ++it)
    if (it->rounded == rounded) {
      void* p = it->block;
      r.stats.cached_blocks -= 1;
      r.stats.cached_bytes -= rounded;
      r.cache.erase(it);
      return p;
    }
  return nullptr;
}

// Process-wide: a block may be created in one worker_thread's addon instance
// and outlive it; never destroyed, so late releases at exit stay safe.
Registry& registry() {
  static Registry* r = new Registry();
  return *r;
}

}  // namespace

void* host_alloc(size_t bytes) {
  const size_t rounded = rounded_size(bytes);
  if (rounded < bytes) return nullptr;  // overflow
  Registry& r = registry();
  void* p = nullptr;
  if (rounded >= kCacheMinBytes) {
    std::lock_guard<std::mutex> lock(r.mu);
    p = take_cached(r, rounded);
  }
  if (!p) p = aligned_alloc(kHostAlignment, rounded);
  if (!p) return nullptr;
  std::lock_guard<std::mutex> lock(r.mu);
  r.refs[p] = 1;
  r.sizes[p] = bytes;
  r.stats.blocks += 1;
  r.stats.bytes += bytes;
  return p;
}

bool host_retain(void* ptr) {
  Registry& r = registry();
  std::lock_guard<std::mutex> lock(r.mu);
  auto it = r.refs.find(ptr);
  if (it == r.refs.end()) return false;
  ++it->second;
  return true;
}

void host_release(void* ptr) {
  Registry& r = registry();
  std::list<Cached> evicted;
  {
    std::lock_guard<std::mutex> lock(r.mu);
    auto it = r.refs.find(ptr);
    if (it == r.refs.end() || --it->second > 0) return;
    r.refs.erase(it);
    auto size = r.sizes.find(ptr);
    const size_t rounded = rounded_size(size->second);
    r.stats.blocks -= 1;
    r.stats.bytes -= size->second;
    r.sizes.erase(size);
    if (rounded >= kCacheMinBytes && rounded <= kCacheMaxBytes) {
      r.cache.push_front({rounded, ptr});
      r.stats.cached_blocks += 1;
      r.stats.cached_bytes += rounded;
      while (r.stats.cached_bytes > kCacheMaxBytes) {  // free outside the lock
        evicted.splice(evicted.end(), r.cache, std::prev(r.cache.end()));
        r.stats.cached_blocks -= 1;
        r.stats.cached_bytes -= evicted.back().rounded;
      }
      ptr = nullptr;
    }
  }
  for (const Cached& c : evicted) free(c.block);
  free(ptr);
}

void host_empty_cache() {
  Registry& r = registry();
  std::list<Cached> all;
  {
    std::lock_guard<std::mutex> lock(r.mu);
    all.swap(r.cache);
    r.stats.cached_blocks = r.stats.cached_bytes = 0;
  }
  for (const Cached& c : all) free(c.block);
}

HostStats host_stats() {
  Registry& r = registry();
  std::lock_guard<std::mutex> lock(r.mu);
  return r.stats;
}

}  // namespace sk
