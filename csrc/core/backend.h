// The backend contract, in the style of ggml's supports_op: every backend
// answers an op with one pick() that returns this shape. The same answer
// drives the support check (and its error), dispatch and scratch sizing, so
// the three cannot disagree, and the TypeScript layer asks it instead of
// keeping copies of a backend's rules.
#pragma once
#include <stddef.h>

#include <string>
#include <utility>

#include "status.h"

template <class Kernel>
struct sk_pick {
  Kernel kernel{};            // what dispatch runs; meaningless unless ok()
  const char* name = "none";  // the kernel's name, as reported to JS
  size_t scratch_bytes = 0;   // memory the kernel needs besides its operands (CPU: per thread)
  sk_status status = SK_OK;   // SK_OK, or the error code that goes with reason
  std::string reason;         // why not, in the one message shape "Expected … for … but received …"

  bool ok() const { return status == SK_OK; }

  static sk_pick refuse(sk_status code, std::string why) {
    sk_pick p;
    p.status = code;
    p.reason = std::move(why);
    return p;
  }
};
