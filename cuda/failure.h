// The exception CUDA work throws: a sparsekit status and a message naming
// the call. Free of CUDA headers so code that only routes failures (the
// launcher's fence, cuda/launch_fence.h) builds and is tested without them.
#pragma once
#include <stdexcept>
#include <string>

#include "../csrc/core/status.h"

namespace sk::cuda {

class CudaFailure : public std::runtime_error {
 public:
  CudaFailure(sk_status status, const std::string& message) : std::runtime_error(message), status_(status) {}
  sk_status status() const { return status_; }

 private:
  sk_status status_;
};

}  // namespace sk::cuda
