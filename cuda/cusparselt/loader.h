// Finds and opens cuSPARSELt at run time (no build-time dependency): the
// path in SPARSEKIT_CUSPARSELT first, else libcusparseLt.so.0 from the
// library path. SPARSEKIT_CUSPARSELT=0 turns it off. Loading is lazy, once
// per process, and needs no GPU: status() works on any machine.
#pragma once
#include <string>

#include "api.h"

namespace sk::cusparselt {

struct LoadStatus {
  bool loaded = false;
  int version = 0;           // major·1000 + minor·100 + patch, e.g. 801
  std::string version_text;  // "0.8.1"
  std::string path;          // what was opened
  std::string reason;        // why not, when !loaded
};

// Loads on first call (thread-safe); later calls return the same answer.
const LoadStatus& status();
// The resolved API, or null when !status().loaded.
const Api* api();
// "cuSPARSELt 0.8.1 from <path>" or "cuSPARSELt not used: <reason>".
std::string describe();

// Exposed for tests: the load with an explicit env value (null = unset).
LoadStatus load_for_test(const char* env_value, Api* out);

}  // namespace sk::cusparselt
