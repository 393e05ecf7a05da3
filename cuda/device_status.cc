#include "device_status.h"

#include <cuda_runtime_api.h>

#include "common.cuh"
#include "sk_cuda_config.h"

namespace sk::cuda {
namespace {

// 13000 → "13.0": CUDA encodes versions as 1000 * major + 10 * minor.
std::string version_string(int v) { return std::to_string(v / 1000) + "." + std::to_string((v % 1000) / 10); }

std::string error_tag(cudaError_t e) {
  return std::string("(") + cudaGetErrorName(e) + ", " + std::to_string(static_cast<int>(e)) + ")";
}

std::string reason_for(cudaError_t e, const CudaStatus& s) {
  const std::string needs = version_string(s.runtime_version);
  switch (e) {
    case cudaErrorInsufficientDriver:
      // With no driver at all the runtime reports this same code, which reads
      // as "driver too old"; the driver version (0 = none) tells the cases apart.
      if (s.driver_version == 0)
        return "no CUDA driver found " + error_tag(e) + ": install an NVIDIA driver that supports CUDA " + needs +
               " or newer (libcuda.so.1 could not be loaded)";
      return "the NVIDIA driver supports CUDA " + version_string(s.driver_version) +
             " but sparsekit was built with CUDA " + needs + " " + error_tag(e) + ": update the NVIDIA driver";
    case cudaErrorNoDevice:
      return "no CUDA device " + error_tag(e) +
             ": the driver sees no NVIDIA GPU; check nvidia-smi and CUDA_VISIBLE_DEVICES";
    default: return "CUDA is unavailable " + error_tag(e) + ": " + cudaGetErrorString(e);
  }
}

}  // namespace

CudaStatus probe_cuda() {
  CudaStatus s;
  cudaRuntimeGetVersion(&s.runtime_version);
  if (cudaDriverGetVersion(&s.driver_version) != cudaSuccess) s.driver_version = 0;
  int count = 0;
  cudaError_t e = cudaGetDeviceCount(&count);
  cudaGetLastError();  // a failed probe must not resurface in a later call's check
  if (e != cudaSuccess) {
    s.reason = reason_for(e, s);
    return s;
  }
  s.device_count = count;
  if (count == 0) {
    s.reason = "no CUDA device: the driver reports 0 GPUs; check nvidia-smi and CUDA_VISIBLE_DEVICES";
    return s;
  }
  s.available = true;
  return s;
}

const char* compiled_archs() { return SK_CUDA_ARCHS; }

DeviceProps device_props(int device) {
  cudaDeviceProp p{};
  SK_CUDA_CHECK(cudaGetDeviceProperties(&p, device));
  DeviceProps out;
  out.name = p.name;
  out.major = p.major;
  out.minor = p.minor;
  out.total_memory = p.totalGlobalMem;
  out.multiprocessors = p.multiProcessorCount;
  return out;
}

}  // namespace sk::cuda
