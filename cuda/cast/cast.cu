#include <stdint.h>

#include <type_traits>

#include "../common.cuh"
#include "cast.h"
#include "codec.cuh"

namespace sk::cuda {
namespace {

constexpr int kThreads = 256;      // 8 warps per block: enough loads in flight to hide DRAM latency
constexpr int kItems = 4;          // elements per thread per step: one 16-byte load of float32
constexpr int kBlocksPerSm = 8;    // with the grid-stride loop, fills every SM without an oversized grid
constexpr size_t kAlignment = 16;  // the widest pack (4 × float32); allocator blocks are 256-byte aligned

// kItems elements moved as one aligned vector load or store.
template <class T>
struct alignas(sizeof(T) * kItems) Pack {
  T v[kItems];
};

// Grid-stride over packs, then the count % kItems tail element by element.
// Not __restrict__: src and dst may be the same buffer for same-size types,
// which is safe because each thread reads its elements before writing them.
template <class Src, class Dst>
__global__ void __launch_bounds__(kThreads)
    cast_kernel(const typename Src::Storage* src, typename Dst::Storage* dst, size_t count, bool saturate) {
  using S = typename Src::Storage;
  using D = typename Dst::Storage;
  const size_t packs = count / kItems;
  const size_t stride = static_cast<size_t>(gridDim.x) * blockDim.x;
  const size_t first = static_cast<size_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  const auto* src_packs = reinterpret_cast<const Pack<S>*>(src);
  auto* dst_packs = reinterpret_cast<Pack<D>*>(dst);
  for (size_t i = first; i < packs; i += stride) {
    Pack<S> in = src_packs[i];
    Pack<D> out;
#pragma unroll
    for (int k = 0; k < kItems; ++k) out.v[k] = convert<Src, Dst>(in.v[k], saturate);
    dst_packs[i] = out;
  }
  for (size_t i = packs * kItems + first; i < count; i += stride) dst[i] = convert<Src, Dst>(src[i], saturate);
}

template <sk_dtype T>
using Tag = std::integral_constant<sk_dtype, T>;

// Calls f(Tag<t>{}) for a runtime dtype: turns the id into a compile-time codec.
template <class F>
void with_dtype(sk_dtype t, F&& f) {
  switch (t) {
    case SK_F32: f(Tag<SK_F32>{}); break;
    case SK_F16: f(Tag<SK_F16>{}); break;
    case SK_BF16: f(Tag<SK_BF16>{}); break;
    case SK_F8E4M3FN: f(Tag<SK_F8E4M3FN>{}); break;
    case SK_F8E5M2: f(Tag<SK_F8E5M2>{}); break;
    case SK_I8: f(Tag<SK_I8>{}); break;
    case SK_U8: f(Tag<SK_U8>{}); break;
    case SK_I32: f(Tag<SK_I32>{}); break;
    default: throw CudaFailure(SK_ERR_DTYPE, "cast: unknown dtype id " + std::to_string(static_cast<int>(t)));
  }
}

int grid_for(size_t count) {
  int device = 0, sms = 0;
  SK_CUDA_CHECK(cudaGetDevice(&device));
  SK_CUDA_CHECK(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, device));
  const size_t packs = count / kItems + 1;  // + 1: the tail needs a thread even when there is no full pack
  const size_t wanted = (packs + kThreads - 1) / kThreads;
  const size_t cap = static_cast<size_t>(sms) * kBlocksPerSm;
  return static_cast<int>(wanted < cap ? wanted : cap);
}

}  // namespace

void cast(const sk_cast_params& p, cudaStream_t stream) {
  if (p.count == 0) return;
  if (p.src_type == p.dst_type) {
    if (p.src != p.dst)
      SK_CUDA_CHECK(
          cudaMemcpyAsync(p.dst, p.src, p.count * sk_dtype_size(p.src_type), cudaMemcpyDeviceToDevice, stream));
    return;
  }
  if (reinterpret_cast<uintptr_t>(p.src) % kAlignment != 0 || reinterpret_cast<uintptr_t>(p.dst) % kAlignment != 0)
    throw CudaFailure(SK_ERR_INVALID_ARGUMENT, "cast: src and dst must be 16-byte aligned device pointers");
  const int grid = grid_for(p.count);
  with_dtype(p.src_type, [&](auto src_tag) {
    with_dtype(p.dst_type, [&](auto dst_tag) {
      using Src = Codec<decltype(src_tag)::value>;
      using Dst = Codec<decltype(dst_tag)::value>;
      if constexpr (decltype(src_tag)::value != decltype(dst_tag)::value) {
        cast_kernel<Src, Dst><<<grid, kThreads, 0, stream>>>(static_cast<const typename Src::Storage*>(p.src),
                                                             static_cast<typename Dst::Storage*>(p.dst), p.count,
                                                             p.saturate);
      }
    });
  });
  SK_CUDA_CHECK(cudaGetLastError());
}

}  // namespace sk::cuda
