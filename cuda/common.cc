#include "common.cuh"

#include <string.h>

#include "sk_cuda_config.h"

namespace sk::cuda {

sk_status status_of(cudaError_t error) {
  switch (error) {
    case cudaSuccess: return SK_OK;
    case cudaErrorMemoryAllocation: return SK_ERR_OUT_OF_MEMORY;
    case cudaErrorInvalidValue: return SK_ERR_INVALID_ARGUMENT;
    case cudaErrorNoKernelImageForDevice:
    case cudaErrorUnsupportedPtxVersion:
    case cudaErrorInvalidPtx:
    case cudaErrorNotSupported: return SK_ERR_UNSUPPORTED;
    default: return SK_ERR_DEVICE;
  }
}

std::string describe(cudaError_t error) {
  return std::string(cudaGetErrorName(error)) + " (" + std::to_string(static_cast<int>(error)) +
         "): " + cudaGetErrorString(error);
}

namespace {

void require_cc(int want_major, int want_minor, const char* needs, const char* why) {
  int device = 0, major = 0, minor = 0;
  SK_CUDA_CHECK(cudaGetDevice(&device));
  SK_CUDA_CHECK(cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, device));
  SK_CUDA_CHECK(cudaDeviceGetAttribute(&minor, cudaDevAttrComputeCapabilityMinor, device));
  if (major < want_major || (major == want_major && minor < want_minor))
    throw CudaFailure(SK_ERR_UNSUPPORTED, std::string(needs) + " compute capability " + std::to_string(want_major) +
                                              "." + std::to_string(want_minor) + " or newer (" + why +
                                              "); cuda:" + std::to_string(device) + " is " + std::to_string(major) +
                                              "." + std::to_string(minor));
}

}  // namespace

void require_sm80(const char* needs, const char* why) { require_cc(8, 0, needs, why); }

void require_sm89(const char* needs, const char* why) { require_cc(8, 9, needs, why); }

void throw_cuda_failure(cudaError_t error, const char* call, const char* file, int line) {
  // Clears the runtime's last-error slot so a later, unrelated
  // cudaGetLastError() does not report this failure again. Sticky errors
  // (a faulted context) stay: every later call fails with them.
  cudaGetLastError();
  const char* base = strrchr(file, '/');
  std::string message = std::string(call) + " failed with " + describe(error) + " [" + (base ? base + 1 : file) + ":" +
                        std::to_string(line) + "]";
  if (error == cudaErrorNoKernelImageForDevice || error == cudaErrorUnsupportedPtxVersion)
    message += "; this build targets SPARSEKIT_CUDA_ARCHS=" SK_CUDA_ARCHS
               " only: rebuild with a list that names this GPU's architecture";
  throw CudaFailure(status_of(error), message);
}

DeviceGuard::DeviceGuard(int device) : device_(device) {
  SK_CUDA_CHECK(cudaGetDevice(&previous_));
  if (previous_ != device_) SK_CUDA_CHECK(cudaSetDevice(device_));
}

DeviceGuard::~DeviceGuard() {
  if (previous_ >= 0 && previous_ != device_) cudaSetDevice(previous_);
}

}  // namespace sk::cuda
