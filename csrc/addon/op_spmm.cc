// CSR sparse weights (lib/sparse/csr.ts, lib/ops/conv1x1.ts):
//   spmmAnalyze(w, n, k, out)                → Promise<void>  block counts and fill per block size
//   spmmPack(w, n, k, nr, nnzmap, cols, values) → Promise<void>  the packed arrays
//   spmmPlan(nnzmap, cols, n, k, nr, values) → plan          checked copy of the index arrays
//   spmm(plan, values, x, out, bias, args)   → Promise<void>  conv1x1 / linear
//   spmmRelease(plan)                        frees the plan now (dispose)
// The index arrays cross from JS once, in spmmPlan: they are checked there
// (counts, columns in bounds and increasing, sizes) and copied, so spmm()
// only checks sizes and JS cannot change an index under a running kernel.
#include <math.h>

#include <memory>
#include <mutex>
#include <new>
#include <string>
#include <vector>

#include "../core/heuristics.h"
#include "../cpu/dispatch.h"
#include "addon.h"
#include "convert.h"
#include "errors.h"
#include "holds.h"

namespace sk {
namespace {

constexpr double kMaxDim = 2147483647.0;  // int32: columns are int32
constexpr napi_type_tag kPlanTag = {0x73706d6d706c616eULL, 0x9b3c5e1d2f4a6b87ULL};

// The kernels' view of one SparseWeight: its checked index arrays, and what
// is derived from them on first use: the dmap for the input stride last used
// (rebuilt when the stride changes), the slices, the SpMV's uint16 columns.
struct CsrPlan {
  int64_t n = 0, k = 0, groups = 0, blocks = 0, values = 0;
  int32_t nr = 1;
  std::vector<uint32_t> nnzmap;
  std::vector<int32_t> cols;
  std::vector<int64_t> group_blocks, group_values;
  std::mutex derived_mu;  // guards the members below
  std::vector<int32_t> dmap;
  int64_t dmap_stride = -1;
  std::unique_ptr<sk_spmm_slices> slices;  // K past one slice: built on first use, for the stride last used
  std::vector<uint16_t> cols16;            // sk_spmm_cols16_ok(k): built on the first SpMV, never changed after
};
struct PlanBox {
  std::shared_ptr<CsrPlan> plan;  // null once released
};

std::string num(int64_t v) { return std::to_string(v); }

JobResult run_result(sk_status st) {
  if (st == SK_OK) return JobResult{};
  if (st == SK_ERR_INVALID_ARGUMENT)
    return JobResult{st, "internal error: spmm increments built for another input stride"};
  return JobResult{st, "out of memory for the spmm scratch"};
}

int64_t int_at(const Napi::CallbackInfo& info, size_t i, const char* name, double lo, double hi) {
  const double d = info[i].IsNumber() ? info[i].As<Napi::Number>().DoubleValue() : NAN;
  if (!(d >= lo && d <= hi) || d != floor(d))
    throw_error(info.Env(), SK_ERR_INVALID_ARGUMENT,
                std::string("Expected an integer between ") + num(static_cast<int64_t>(lo)) + " and " +
                    num(static_cast<int64_t>(hi)) + " for " + name);
  return static_cast<int64_t>(d);
}

int64_t int_field(Napi::Env env, const Napi::Object& o, const char* key, double lo, double hi) {
  Napi::Value v = o.Get(key);
  const double d = v.IsNumber() ? v.As<Napi::Number>().DoubleValue() : NAN;
  if (!(d >= lo && d <= hi) || d != floor(d))
    throw_error(env, SK_ERR_INVALID_ARGUMENT,
                std::string("Expected an integer between ") + num(static_cast<int64_t>(lo)) + " and " +
                    num(static_cast<int64_t>(hi)) + " for args." + key);
  return static_cast<int64_t>(d);
}

// A TypedArray of one kind; `length` < 0 takes any length, else exactly it.
Napi::TypedArray typed(const Napi::CallbackInfo& info, size_t i, const char* name, napi_typedarray_type kind,
                       const char* kind_name, int64_t length = -1) {
  Napi::Env env = info.Env();
  if (!info[i].IsTypedArray() || info[i].As<Napi::TypedArray>().TypedArrayType() != kind)
    throw_error(env, kind == napi_float32_array ? SK_ERR_DTYPE : SK_ERR_INVALID_ARGUMENT,
                std::string("Expected a ") + kind_name + " for " + name);
  Napi::TypedArray a = info[i].As<Napi::TypedArray>();
  if (a.ArrayBuffer().IsDetached())
    throw_error(env, SK_ERR_DISPOSED, std::string("Expected a live buffer for ") + name + " but it is detached");
  if (length >= 0 && static_cast<int64_t>(a.ElementLength()) != length)
    throw_error(env, SK_ERR_SHAPE,
                "Expected " + num(length) + " elements in " + name + " but received " +
                    num(static_cast<int64_t>(a.ElementLength())));
  return a;
}

HostView view(const Napi::CallbackInfo& info, size_t i, const char* name, napi_typedarray_type kind,
              const char* kind_name, int64_t length, size_t elem) {
  typed(info, i, name, kind, kind_name, length);
  return host_view_arg(info, i, name, checked_bytes(info.Env(), static_cast<size_t>(length), elem, name));
}

// w [n, k] float32, exactly n·k elements.
HostView weight_arg(const Napi::CallbackInfo& info, int64_t* n, int64_t* k) {
  *n = int_at(info, 1, "n", 0, kMaxDim);
  *k = int_at(info, 2, "k", 0, kMaxDim);
  int64_t size;
  if (__builtin_mul_overflow(*n, *k, &size)) throw_error(info.Env(), SK_ERR_SHAPE, "Size overflows for w");
  return view(info, 0, "w", napi_float32_array, "Float32Array", size, sizeof(float));
}

std::shared_ptr<CsrPlan> plan_arg(const Napi::CallbackInfo& info, size_t i) {
  Napi::Env env = info.Env();
  if (!info[i].IsExternal() || !info[i].As<Napi::External<PlanBox>>().CheckTypeTag(&kPlanTag))
    throw_error(env, SK_ERR_INVALID_ARGUMENT, "Expected a plan from spmmPlan() for plan");
  std::shared_ptr<CsrPlan> plan = info[i].As<Napi::External<PlanBox>>().Data()->plan;
  if (!plan) throw_error(env, SK_ERR_DISPOSED, "Expected a live plan but received a released one");
  return plan;
}

}  // namespace

Napi::Value SparsekitAddon::SpmmAnalyze(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int64_t n, k;
  HostView w = weight_arg(info, &n, &k);
  HostView out = view(info, 3, "out", napi_float64_array, "Float64Array", 14, sizeof(double));
  auto holds = std::make_shared<Holds>();
  holds->hold(w), holds->hold(out);
  const float* wp = static_cast<const float*>(w.data);
  double* o = static_cast<double*>(out.data);
  return submit_op(*executor_, env, holds, [wp, o, n, k](ThreadPool&) {
    const sk_spmm_analysis a = sk_spmm_analyze(wp, n, k);
    o[0] = static_cast<double>(a.nnz);
    for (int i = 0; i < 3; ++i) {
      o[1 + i] = static_cast<double>(a.blocks[i]);
      o[4 + i] = static_cast<double>(a.values[i]);
      o[7 + i] = static_cast<double>(a.full_nnz[i]);
      o[10 + i] = static_cast<double>(a.full_blocks[i]);
    }
    o[13] = sk_spmm_choose_nr(a);
    return JobResult{};
  });
}

// spmmPrune(w, n, k, out, count): out = w with its count smallest |w| zeroed.
Napi::Value SparsekitAddon::SpmmPrune(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int64_t n, k;
  HostView w = weight_arg(info, &n, &k);
  HostView out = view(info, 3, "out", napi_float32_array, "Float32Array", n * k, sizeof(float));
  const int64_t count = int_at(info, 4, "count", 0, static_cast<double>(n * k));
  auto holds = std::make_shared<Holds>();
  holds->hold(w), holds->hold(out);
  const float* wp = static_cast<const float*>(w.data);
  float* o = static_cast<float*>(out.data);
  return submit_op(*executor_, env, holds, [wp, o, n, k, count](ThreadPool&) {
    if (!sk_spmm_prune_magnitude(wp, n * k, count, o))
      return JobResult{SK_ERR_OUT_OF_MEMORY, "out of memory for the pruning scratch"};
    return JobResult{};
  });
}

Napi::Value SparsekitAddon::SpmmPack(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int64_t n, k;
  HostView w = weight_arg(info, &n, &k);
  const int32_t nr = static_cast<int32_t>(int_at(info, 3, "nr", 1, 4));
  if (nr == 3) throw_error(env, SK_ERR_INVALID_ARGUMENT, "Expected a block size of 1, 2 or 4 for nr");
  HostView nnzmap = view(info, 4, "nnzmap", napi_int32_array, "Int32Array", sk_spmm_groups(n, nr), 4);
  const int64_t blocks = static_cast<int64_t>(typed(info, 5, "cols", napi_int32_array, "Int32Array").ElementLength());
  HostView cols = view(info, 5, "cols", napi_int32_array, "Int32Array", blocks, 4);
  const int64_t values =
      static_cast<int64_t>(typed(info, 6, "values", napi_float32_array, "Float32Array").ElementLength());
  HostView vals = view(info, 6, "values", napi_float32_array, "Float32Array", values, 4);
  auto holds = std::make_shared<Holds>();
  holds->hold(w), holds->hold(nnzmap), holds->hold(cols), holds->hold(vals);
  return submit_op(*executor_, env, holds, [=](ThreadPool&) {
    if (!sk_spmm_pack(static_cast<const float*>(w.data), n, k, nr, static_cast<uint32_t*>(nnzmap.data),
                      static_cast<int32_t*>(cols.data), blocks, static_cast<float*>(vals.data), values))
      return JobResult{SK_ERR_SHAPE, "w's non-zeros do not fill cols (" + num(blocks) + ") and values (" + num(values) +
                                         ") exactly: was w changed after the analysis?"};
    return JobResult{};
  });
}

Napi::Value SparsekitAddon::SpmmPlan(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const int64_t n = int_at(info, 2, "n", 0, kMaxDim), k = int_at(info, 3, "k", 0, kMaxDim);
  const int32_t nr = static_cast<int32_t>(int_at(info, 4, "nr", 1, 4));
  const int64_t values = int_at(info, 5, "values", 0, 9007199254740991.0);
  Napi::TypedArray nm = typed(info, 0, "nnzmap", napi_int32_array, "Int32Array");
  Napi::TypedArray cl = typed(info, 1, "cols", napi_int32_array, "Int32Array");
  auto plan = std::make_shared<CsrPlan>();
  plan->n = n, plan->k = k, plan->nr = nr, plan->values = values;
  plan->groups = static_cast<int64_t>(nm.ElementLength());
  plan->blocks = static_cast<int64_t>(cl.ElementLength());
  const uint32_t* nmp = reinterpret_cast<const uint32_t*>(nm.As<Napi::Int32Array>().Data());
  const int32_t* clp = cl.As<Napi::Int32Array>().Data();
  plan->nnzmap.assign(nmp, nmp + plan->groups);
  plan->cols.assign(clp, clp + plan->blocks);
  plan->group_blocks.resize(static_cast<size_t>(plan->groups) + 1);
  plan->group_values.resize(static_cast<size_t>(plan->groups) + 1);
  char why[256];
  const sk_status st = sk_spmm_check(n, k, nr, plan->nnzmap.data(), plan->groups, plan->cols.data(), plan->blocks,
                                     values, plan->group_blocks.data(), plan->group_values.data(), why);
  if (st != SK_OK) throw_error(env, st, why);
  auto ext = Napi::External<PlanBox>::New(env, new PlanBox{plan}, [](Napi::Env, PlanBox* b) { delete b; });
  ext.TypeTag(&kPlanTag);
  return ext;
}

Napi::Value SparsekitAddon::SpmmRelease(const Napi::CallbackInfo& info) {
  plan_arg(info, 0);                                           // checks the tag
  info[0].As<Napi::External<PlanBox>>().Data()->plan.reset();  // running jobs keep their own reference
  return info.Env().Undefined();
}

Napi::Value SparsekitAddon::Spmm(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 6 || !info[5].IsObject()) throw_error(env, SK_ERR_INVALID_ARGUMENT, "Expected an args object");
  std::shared_ptr<CsrPlan> plan = plan_arg(info, 0);
  Napi::Object args = info[5].As<Napi::Object>();
  sk_spmm_params p{};
  p.layout = static_cast<int32_t>(int_field(env, args, "layout", SK_SPMM_CHANNELS, SK_SPMM_ROWS));
  p.batch = int_field(env, args, "batch", 0, kMaxDim);
  p.m = int_field(env, args, "m", 0, kMaxDim);
  if (p.layout == SK_SPMM_ROWS && p.batch != 1) throw_error(env, SK_ERR_SHAPE, "Expected batch 1 for the rows layout");
  const double lo = args.Get("min").IsNumber() ? args.Get("min").As<Napi::Number>().DoubleValue() : NAN;
  const double hi = args.Get("max").IsNumber() ? args.Get("max").As<Napi::Number>().DoubleValue() : NAN;
  if (isnan(lo) || isnan(hi) || lo > hi)
    throw_error(env, SK_ERR_INVALID_ARGUMENT, "Expected numbers min <= max for args.min and args.max");
  p.clamp = {static_cast<float>(lo), static_cast<float>(hi)};
  p.n = plan->n, p.k = plan->k, p.nr = plan->nr, p.groups = plan->groups, p.blocks = plan->blocks;
  int64_t x_size, out_size;
  if (__builtin_mul_overflow(p.batch * p.m, p.k, &x_size) || __builtin_mul_overflow(p.batch * p.m, p.n, &out_size))
    throw_error(env, SK_ERR_SHAPE, "Size overflows for x or out");
  HostView values = view(info, 1, "values", napi_float32_array, "Float32Array", plan->values, 4);
  HostView x = view(info, 2, "x", napi_float32_array, "Float32Array", x_size, 4);
  HostView out = view(info, 3, "out", napi_float32_array, "Float32Array", out_size, 4);
  auto holds = std::make_shared<Holds>();
  holds->hold(values), holds->hold(x), holds->hold(out);
  if (!info[4].IsNull() && !info[4].IsUndefined()) {
    HostView bias = view(info, 4, "bias", napi_float32_array, "Float32Array", p.n, 4);
    p.bias = static_cast<const float*>(bias.data);
    holds->hold(bias);
  }
  p.values = static_cast<const float*>(values.data), p.x = static_cast<const float*>(x.data);
  p.out = static_cast<float*>(out.data);
  p.cols = plan->cols.data(), p.nnzmap = plan->nnzmap.data();
  p.group_blocks = plan->group_blocks.data(), p.group_values = plan->group_values.data();
  const sk_spmm_kernel kernel = sk_cpu_spmm_pick(p, isa_);
  if (!kernel.spmm) throw_error(env, SK_ERR_UNSUPPORTED, "No spmm kernel for this block size on this CPU");
  const int64_t stride = sk_spmm_input_stride(p);
  if (!sk_spmm_uses_spmv(p) && p.k > 0 && stride > 0 && p.k - 1 > INT32_MAX / stride)
    throw_error(env, SK_ERR_UNSUPPORTED,
                "Expected input channels × pixels below 2^31 (int32 increments) but received " + num(p.k) + " × " +
                    num(stride));
  return submit_op(*executor_, env, holds, [p, kernel, plan, stride](ThreadPool& pool) {
    if (sk_spmm_uses_spmv(p)) {
      sk_spmm_params q = p;
      if (sk_spmm_cols16_ok(p.k)) {
        std::lock_guard<std::mutex> lock(plan->derived_mu);
        if (plan->cols16.size() != plan->cols.size()) {
          try {
            plan->cols16.assign(plan->cols.begin(), plan->cols.end());  // checked in [0, k) by spmmPlan
          } catch (const std::bad_alloc&) {
            return JobResult{SK_ERR_OUT_OF_MEMORY, "out of memory for the spmv columns"};
          }
        }
        q.cols16 = plan->cols16.data();
      }
      return run_result(sk_cpu_spmm_run(q, kernel, nullptr, pool));
    }
    std::lock_guard<std::mutex> lock(plan->derived_mu);
    if (sk_spmm_uses_slices(p)) {
      // Values are copied here once per input stride, slice-major: the packed arrays are read-only after sparsify().
      if (!plan->slices || plan->slices->stride != stride) {
        try {
          auto s = std::make_unique<sk_spmm_slices>();
          sk_spmm_build_slices(p, sk_spmm_slice_width(p), s.get());
          plan->slices = std::move(s);
        } catch (const std::bad_alloc&) {
          return JobResult{SK_ERR_OUT_OF_MEMORY, "out of memory for the spmm slices"};
        }
      }
      return run_result(sk_cpu_spmm_run(p, kernel, nullptr, pool, plan->slices.get()));
    }
    if (plan->dmap_stride != stride) {
      try {
        plan->dmap.resize(static_cast<size_t>(plan->blocks));
      } catch (const std::bad_alloc&) {
        return JobResult{SK_ERR_OUT_OF_MEMORY, "out of memory for the spmm increments"};
      }
      sk_spmm_build_dmap(plan->cols.data(), plan->blocks, plan->k, stride, plan->dmap.data());
      plan->dmap_stride = stride;
    }
    return run_result(sk_cpu_spmm_run(p, kernel, plan->dmap.data(), pool));
  });
}

}  // namespace sk
