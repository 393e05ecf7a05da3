// A per-device caching allocator. cudaMalloc is slow and cudaFree
// synchronizes the whole device, so a released block goes to a free list
// bucketed by its rounded size and the next allocation of about that size
// takes it back at once. Blocks are returned only when their last owner lets
// go: the DeviceBuffer and every queued job that touches it each hold a
// DeviceMemoryRef, so a block is never handed out again while work that uses
// it may still run (stream-ordered reuse without extra events).
#pragma once
#include <stddef.h>

#include <map>
#include <memory>
#include <mutex>
#include <vector>

namespace sk::cuda {

struct MemoryStats {
  size_t allocated_bytes = 0;  // bytes in live blocks (rounded block sizes)
  size_t cached_bytes = 0;     // bytes in free blocks kept for reuse
  size_t buffers = 0;          // live blocks
};

class CachingAllocator;

// One allocation. Destroying the last reference returns the block.
class DeviceMemory {
 public:
  DeviceMemory(std::shared_ptr<CachingAllocator> owner, void* data, size_t bytes, size_t block_size);
  ~DeviceMemory();
  DeviceMemory(const DeviceMemory&) = delete;
  DeviceMemory& operator=(const DeviceMemory&) = delete;

  void* data() const { return data_; }
  size_t bytes() const { return bytes_; }  // as requested
  int device() const;

 private:
  std::shared_ptr<CachingAllocator> owner_;
  void* data_;
  size_t bytes_;
  size_t block_size_;
};
using DeviceMemoryRef = std::shared_ptr<DeviceMemory>;

class CachingAllocator : public std::enable_shared_from_this<CachingAllocator> {
 public:
  static std::shared_ptr<CachingAllocator> create(int device);

  // Call from the JS thread. Throws CudaFailure; SK_ERR_OUT_OF_MEMORY after
  // a retry with the cache emptied. Zero bytes gives a null, valid block.
  DeviceMemoryRef allocate(size_t bytes);
  // Returns every cached block to the driver (cudaFree waits for the device).
  void empty_cache();
  MemoryStats stats() const;
  // Empties the cache; blocks released later go straight back to the
  // driver. Called when the JS environment shuts down.
  void close();
  int device() const { return device_; }

 private:
  friend class DeviceMemory;
  explicit CachingAllocator(int device) : device_(device) {}
  void* take_cached(size_t* block_size);          // may round *block_size up to the cached block's
  void give_back(void* data, size_t block_size);  // any thread; never throws

  const int device_;
  mutable std::mutex mu_;
  std::map<size_t, std::vector<void*>> free_;  // block size → cached blocks
  MemoryStats stats_;
  bool closed_ = false;
};

}  // namespace sk::cuda
