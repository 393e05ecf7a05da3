#include "loader.h"

#include <dlfcn.h>
#include <stdlib.h>

#include <mutex>

namespace sk::cusparselt {
namespace {

constexpr const char* kSoname = "libcusparseLt.so.0";
constexpr const char* kEnv = "SPARSEKIT_CUSPARSELT";
constexpr const char* kHint =
    "set SPARSEKIT_CUSPARSELT to the path of libcusparseLt.so.0 (e.g. <site-packages>/nvidia/cusparselt/lib/"
    "libcusparseLt.so.0 from the nvidia-cusparselt-cu13 wheel) or put it on LD_LIBRARY_PATH";

template <class F>
bool resolve(void* lib, const char* name, F*& slot, bool required, std::string& missing) {
  slot = reinterpret_cast<F*>(dlsym(lib, name));
  if (!slot && required) {
    missing = name;
    return false;
  }
  return true;
}

bool resolve_all(void* lib, Api& a, std::string& missing) {
  return resolve(lib, "cusparseLtInit", a.Init, true, missing) &&
         resolve(lib, "cusparseLtDestroy", a.Destroy, true, missing) &&
         resolve(lib, "cusparseLtGetProperty", a.GetProperty, true, missing) &&
         resolve(lib, "cusparseLtDenseDescriptorInit", a.DenseDescriptorInit, true, missing) &&
         resolve(lib, "cusparseLtStructuredDescriptorInit", a.StructuredDescriptorInit, true, missing) &&
         resolve(lib, "cusparseLtMatDescriptorDestroy", a.MatDescriptorDestroy, true, missing) &&
         resolve(lib, "cusparseLtMatmulDescriptorInit", a.MatmulDescriptorInit, true, missing) &&
         resolve(lib, "cusparseLtMatmulAlgSelectionInit", a.MatmulAlgSelectionInit, true, missing) &&
         resolve(lib, "cusparseLtMatmulAlgSelectionDestroy", a.MatmulAlgSelectionDestroy, false, missing) &&
         resolve(lib, "cusparseLtMatmulPlanInit", a.MatmulPlanInit, true, missing) &&
         resolve(lib, "cusparseLtMatmulPlanDestroy", a.MatmulPlanDestroy, true, missing) &&
         resolve(lib, "cusparseLtMatmulGetWorkspace", a.MatmulGetWorkspace, true, missing) &&
         resolve(lib, "cusparseLtMatmul", a.Matmul, true, missing) &&
         resolve(lib, "cusparseLtSpMMACompressedSize2", a.SpMMACompressedSize2, true, missing) &&
         resolve(lib, "cusparseLtSpMMACompress2", a.SpMMACompress2, true, missing) &&
         resolve(lib, "cusparseLtGetErrorString", a.GetErrorString, false, missing);
}

Api g_api{};
LoadStatus g_status;
std::once_flag g_once;

}  // namespace

LoadStatus load_for_test(const char* env, Api* out) {
  LoadStatus s;
  if (env && std::string(env) == "0") {
    s.reason = "disabled by SPARSEKIT_CUSPARSELT=0";
    return s;
  }
  const bool explicit_path = env && *env;
  const char* target = explicit_path ? env : kSoname;
  // RTLD_LOCAL: its symbols stay private to us (PyTorch may load its own copy).
  void* lib = dlopen(target, RTLD_NOW | RTLD_LOCAL);
  if (!lib) {
    const char* err = dlerror();
    s.reason = std::string("not found: ") +
               (explicit_path ? "SPARSEKIT_CUSPARSELT=" + std::string(env) + " could not be opened (" : "") +
               (explicit_path ? std::string(err ? err : "dlopen failed") + ")"
                              : std::string(kSoname) + " is not on the library path") +
               "; " + kHint;
    return s;
  }
  std::string missing;
  Api a{};
  if (!resolve_all(lib, a, missing)) {
    s.reason = std::string(target) + " lacks " + missing + " (cuSPARSELt 0.4 or newer is needed)";
    dlclose(lib);
    return s;
  }
  int major = -1, minor = -1, patch = -1;
  if (a.GetProperty(kPropMajor, &major) != kSuccess || a.GetProperty(kPropMinor, &minor) != kSuccess ||
      a.GetProperty(kPropPatch, &patch) != kSuccess) {
    s.reason = std::string(target) + ": cusparseLtGetProperty failed";
    dlclose(lib);
    return s;
  }
  s.version = major * 1000 + minor * 100 + patch;
  s.version_text = std::to_string(major) + "." + std::to_string(minor) + "." + std::to_string(patch);
  s.path = target;
  Dl_info info{};
  if (dladdr(reinterpret_cast<void*>(a.Init), &info) && info.dli_fname) s.path = info.dli_fname;
  if (enum_table(s.version).compute_32f < 0) {
    s.reason = "cuSPARSELt " + s.version_text + " from " + s.path + " is too old (0.5.2 or newer is needed)";
    dlclose(lib);
    return s;
  }
  if (s.version >= kAlgSelectionDestroyFrom && !a.MatmulAlgSelectionDestroy) {
    s.reason = "cuSPARSELt " + s.version_text + " lacks cusparseLtMatmulAlgSelectionDestroy";
    dlclose(lib);
    return s;
  }
  s.loaded = true;
  if (out) *out = a;
  // Never dlclose a loaded library: plans and handles live until the process exits.
  return s;
}

const LoadStatus& status() {
  std::call_once(g_once, [] { g_status = load_for_test(getenv(kEnv), &g_api); });
  return g_status;
}

const Api* api() { return status().loaded ? &g_api : nullptr; }

std::string describe() {
  const LoadStatus& s = status();
  return s.loaded ? "cuSPARSELt " + s.version_text + " from " + s.path : "cuSPARSELt not used: " + s.reason;
}

}  // namespace sk::cusparselt
