// Probes on the GPU which metadata bits of which lane select the dense K of
// each compressed element in mma.sp::ordered_metadata m16n8k32 (bf16,
// selector 0), and compares with the layout the kernels assume
// (cuda/sp24/fragments.h, dense_k_of). Prints one line per mismatch and
// PASS / FAIL. Built by `npm run gpu:kit` (scripts/gpu-kit.mjs) and run by
// scripts/gpu-kit-run.sh, step 3; by hand:
//   nvcc -std=c++17 -gencode arch=compute_90a,code=sm_90a -I. -o probe scripts/gpu-probe-mma-sp.cu && ./probe
//
// Each warp runs one MMA with A one-hot in compressed column c0 (every row),
// B[k][n] = k, all metadata nibbles 0x4 (positions 0, 1) except nibble j of
// half h in lane L set to 0xE (positions 2, 3): D[r][0] is the dense K that
// row r's compressed column c0 reads, so the rows and columns whose K moves
// by 2 are the ones (L, h, j) controls.
#include <cuda_bf16.h>
#include <stdint.h>
#include <stdio.h>

#include <vector>

#include "cuda/sp24/fragments.h"

namespace {

constexpr int kConfigs = 32 * 2 * 4 + 1;  // (lane, half, nibble) + the all-0x4 baseline

__device__ uint32_t pack(float lo, float hi) {
  __nv_bfloat162 h = __floats2bfloat162_rn(lo, hi);
  return *reinterpret_cast<uint32_t*>(&h);
}

__global__ void probe(float* out /* [kConfigs][16 c0][16 rows] */) {
  const int config = blockIdx.x, c0 = blockIdx.y, lane = threadIdx.x;
  const int g = lane >> 2, t = lane & 3;
  uint32_t a[4], b[4];
  for (int r = 0; r < 4; ++r) {
    // a_r holds compressed cols (r >> 1) * 8 + 2t, +1 of row g (+8 for odd r).
    const int col = (r >> 1) * 8 + 2 * t;
    a[r] = pack(col == c0 ? 1.f : 0.f, col + 1 == c0 ? 1.f : 0.f);
  }
  for (int i = 0; i < 4; ++i) b[i] = pack(float(8 * i + 2 * t), float(8 * i + 2 * t + 1));
  uint32_t e = 0x44444444u;
  if (config < kConfigs - 1) {
    const int L = config / 8, h = (config / 4) % 2, j = config % 4;
    if (lane == L) e = (e & ~(0xFu << (16 * h + 4 * j))) | (0xEu << (16 * h + 4 * j));
  }
  float d[4] = {0, 0, 0, 0};
  asm volatile(
      "mma.sp::ordered_metadata.sync.aligned.m16n8k32.row.col.f32.bf16.bf16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, "
      "{%8,%9,%10,%11}, {%0,%1,%2,%3}, %12, 0x0;\n"
      : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]), "r"(b[2]), "r"(b[3]), "r"(e));
  if (t == 0) {  // column n = 0: d0 (row g), d2 (row g + 8)
    float* o = out + (size_t(config) * 16 + c0) * 16;
    o[g] = d[0];
    o[g + 8] = d[2];
  }
}

}  // namespace

int main() {
  float* dev = nullptr;
  const size_t count = size_t(kConfigs) * 16 * 16;
  if (cudaMalloc(&dev, count * sizeof(float)) != cudaSuccess) {
    printf("FAIL: cudaMalloc\n");
    return 1;
  }
  probe<<<dim3(kConfigs, 16), 32>>>(dev);
  std::vector<float> host(count);
  const cudaError_t err = cudaMemcpy(host.data(), dev, count * sizeof(float), cudaMemcpyDeviceToHost);
  if (err != cudaSuccess) {
    printf("FAIL: %s\n", cudaGetErrorString(err));
    return 1;
  }
  int mismatches = 0;
  for (int config = 0; config < kConfigs; ++config) {
    uint32_t lane_meta[32];
    for (int l = 0; l < 32; ++l) lane_meta[l] = 0x44444444u;
    if (config < kConfigs - 1) {
      const int L = config / 8, h = (config / 4) % 2, j = config % 4;
      lane_meta[L] = (lane_meta[L] & ~(0xFu << (16 * h + 4 * j))) | (0xEu << (16 * h + 4 * j));
    }
    for (int c0 = 0; c0 < 16; ++c0)
      for (int r = 0; r < 16; ++r) {
        const float got = host[(size_t(config) * 16 + c0) * 16 + r];
        const int want = sk::sp24::dense_k_of(lane_meta, r, c0);
        if (got != float(want) && ++mismatches <= 40)
          printf(
              "mismatch: config %d (lane %d half %d nibble %d) row %d compressed col %d: hardware K %g, assumed %d\n",
              config, config / 8, (config / 4) % 2, config % 4, r, c0, got, want);
      }
  }
  printf("%s: %d of %d (config, row, column) entries differ from fragments.h\n", mismatches ? "FAIL" : "PASS",
         mismatches, kConfigs * 16 * 16);
  return mismatches ? 1 : 0;
}
