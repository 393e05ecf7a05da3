// cache.append on CUDA: one CTA per (batch, KV head) writes its new tokens
// page by page with csrc/core/decode.h's rules and cast_math's rounding, the
// math of the CPU's append.cc: the FP8 scale of a page's K and V (grown, with
// the codes already there re-encoded), keys channel-major, values token-major,
// and Quest's min / max of the stored keys. The pages come out the same bits
// on both.
#include <math.h>

#include "../../csrc/core/decode.h"
#include "../cast/codec.cuh"
#include "../common.cuh"
#include "decode.h"

namespace sk::cuda {
namespace {

constexpr int kAppendThreads = 256;  // one thread per channel of the metadata (head dims ≤ 256)

// The block's max of v, and whether any thread saw a non-finite value.
__device__ float block_max(float v, bool finite, bool* all_finite) {
  __shared__ float red[kAppendThreads / 32];
  __shared__ int bad;
  if (threadIdx.x == 0) bad = 0;
  __syncthreads();
  if (!finite) bad = 1;
  for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
  if (threadIdx.x % 32 == 0) red[threadIdx.x / 32] = v;
  __syncthreads();
  float m = red[0];
  for (int w = 1; w < kAppendThreads / 32; ++w) m = fmaxf(m, red[w]);
  *all_finite = bad == 0;
  __syncthreads();  // red and bad are reused by the next call
  return m;
}

template <sk_dtype In, sk_dtype T>
__global__ void __launch_bounds__(kAppendThreads) append_kernel(sk_kv_append_params p, KvPageLayout lay) {
  using CI = Codec<In>;
  using CT = Codec<T>;
  using S = typename CT::Storage;
  const int64_t heads = p.cache.kv_heads, D = p.cache.head_dim, P = p.cache.page_size;
  const int64_t b = blockIdx.x / heads, g = blockIdx.x % heads, count = p.count[b];
  const auto* k = static_cast<const typename CI::Storage*>(p.k) + b * p.k_stride_b + g * p.k_stride_h;
  const auto* v = static_cast<const typename CI::Storage*>(p.v) + b * p.v_stride_b + g * p.v_stride_h;
  for (int64_t done = 0; done < count;) {
    const int64_t pos = p.start[b] + done, s0 = pos % P, n = P - s0 < count - done ? P - s0 : count - done;
    const int64_t at = b * p.cache.table_stride + pos / P;
    uint8_t* block = p.cache.kv[at] + g * p.cache.head_stride;
    float* scales = reinterpret_cast<float*>(p.cache.meta[at] + lay.scales);
    S* kp = reinterpret_cast<S*>(block + lay.k);
    S* vp = reinterpret_cast<S*>(block + lay.v);
    S* meta = reinterpret_cast<S*>(p.cache.meta[at] + lay.meta + g * lay.meta_head);
    for (int part = 0; part < 2; ++part) {  // keys, then values
      const auto* src = part == 0 ? k : v;
      const int64_t ss = part == 0 ? p.k_stride_s : p.v_stride_s;
      float inv = 1.0f;
      if constexpr (T == SK_F8E4M3FN) {
        float amax = 0.0f;
        bool finite = true;
        for (int64_t i = threadIdx.x; i < n * D; i += kAppendThreads) {
          const float a = fabsf(CI::decode(src[(done + i / D) * ss + i % D]));
          finite = finite && a <= 3.4028234663852886e38f;
          amax = fmaxf(amax, a);
        }
        bool all_finite;
        amax = block_max(amax, finite, &all_finite);
        const float want = fp8_page_scale(amax, all_finite), old = scales[part * heads + g];
        float scale = old;
        if (s0 == 0) {
          scale = want;
        } else if (old == old && !(want <= old)) {  // grows, or turns NaN
          if (want == want) {
            const float ratio = old / want;
            for (int64_t i = threadIdx.x; i < s0 * D; i += kAppendThreads) {
              S& code = part == 0 ? kp[(i % D) * P + i / D] : vp[i];
              code = static_cast<S>(fp8_rescale_code(code, ratio));
            }
            if (part == 0)
              for (int64_t i = threadIdx.x; i < 2 * D; i += kAppendThreads)
                meta[i] = static_cast<S>(fp8_rescale_code(meta[i], ratio));
          }
          scale = want;
        }
        __syncthreads();  // every thread has read the old scale
        if (threadIdx.x == 0) scales[part * heads + g] = scale;
        inv = 1.0f / scale;
      } else {
        if (threadIdx.x == 0) scales[part * heads + g] = 1.0f;
      }
      for (int64_t i = threadIdx.x; i < n * D; i += kAppendThreads) {
        const int64_t t = i / D, d = i % D;
        const S code = CT::encode(CI::decode(src[(done + t) * ss + d]) * inv, true);
        if (part == 0)
          kp[d * P + s0 + t] = code;
        else
          vp[(s0 + t) * D + d] = code;
      }
    }
    __syncthreads();  // the new keys are written
    for (int64_t d = threadIdx.x; d < D; d += kAppendThreads) {
      float lo = s0 == 0 ? CT::decode(kp[d * P]) : CT::decode(meta[d]);
      float hi = s0 == 0 ? lo : CT::decode(meta[D + d]);
      for (int64_t t = s0; t < s0 + n; ++t) {
        const float x = CT::decode(kp[d * P + t]);
        lo = x < lo ? x : lo;
        hi = x > hi ? x : hi;
      }
      meta[d] = CT::encode(lo, true);
      meta[D + d] = CT::encode(hi, true);
    }
    __syncthreads();  // the next page may be the same page's CTA-wide reads
    done += n;
  }
}

template <sk_dtype In>
void launch_append(const sk_kv_append_params& p, const KvPageLayout& lay, cudaStream_t s) {
  const dim3 grid(static_cast<unsigned>(p.batch * p.cache.kv_heads));
  switch (p.cache.type) {
    case SK_F32: append_kernel<In, SK_F32><<<grid, kAppendThreads, 0, s>>>(p, lay); break;
    case SK_F16: append_kernel<In, SK_F16><<<grid, kAppendThreads, 0, s>>>(p, lay); break;
    case SK_BF16: append_kernel<In, SK_BF16><<<grid, kAppendThreads, 0, s>>>(p, lay); break;
    default: append_kernel<In, SK_F8E4M3FN><<<grid, kAppendThreads, 0, s>>>(p, lay); break;
  }
}

}  // namespace

void kv_append_forward(const sk_kv_append_params& p, cudaStream_t stream) {
  if (p.batch == 0) return;
  const KvPageLayout lay = kv_page_layout(static_cast<int64_t>(sk_dtype_size(p.cache.type)), p.cache.kv_heads,
                                          p.cache.head_dim, p.cache.page_size);
  switch (p.in_type) {
    case SK_F32: launch_append<SK_F32>(p, lay, stream); break;
    case SK_F16: launch_append<SK_F16>(p, lay, stream); break;
    default: launch_append<SK_BF16>(p, lay, stream); break;
  }
  SK_CUDA_CHECK(cudaGetLastError());
}

}  // namespace sk::cuda
