// Whether CUDA can be used here, and why not: probed once when the addon
// loads, without creating a context, so a machine with no driver or no GPU
// gets a reason instead of a crash.
#pragma once
#include <stddef.h>

#include <string>

namespace sk::cuda {

struct CudaStatus {
  bool available = false;
  std::string reason;  // empty when available
  int device_count = 0;
  int runtime_version = 0;  // e.g. 13000 for CUDA 13.0
  int driver_version = 0;   // 0 when no driver is installed
};

struct DeviceProps {
  std::string name;
  int major = 0;
  int minor = 0;
  size_t total_memory = 0;  // bytes
  int multiprocessors = 0;
};

CudaStatus probe_cuda();
// The architectures compiled in, as SPARSEKIT_CUDA_ARCHS named them ("80;89;90a").
const char* compiled_archs();
// Throws CudaFailure.
DeviceProps device_props(int device);

}  // namespace sk::cuda
