// The CPU addon's exports table, kernel-set choice and thread settings.
#include "addon.h"

#include <stdlib.h>

#include <new>
#include <random>
#include <string>
#include <thread>

#include "../cpu/dispatch.h"
#include "errors.h"

namespace sk {
namespace {

int default_threads() {
  unsigned n = std::thread::hardware_concurrency();
  return n == 0 ? 1 : static_cast<int>(n);
}

// A setting from `process.env` of the JS thread loading the addon, as
// lib/native.ts reads SPARSEKIT_CUDA: a Worker's `env` option applies to that
// worker, as it does for every setting (docs/safety.md). "" when unset.
std::string js_env(Napi::Env env, const char* name) {
  Napi::Value process = env.Global().Get("process");
  if (!process.IsObject()) return "";
  Napi::Value vars = process.As<Napi::Object>().Get("env");
  if (!vars.IsObject()) return "";
  Napi::Value v = vars.As<Napi::Object>().Get(name);
  return v.IsString() ? v.As<Napi::String>().Utf8Value() : "";
}

// SPARSEKIT_ISA forces a kernel set; asking for one this CPU cannot run is an
// error at load rather than a crash (SIGILL) at the first op.
sk_isa choose_isa(Napi::Env env, const sk_cpu_features& f, bool* forced) {
  const std::string want = js_env(env, "SPARSEKIT_ISA");
  *forced = !want.empty();
  if (!*forced) return sk_isa_best(f);
  sk_isa isa;
  if (!sk_isa_parse(want.c_str(), &isa))
    throw_error(env, SK_ERR_INVALID_ARGUMENT,
                "Expected scalar, avx2, avx512 or neon for SPARSEKIT_ISA but received '" + want + "'");
  if (!sk_isa_supported(isa, f))
    throw_error(env, SK_ERR_UNSUPPORTED,
                "SPARSEKIT_ISA=" + want + " but this " + sk_cpu_arch() +
                    " CPU (or this build) cannot run it; unset it or pick one that `sparsekit info` lists");
  return isa;
}

}  // namespace

template <Napi::Value (SparsekitAddon::*Method)(const Napi::CallbackInfo&)>
Napi::Value SparsekitAddon::Coded(const Napi::CallbackInfo& info) {
  try {
    return (this->*Method)(info);
  } catch (const std::bad_alloc&) {
    throw_error(info.Env(), SK_ERR_OUT_OF_MEMORY, "Out of host memory while checking and copying the arguments");
  }
}

SparsekitAddon::SparsekitAddon(Napi::Env env, Napi::Object exports) : features_(sk_cpu_detect()) {
  isa_ = choose_isa(env, features_, &isa_forced_);
  std::random_device rd;
  block_tag_ = {(static_cast<uint64_t>(rd()) << 32) | rd(), (static_cast<uint64_t>(rd()) << 32) | rd()};
  executor_ = std::make_shared<Executor>(env, default_threads());
  DefineAddon(exports, {
                           InstanceMethod("cpuInfo", &SparsekitAddon::Coded<&SparsekitAddon::CpuInfo>),
                           InstanceMethod("setNumThreads", &SparsekitAddon::Coded<&SparsekitAddon::SetNumThreads>),
                           InstanceMethod("numThreads", &SparsekitAddon::Coded<&SparsekitAddon::NumThreads>),
                           InstanceMethod("alloc", &SparsekitAddon::Coded<&SparsekitAddon::Alloc>),
                           InstanceMethod("release", &SparsekitAddon::Coded<&SparsekitAddon::Release>),
                           InstanceMethod("hostStats", &SparsekitAddon::Coded<&SparsekitAddon::HostStats>),
                           InstanceMethod("emptyHostCache", &SparsekitAddon::Coded<&SparsekitAddon::EmptyHostCache>),
                           InstanceMethod("cast", &SparsekitAddon::Coded<&SparsekitAddon::Cast>),
                           InstanceMethod("castSync", &SparsekitAddon::Coded<&SparsekitAddon::CastSync>),
                           InstanceMethod("streamRead", &SparsekitAddon::Coded<&SparsekitAddon::StreamRead>),
                           InstanceMethod("attention", &SparsekitAddon::Coded<&SparsekitAddon::Attention>),
                           InstanceMethod("attentionPick", &SparsekitAddon::Coded<&SparsekitAddon::AttentionPick>),
                           InstanceMethod("spmmAnalyze", &SparsekitAddon::Coded<&SparsekitAddon::SpmmAnalyze>),
                           InstanceMethod("spmmPrune", &SparsekitAddon::Coded<&SparsekitAddon::SpmmPrune>),
                           InstanceMethod("spmmPack", &SparsekitAddon::Coded<&SparsekitAddon::SpmmPack>),
                           InstanceMethod("spmmPlan", &SparsekitAddon::Coded<&SparsekitAddon::SpmmPlan>),
                           InstanceMethod("spmmRelease", &SparsekitAddon::Coded<&SparsekitAddon::SpmmRelease>),
                           InstanceMethod("spmm", &SparsekitAddon::Coded<&SparsekitAddon::Spmm>),
                           InstanceMethod("linear", &SparsekitAddon::Coded<&SparsekitAddon::Linear>),
                           InstanceMethod("sp24", &SparsekitAddon::Coded<&SparsekitAddon::Sp24>),
                           InstanceMethod("blockScores", &SparsekitAddon::Coded<&SparsekitAddon::BlockScores>),
                           InstanceMethod("gatherRows", &SparsekitAddon::Coded<&SparsekitAddon::GatherRows>),
                           InstanceMethod("selectBlocks", &SparsekitAddon::Coded<&SparsekitAddon::SelectBlocks>),
                           InstanceMethod("segmentOrder", &SparsekitAddon::Coded<&SparsekitAddon::SegmentOrder>),
                           InstanceMethod("vslashPlan", &SparsekitAddon::Coded<&SparsekitAddon::VslashPlan>),
                           InstanceMethod("kvCreate", &SparsekitAddon::Coded<&SparsekitAddon::KvCreate>),
                           InstanceMethod("kvAppend", &SparsekitAddon::Coded<&SparsekitAddon::KvAppend>),
                           InstanceMethod("kvDecode", &SparsekitAddon::Coded<&SparsekitAddon::KvDecode>),
                           InstanceMethod("kvStats", &SparsekitAddon::Coded<&SparsekitAddon::KvStats>),
                           InstanceMethod("kvRelease", &SparsekitAddon::Coded<&SparsekitAddon::KvRelease>),
                       });
  // Stop the job thread before this environment's handles go away. Registered
  // last, once nothing above can throw: a constructor that throws frees this
  // object while a hook registered earlier would still run at teardown (a
  // frozen `exports`, or the process exiting while a worker loads the addon,
  // makes DefineAddon throw). The hook holds the executor, never `this`, so
  // it is safe whichever of it and the addon's finalizer runs first.
  env.AddCleanupHook([executor = executor_] { executor->shutdown(); });
}

Napi::Value SparsekitAddon::CpuInfo(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const sk_cpu_features& f = features_;
  Napi::Object features = Napi::Object::New(env);
  const struct {
    const char* name;
    bool on;
  } flags[] = {
      {"avx2", f.avx2},
      {"fma", f.fma},
      {"f16c", f.f16c},
      {"avx512f", f.avx512f},
      {"avx512bw", f.avx512bw},
      {"avx512vl", f.avx512vl},
      {"avx512bf16", f.avx512bf16},
      {"avx512vnni", f.avx512vnni},
      {"neon", f.neon},
      {"fp16", f.fp16},
      {"dotprod", f.dotprod},
      {"bf16", f.bf16},
      {"i8mm", f.i8mm},
  };
  for (const auto& flag : flags) features.Set(flag.name, flag.on);
  Napi::Array supported = Napi::Array::New(env);
  for (int i = 0; i < SK_ISA_COUNT; ++i)
    if (sk_isa_supported(static_cast<sk_isa>(i), f))
      supported.Set(supported.Length(), sk_isa_name(static_cast<sk_isa>(i)));
  Napi::Object kernels = Napi::Object::New(env);
  sk_cast_params probe{nullptr, nullptr, 0, SK_F32, SK_F16, true};
  kernels.Set("cast", sk_cpu_cast_pick(probe, isa_).name);
  sk_attention_params attn{};
  attn.dtype = SK_F32;
  attn.heads_q = attn.heads_kv = 1;
  attn.head_dim = 64;
  kernels.Set("attention", sk_cpu_attention_pick(attn, isa_).name);
  sk_spmm_params spmm{};
  for (int32_t nr : {1, 2, 4}) {  // SpMM per block size (csr weights pack 1-, 2- or 4-channel blocks), then SpMV
    spmm.nr = nr;
    kernels.Set(nr == 1 ? "spmm" : nr == 2 ? "spmm_x2" : "spmm_x4", sk_cpu_spmm_pick(spmm, isa_).spmm_name);
  }
  spmm.nr = 1;  // SpMV: uint16 columns for K ≤ 65536, int32 past that
  kernels.Set("spmv", sk_cpu_spmm_pick(spmm, isa_).spmv16_name);
  kernels.Set("spmv_i32", sk_cpu_spmm_pick(spmm, isa_).spmv_name);
  sk_linear_params lin{};
  lin.w_type = SK_F32;
  lin.m = 128, lin.n = 16, lin.k = 16;  // many rows: the largest gemm tiles (m == 1 runs the gemv of the same set)
  kernels.Set("linear", sk_cpu_linear_pick(lin, isa_).name);
  lin.format = SK_WEIGHT_SP24;
  kernels.Set("linear_sp24", sk_cpu_linear_sp24_pick(lin, isa_).name);
  sk_decode_params dec{};
  dec.q_type = SK_F32;
  dec.heads_q = dec.seq_q = 1;
  dec.cache.type = SK_BF16;
  dec.cache.kv_heads = 1, dec.cache.head_dim = 128, dec.cache.page_size = 16;
  kernels.Set("decode", sk_cpu_decode_pick(dec, isa_).name);

  Napi::Object out = Napi::Object::New(env);
  out.Set("arch", sk_cpu_arch());
  out.Set("isa", sk_isa_name(isa_));
  out.Set("forced", isa_forced_);
  out.Set("supportedIsas", supported);
  out.Set("features", features);
  out.Set("kernels", kernels);
  out.Set("threads", executor_->threads());
  return out;
}

Napi::Value SparsekitAddon::SetNumThreads(const Napi::CallbackInfo& info) {
  if (info.Length() < 1 || !info[0].IsNumber())
    throw_error(info.Env(), SK_ERR_INVALID_ARGUMENT, "Expected an integer between 1 and 1024 for threads");
  int n = info[0].As<Napi::Number>().Int32Value();
  if (n < 1 || n > 1024)
    throw_error(info.Env(), SK_ERR_INVALID_ARGUMENT, "Expected an integer between 1 and 1024 for threads");
  executor_->set_threads(n);
  return info.Env().Undefined();
}

Napi::Value SparsekitAddon::NumThreads(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), executor_->threads());
}

}  // namespace sk

using sk::SparsekitAddon;
NODE_API_ADDON(SparsekitAddon)
