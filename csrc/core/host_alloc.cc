#include "host_alloc.h"

#include <stdlib.h>

#include <mutex>
#include <unordered_map>

namespace sk {
namespace {

struct Registry {
  std::mutex mu;
  std::unordered_map<void*, size_t> refs;   // block → references
  std::unordered_map<void*, size_t> sizes;  // block → bytes
  HostStats stats{0, 0};
};

// Process-wide: a block may be created in one worker_thread's addon instance
// and outlive it; never destroyed, so late releases at exit stay safe.
Registry& registry() {
  static Registry* r = new Registry();
  return *r;
}

}  // namespace

void* host_alloc(size_t bytes) {
  // aligned_alloc wants a size that is a multiple of the alignment; at least one line.
  size_t rounded = (bytes + kHostAlignment - 1) / kHostAlignment * kHostAlignment;
  if (rounded < bytes) return nullptr;  // overflow
  void* p = aligned_alloc(kHostAlignment, rounded == 0 ? kHostAlignment : rounded);
  if (!p) return nullptr;
  Registry& r = registry();
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
  {
    std::lock_guard<std::mutex> lock(r.mu);
    auto it = r.refs.find(ptr);
    if (it == r.refs.end() || --it->second > 0) return;
    r.refs.erase(it);
    auto size = r.sizes.find(ptr);
    r.stats.blocks -= 1;
    r.stats.bytes -= size->second;
    r.sizes.erase(size);
  }
  free(ptr);
}

HostStats host_stats() {
  Registry& r = registry();
  std::lock_guard<std::mutex> lock(r.mu);
  return r.stats;
}

}  // namespace sk
