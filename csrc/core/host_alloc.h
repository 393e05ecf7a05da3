// 64-byte-aligned host blocks with a reference count, for CPU tensors that
// sparsekit owns. Holders: the JS ArrayBuffer over the block (one reference,
// dropped by dispose() or by GC, whichever comes first) and every queued job
// that reads or writes it. The block is freed when the last holder lets go,
// so dispose() during a running op never frees memory under a kernel.
#pragma once
#include <stddef.h>
#include <stdint.h>

namespace sk {

constexpr size_t kHostAlignment = 64;  // a cache line, and one AVX-512 register

struct HostStats {
  uint64_t blocks;         // live blocks
  uint64_t bytes;          // their bytes, as requested
  uint64_t cached_blocks;  // freed blocks kept for reuse (host_alloc.cc: 4 KiB or more, 256 MiB in all)
  uint64_t cached_bytes;   // their bytes, rounded
};

// Returns null when the allocation fails. The block starts with one reference
// and holds whatever was there (a cached block: an earlier tensor's data).
void* host_alloc(size_t bytes);
// Adds a reference if ptr is the start of a live block; returns false otherwise
// (a caller's own memory, or a pointer into the middle of a block).
bool host_retain(void* ptr);
// Drops a reference; when none is left the block is cached or freed. Ignores unknown pointers.
void host_release(void* ptr);
HostStats host_stats();
// Frees every cached block.
void host_empty_cache();

// A kernel driver's scratch array: 64-byte aligned (a 16-byte-aligned
// malloc block splits every other AVX load across cache lines;
// bench/results/tuning-notes.md) and, at 4 KiB or more, reused from the
// cache instead of faulting in fresh pages each call. Released on scope exit.
template <class T>
class HostScratch {
 public:
  explicit HostScratch(size_t count) : p_(static_cast<T*>(host_alloc(count * sizeof(T)))) {}
  ~HostScratch() { host_release(p_); }
  HostScratch(const HostScratch&) = delete;
  HostScratch& operator=(const HostScratch&) = delete;
  T* get() const { return p_; }
  explicit operator bool() const { return p_ != nullptr; }

 private:
  T* p_;
};

}  // namespace sk
