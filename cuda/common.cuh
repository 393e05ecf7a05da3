// CUDA runtime calls are checked in one place. SK_CUDA_CHECK turns a failed
// call into a CudaFailure that carries a sparsekit status and a message
// naming the call, so the binding can reject with a stable code. No N-API
// here: jobs fail on the executor's threads, far from any JS environment.
#pragma once
#include <cuda_runtime_api.h>

#include <string>

#include "../csrc/core/status.h"
#include "failure.h"

namespace sk::cuda {

// The sparsekit status a CUDA error stands for (out of memory, unsupported
// architecture, bad argument; anything else is a device fault).
sk_status status_of(cudaError_t error);
// "cudaErrorNoDevice (100): no CUDA-capable device is detected"
std::string describe(cudaError_t error);
[[noreturn]] void throw_cuda_failure(cudaError_t error, const char* call, const char* file, int line);

inline void check(cudaError_t error, const char* call, const char* file, int line) {
  if (error != cudaSuccess) throw_cuda_failure(error, call, file, line);
}

// Throws a CudaFailure with SK_ERR_UNSUPPORTED unless the current device is
// compute capability 8.0 or newer, the floor of our mma.sync / mma.sp
// kernels: "<needs> compute capability 8.0 or newer (<why>); cuda:N is M.m".
void require_sm80(const char* needs, const char* why);
// The same for compute capability 8.9, the floor of FP8 mma.sync (Ada, Hopper).
void require_sm89(const char* needs, const char* why);

// Makes `device` current for this thread's runtime calls and restores the
// previous one afterwards: the JS thread is shared with any other CUDA
// library loaded in the process.
class DeviceGuard {
 public:
  explicit DeviceGuard(int device);
  ~DeviceGuard();
  DeviceGuard(const DeviceGuard&) = delete;
  DeviceGuard& operator=(const DeviceGuard&) = delete;

 private:
  int previous_ = -1;
  int device_;
};

}  // namespace sk::cuda

#define SK_CUDA_CHECK(call) ::sk::cuda::check((call), #call, __FILE__, __LINE__)
