// linear()'s JS arguments → a checked plan: the kernel, its LinearParams
// (device pointers unset) and the bytes each buffer must hold. Every check
// memory safety depends on is here, on the JS thread; linearPick() runs it
// without a device.
#pragma once
#include <napi.h>

#include <stddef.h>
#include <stdint.h>

#include "../sp24/layout.h"
#include "../sp24/linear.h"

namespace sk::cuda {

struct LinearPlan {
  const LinearKernelInfo* kernel = nullptr;
  linear::LinearParams params{};
  sk_dtype dtype = SK_F16;
  bool sparse = false;
  bool has_bias = false;          // args.biasType != -1
  sp24::CudaLayoutDims layout{};  // sparse only
  size_t x_bytes = 0, w_bytes = 0, meta_bytes = 0, bias_bytes = 0, out_bytes = 0;
};

// args: { dtype, m, n, k, sparse, biasType (dtype id, or -1 without bias) }.
// Throws ERR_SK_INVALID_ARGUMENT, _SHAPE, _DTYPE or _UNSUPPORTED.
LinearPlan plan_linear(Napi::Env env, Napi::Value args);

// A JS byte count (a safe non-negative integer) or ERR_SK_INVALID_ARGUMENT.
size_t byte_count_arg(Napi::Env env, Napi::Value v, const char* name);
// ERR_SK_SHAPE unless has >= needed.
void check_holds(Napi::Env env, const char* name, size_t needed, size_t has);

}  // namespace sk::cuda
