// Native errors carry the same stable codes as lib/errors.ts; the TS layer
// turns them into SparsekitError with the caller's stack.
#pragma once
#include <napi.h>

#include <string>

#include "../core/status.h"

namespace sk {

inline Napi::Error make_error(Napi::Env env, sk_status status, const std::string& message) {
  Napi::Error err = Napi::Error::New(env, message);
  err.Set("code", Napi::String::New(env, sk_status_code(status)));
  return err;
}

// Throws from a binding function; used for checks that the TS layer already
// made, kept here because memory safety depends on them.
[[noreturn]] inline void throw_error(Napi::Env env, sk_status status, const std::string& message) {
  throw make_error(env, status, message);
}

}  // namespace sk
