// Status codes shared by every backend. The binding maps each to a stable
// JS error code (lib/errors.ts keeps the same table).
#pragma once

enum sk_status {
  SK_OK = 0,
  SK_ERR_INVALID_ARGUMENT = 1,  // ERR_SK_INVALID_ARGUMENT
  SK_ERR_SHAPE = 2,             // ERR_SK_SHAPE
  SK_ERR_DTYPE = 3,             // ERR_SK_DTYPE
  SK_ERR_DEVICE = 4,            // ERR_SK_DEVICE
  SK_ERR_OUT_OF_MEMORY = 5,     // ERR_SK_OUT_OF_MEMORY
  SK_ERR_UNSUPPORTED = 6,       // ERR_SK_UNSUPPORTED
  SK_ERR_DISPOSED = 7,          // ERR_SK_DISPOSED
};

static inline const char* sk_status_code(sk_status s) {
  switch (s) {
    case SK_OK: return "OK";
    case SK_ERR_INVALID_ARGUMENT: return "ERR_SK_INVALID_ARGUMENT";
    case SK_ERR_SHAPE: return "ERR_SK_SHAPE";
    case SK_ERR_DTYPE: return "ERR_SK_DTYPE";
    case SK_ERR_DEVICE: return "ERR_SK_DEVICE";
    case SK_ERR_OUT_OF_MEMORY: return "ERR_SK_OUT_OF_MEMORY";
    case SK_ERR_UNSUPPORTED: return "ERR_SK_UNSUPPORTED";
    case SK_ERR_DISPOSED: return "ERR_SK_DISPOSED";
  }
  return "ERR_SK_UNSUPPORTED";
}
