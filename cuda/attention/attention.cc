// The CUDA backend's side of attention: pick() over the dispatch table of
// the forward kernels (from instances.inc), the FwdParams built from
// sk_attention_params, and the device check; host code only, the kernels
// live in inst/*.cu.
#include "attention.h"

#include <stdint.h>

#include <numeric>
#include <string>

#include "../common.cuh"
#include "traits.h"

namespace sk::cuda {
namespace attn {
// Defined in fwd_kernel.cuh, instantiated once per inst/*.cu.
template <int kHeadDim, sk_dtype kType>
void run_fwd(const FwdParams& p, cudaStream_t stream);
#define SK_ATTN_INSTANCE(D, TYPE, NAME) extern template void run_fwd<D, TYPE>(const FwdParams&, cudaStream_t);
#include "instances.inc"
#undef SK_ATTN_INSTANCE
// Defined in fwd_fp8_kernel.cuh, instantiated once per inst/*_sm89.cu.
template <int kHeadDim, sk_dtype kType>
void run_fwd_fp8(const FwdParams& p, cudaStream_t stream);
#define SK_ATTN_FP8_INSTANCE(D, TYPE, NAME) extern template void run_fwd_fp8<D, TYPE>(const FwdParams&, cudaStream_t);
#include "instances_fp8.inc"
#undef SK_ATTN_FP8_INSTANCE
}  // namespace attn

namespace {

constexpr int64_t kMaxGridYZ = 65535;          // CUDA grid y (query heads) and z (batch)
constexpr float kLog2e = 1.4426950408889634f;  // scores go to base 2 once, so softmax is exp2

#define SK_ATTN_INSTANCE(D, TYPE, NAME)                                                                                \
  {TYPE,                                                                                                               \
   {"attn_fwd_hdim" #D "_" #NAME, D, attn::attention_q_tile(), attn::attention_kv_tile(D), &attn::run_fwd<D, TYPE>,    \
    false}},
#define SK_ATTN_FP8_INSTANCE(D, TYPE, NAME)                                                                            \
  {TYPE,                                                                                                               \
   {"attn_fwd_hdim" #D "_" #NAME "_sm89", D, attn::attention_q_tile(), attn::attention_kv_tile(D),                     \
    &attn::run_fwd_fp8<D, TYPE>, true}},
struct Entry {
  sk_dtype dtype;
  AttentionKernel kernel;
};
constexpr Entry kKernels[] = {
#include "instances.inc"
#include "instances_fp8.inc"
};
#undef SK_ATTN_INSTANCE
#undef SK_ATTN_FP8_INSTANCE

}  // namespace

sk_pick<const AttentionKernel*> attention_pick(const sk_attention_params& p) {
  using Pick = sk_pick<const AttentionKernel*>;
  const std::string got = " but received ";
  if (p.dtype != SK_F16 && p.dtype != SK_BF16 && !sk_dtype_is_fp8(p.dtype))
    return Pick::refuse(SK_ERR_UNSUPPORTED, "Expected float16, bfloat16 or quantised FP8 for q.type on CUDA" + got +
                                                sk_dtype_name(p.dtype) +
                                                " (the CUDA kernels take float16 or bfloat16; cast first: "
                                                "await q.cast('bfloat16'))");
  if (sk_dtype_is_fp8(p.dtype) && p.fp8 == nullptr)  // the shared parser refuses this first; the kernel reads scales
    return Pick::refuse(SK_ERR_DTYPE, "Expected FP8 q, k, v with their scales (sk.quantize)");
  if (p.batch > kMaxGridYZ || p.heads_q > kMaxGridYZ)
    return Pick::refuse(SK_ERR_UNSUPPORTED, "Expected at most " + std::to_string(kMaxGridYZ) +
                                                " for the batch and the query heads on CUDA (grid y and z)" + got +
                                                std::to_string(p.batch) + " and " + std::to_string(p.heads_q));
  Pick pick;
  for (const Entry& e : kKernels)
    if (e.dtype == p.dtype && p.head_dim >= 1 && p.head_dim <= e.kernel.head_dim &&
        (pick.kernel == nullptr || e.kernel.head_dim < pick.kernel->head_dim))
      pick.kernel = &e.kernel;
  if (pick.kernel == nullptr)
    return Pick::refuse(SK_ERR_UNSUPPORTED, "Expected a head dim this CUDA build has a kernel for for q.dims" + got +
                                                std::to_string(p.head_dim));
  pick.name = pick.kernel->name;
  return pick;
}

attn::FwdParams fwd_params(const sk_attention_params& p, const AttentionKernel& kernel,
                           const sk_mask_rules* mask_rules) {
  attn::FwdParams f{};
  f.q = p.q, f.k = p.k, f.v = p.v, f.out = p.out, f.lse = p.lse;
  f.batch = p.batch, f.heads_q = p.heads_q, f.seq_q = p.seq_q, f.seq_kv = p.seq_kv, f.head_dim = p.head_dim;
  f.group = p.heads_q / p.heads_kv;
  f.q_stride_b = p.q_stride_b, f.q_stride_h = p.q_stride_h, f.q_stride_s = p.q_stride_s;
  f.k_stride_b = p.k_stride_b, f.k_stride_h = p.k_stride_h, f.k_stride_s = p.k_stride_s;
  f.v_stride_b = p.v_stride_b, f.v_stride_h = p.v_stride_h, f.v_stride_s = p.v_stride_s;
  f.out_stride_b = p.out_stride_b, f.out_stride_h = p.out_stride_h, f.out_stride_s = p.out_stride_s;
  f.scale_log2 = p.scale * kLog2e;
  f.causal = p.causal;
  f.causal_offset = p.seq_kv - p.seq_q;
  // 16-byte chunks need whole-chunk rows and strides (in input elements) and
  // 16-byte-aligned pointers. FP8's output is float32, written from registers.
  const int64_t chunk = 16 / static_cast<int64_t>(sk_dtype_size(p.dtype));
  f.vec = p.head_dim % chunk == 0;
  for (int64_t s : {p.q_stride_b, p.q_stride_h, p.q_stride_s, p.k_stride_b, p.k_stride_h, p.k_stride_s, p.v_stride_b,
                    p.v_stride_h, p.v_stride_s})
    f.vec = f.vec && s % chunk == 0;
  if (!kernel.fp8)
    for (int64_t s : {p.out_stride_b, p.out_stride_h, p.out_stride_s}) f.vec = f.vec && s % chunk == 0;
  for (const void* ptr : {p.q, p.k, p.v, static_cast<const void*>(p.out)})
    f.vec = f.vec && reinterpret_cast<uintptr_t>(ptr) % 16 == 0;
  if (p.mask) {
    const sk_block_mask& m = *p.mask;
    f.has_mask = true;
    f.mask_batch = m.batch, f.mask_heads = m.heads;
    f.q_block = m.q_block, f.kv_block = m.kv_block;
    f.n_q_blocks = m.n_q_blocks, f.n_kv_blocks = m.n_kv_blocks;
    // Query tiles never straddle mask rows: a q_block that is not a multiple
    // of the tile gets a short last tile (a few idle rows, never stored).
    f.q_tiles_per_block = (m.q_block + kernel.block_m - 1) / kernel.block_m;
    f.full_num = m.full_num, f.full_idx = m.full_idx;
    f.partial_num = m.partial_num, f.partial_idx = m.partial_idx;
    f.rules = mask_rules;
  }
  if (kernel.fp8 && p.fp8) {
    const sk_fp8_scales& s = *p.fp8;
    f.q_scale = s.q, f.k_scale = s.k, f.v_scale = s.v, f.k_mean = s.k_mean;
    f.fp8_tile = static_cast<int32_t>(s.tile);
    // A mask's walk already cuts key tiles at its blocks, which are the
    // quantisation tiles; a dense walk steps by the largest size that divides both.
    f.kv_chunk = p.mask ? kernel.block_n : std::gcd(kernel.block_n, f.fp8_tile);
  }
  return f;
}

int64_t fwd_grid_x(const attn::FwdParams& p, const AttentionKernel& kernel) {
  return p.has_mask ? int64_t{p.n_q_blocks} * p.q_tiles_per_block : (p.seq_q + kernel.block_m - 1) / kernel.block_m;
}

void attention_forward(const AttentionKernel& kernel, const attn::FwdParams& p, cudaStream_t stream) {
  if (kernel.fp8)  // never a fallback: a GPU below sm_89 has no FP8 tensor cores
    require_sm89("FP8 attention on CUDA needs", "mma.sync on e4m3 / e5m2");
  else
    require_sm80("CUDA attention needs", "mma.sync on float16 / bfloat16");
  kernel.run(p, stream);
}

}  // namespace sk::cuda
