#include "allocator.h"

#include <cuda_runtime_api.h>

#include <string>

#include "common.cuh"

namespace sk::cuda {
namespace {

constexpr size_t kMinBlock = 512;                // small blocks round to this, so near sizes share a bucket
constexpr size_t kSmallLimit = size_t{1} << 20;  // up to 1 MiB a block is "small"
constexpr size_t kLargeRound = size_t{2} << 20;  // large blocks round to 2 MiB, the GPU's large page
constexpr size_t kMaxSlackDivisor = 4;           // reuse a cached block at most 25% larger than asked

size_t round_up(size_t n, size_t to) { return (n + to - 1) / to * to; }

size_t block_size_for(size_t bytes) {
  return bytes <= kSmallLimit ? round_up(bytes, kMinBlock) : round_up(bytes, kLargeRound);
}

// Frees without throwing: runs from destructors and from teardown, where a
// runtime that is already shutting down may refuse, and nothing can be done.
void free_quietly(int device, void* data) {
  int previous = -1;
  if (cudaGetDevice(&previous) != cudaSuccess) previous = -1;
  if (previous != device) cudaSetDevice(device);
  cudaFree(data);
  cudaGetLastError();
  if (previous >= 0 && previous != device) cudaSetDevice(previous);
}

}  // namespace

DeviceMemory::DeviceMemory(std::shared_ptr<CachingAllocator> owner, void* data, size_t bytes, size_t block_size)
    : owner_(std::move(owner)), data_(data), bytes_(bytes), block_size_(block_size) {}

DeviceMemory::~DeviceMemory() { owner_->give_back(data_, block_size_); }

int DeviceMemory::device() const { return owner_->device(); }

std::shared_ptr<CachingAllocator> CachingAllocator::create(int device) {
  return std::shared_ptr<CachingAllocator>(new CachingAllocator(device));
}

void* CachingAllocator::take_cached(size_t* block_size) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = free_.lower_bound(*block_size);
  if (it == free_.end() || it->first > *block_size + *block_size / kMaxSlackDivisor) return nullptr;
  // The cached block keeps its own size: that is the bucket it goes back to.
  *block_size = it->first;
  void* data = it->second.back();
  it->second.pop_back();
  if (it->second.empty()) free_.erase(it);
  stats_.cached_bytes -= *block_size;
  return data;
}

DeviceMemoryRef CachingAllocator::allocate(size_t bytes) {
  size_t block_size = block_size_for(bytes);
  if (block_size == 0) {
    std::lock_guard<std::mutex> lock(mu_);
    ++stats_.buffers;
    return std::make_shared<DeviceMemory>(shared_from_this(), nullptr, 0, 0);
  }
  void* data = take_cached(&block_size);
  if (!data) {
    DeviceGuard guard(device_);
    cudaError_t e = cudaMalloc(&data, block_size);
    if (e == cudaErrorMemoryAllocation) {
      cudaGetLastError();  // not sticky: clear it and retry with the cache returned to the driver
      empty_cache();
      e = cudaMalloc(&data, block_size);
    }
    if (e == cudaErrorMemoryAllocation) {
      cudaGetLastError();
      size_t free_bytes = 0, total_bytes = 0;
      cudaMemGetInfo(&free_bytes, &total_bytes);
      cudaGetLastError();
      throw CudaFailure(SK_ERR_OUT_OF_MEMORY,
                        "Could not allocate " + std::to_string(bytes) + " bytes on cuda:" + std::to_string(device_) +
                            " (" + std::to_string(free_bytes) + " of " + std::to_string(total_bytes) + " bytes free)");
    }
    SK_CUDA_CHECK(e);
  }
  std::lock_guard<std::mutex> lock(mu_);
  stats_.allocated_bytes += block_size;
  ++stats_.buffers;
  return std::make_shared<DeviceMemory>(shared_from_this(), data, bytes, block_size);
}

void CachingAllocator::give_back(void* data, size_t block_size) {
  bool closed;
  {
    std::lock_guard<std::mutex> lock(mu_);
    --stats_.buffers;
    stats_.allocated_bytes -= block_size;
    closed = closed_;
    if (data && !closed) {
      free_[block_size].push_back(data);
      stats_.cached_bytes += block_size;
    }
  }
  if (data && closed) free_quietly(device_, data);
}

void CachingAllocator::empty_cache() {
  std::map<size_t, std::vector<void*>> blocks;
  {
    std::lock_guard<std::mutex> lock(mu_);
    blocks.swap(free_);
    stats_.cached_bytes = 0;
  }
  for (auto& bucket : blocks)
    for (void* data : bucket.second) free_quietly(device_, data);
}

MemoryStats CachingAllocator::stats() const {
  std::lock_guard<std::mutex> lock(mu_);
  return stats_;
}

void CachingAllocator::close() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    closed_ = true;
  }
  empty_cache();
}

}  // namespace sk::cuda
