// The CUDA 2:4 layout (cuda/sp24/layout.h) on the CPU: the CPU → CUDA
// reorder round-trips, padding is inert, corrupted metadata is found, and a
// host emulation of ldmatrix + mma.sp m16n8k32 (PTX fragment and metadata
// rules, fed through the kernel's own addressing in fragments.h) reproduces
// the dense product exactly (integer-valued data in double), CTA by CTA with
// the kernel's own tiling.
#include <stdint.h>
#include <string.h>

#include <vector>

#include "../../cuda/sp24/fragments.h"
#include "../../cuda/sp24/layout.h"
#include "../../cuda/sp24/linear_params.h"
#include "check.h"

namespace {

using namespace sk::sp24;
namespace linear = sk::cuda::linear;

const uint8_t kValidNibbles[6] = {0x4, 0x8, 0x9, 0xC, 0xD, 0xE};

struct Rng {
  uint32_t x;
  uint32_t next() { return x ^= x << 13, x ^= x >> 17, x ^= x << 5; }
};

// A random CPU-layout weight [n, k] (docs/formats.md: panels of 8 rows),
// values small integers as 16-bit codes; the padding rows of the last panel
// hold zero values and code 0x4, as the CPU compressor writes them.
struct CpuWeight {
  int64_t n, k;
  std::vector<uint16_t> values;
  std::vector<uint8_t> meta;
};

// Row r's code of group q: nibble r % 8 of the little-endian word (panel, q),
// written byte by byte so this test does not lean on the accessors it checks.
void put_code(std::vector<uint8_t>& meta, int64_t groups, int64_t r, int64_t q, uint8_t code) {
  uint8_t& b = meta[4 * ((r / 8) * groups + q) + (r % 8) / 2];
  b = static_cast<uint8_t>((r % 2) ? ((b & 0x0F) | (code << 4)) : ((b & 0xF0) | code));
}

CpuWeight random_weight(int64_t n, int64_t k, uint32_t seed) {
  Rng rng{seed};
  const int64_t groups = k / 4, panels = (n + 7) / 8;
  CpuWeight w{n, k, std::vector<uint16_t>(panels * groups * 16, 0), std::vector<uint8_t>(panels * groups * 4, 0x44)};
  for (int64_t r = 0; r < n; ++r)
    for (int64_t q = 0; q < groups; ++q) {
      for (int s = 0; s < 2; ++s)
        w.values[((r / 8 * groups + q) * 2 + s) * 8 + r % 8] = static_cast<uint16_t>(1 + rng.next() % 19);
      put_code(w.meta, groups, r, q, kValidNibbles[rng.next() % 6]);
    }
  return w;
}

const int64_t kShapes[][2] = {{1, 4}, {3, 12}, {16, 32}, {17, 36}, {128, 64}, {130, 68}, {5, 100}, {40, 256}};

SK_TEST(sp24_layout_dims_pad_to_the_tiles) {
  const CudaLayoutDims d = cuda_layout_dims(130, 68);
  CHECK(d.n_pad == 256 && d.k_pad == 128, "n_pad %lld k_pad %lld", (long long)d.n_pad, (long long)d.k_pad);
  CHECK(d.values == size_t(256 * 64), "values %zu", d.values);
  CHECK(d.meta_words == size_t(16 * 4 * 16), "meta words %zu", d.meta_words);
  // The CPU layout the binding checks lengths against: 3 rows fill one panel of 8.
  CHECK(sk::sp24_meta_bytes(3, 12) == 12, "cpu meta bytes %lld", (long long)sk::sp24_meta_bytes(3, 12));
  CHECK(sk::sp24_value_count(3, 12) == 48, "cpu values %lld", (long long)sk::sp24_value_count(3, 12));
  CHECK(random_weight(17, 36, 1).values.size() == size_t(sk::sp24_value_count(17, 36)), "fixture values size");
  CHECK(random_weight(17, 36, 1).meta.size() == size_t(sk::sp24_meta_bytes(17, 36)), "fixture meta size");
}

// docs/formats.md's example (N = 1, K = 8, [0, 7, 0, 8 | 5, 0, 0, 0]) byte for
// byte through the CUDA layout and back.
SK_TEST(sp24_layout_reads_the_documented_example) {
  std::vector<uint16_t> values(32, 0);
  values[0] = 7, values[8] = 8, values[16] = 5;
  const std::vector<uint8_t> meta = {0x4D, 0x44, 0x44, 0x44, 0x44, 0x44, 0x44, 0x44};
  std::vector<uint16_t> dense(8, 0xFFFF);
  expand_dense(values.data(), meta.data(), 1, 8, dense.data());
  const std::vector<uint16_t> want = {0, 7, 0, 8, 5, 0, 0, 0};
  CHECK(dense == want, "dense %u %u %u %u | %u %u %u %u", dense[0], dense[1], dense[2], dense[3], dense[4], dense[5],
        dense[6], dense[7]);
  const CudaLayoutDims d = cuda_layout_dims(1, 8);
  std::vector<uint16_t> cv(d.values);
  std::vector<uint32_t> cm(d.meta_words);
  to_cuda_layout(values.data(), meta.data(), 1, 8, cv.data(), cm.data());
  CHECK(cv[0] == 7 && cv[1] == 8 && cv[2] == 5 && cv[3] == 0, "cuda values %u %u %u %u", cv[0], cv[1], cv[2], cv[3]);
  CHECK((cm[0] & 0xFF) == 0x4D, "cuda word 0 is 0x%08x", cm[0]);  // row 0 (g 0, t 0): groups 0, 1 in nibbles 0, 1
  std::vector<uint16_t> back_v(32, 0xFFFF);
  std::vector<uint8_t> back_m(8, 0);
  from_cuda_layout(cv.data(), cm.data(), 1, 8, back_v.data(), back_m.data());
  CHECK(back_v == values && back_m == meta, "the documented example does not come back");
}

SK_TEST(sp24_layout_round_trips_and_pads_inertly) {
  for (auto& s : kShapes) {
    const CpuWeight w = random_weight(s[0], s[1], uint32_t(7 + s[0] * 31 + s[1]));
    int64_t row = -1, group = -1;
    CHECK(!find_bad_group(w.meta.data(), w.n, w.k, &row, &group), "random weight flagged at (%lld, %lld)",
          (long long)row, (long long)group);
    const CudaLayoutDims d = cuda_layout_dims(w.n, w.k);
    std::vector<uint16_t> cv(d.values, 0xFFFF);
    std::vector<uint32_t> cm(d.meta_words, 0);
    to_cuda_layout(w.values.data(), w.meta.data(), w.n, w.k, cv.data(), cm.data());
    std::vector<uint16_t> back_v(w.values.size(), 0xFFFF);
    std::vector<uint8_t> back_m(w.meta.size(), 0xFF);
    from_cuda_layout(cv.data(), cm.data(), w.n, w.k, back_v.data(), back_m.data());
    CHECK(back_v == w.values, "values differ after the round trip for [%lld, %lld]", (long long)w.n, (long long)w.k);
    CHECK(back_m == w.meta, "metadata differs after the round trip for [%lld, %lld]", (long long)w.n, (long long)w.k);
    // Padding: zero values and valid nibbles (every nibble of every word valid).
    for (int64_t r = 0; r < d.n_pad; ++r)
      for (int64_t c = 0; c < d.k_pad / 2; ++c)
        if (r >= w.n || c >= w.k / 2)
          CHECK(cv[r * d.k_pad / 2 + c] == 0, "pad value at (%lld, %lld)", (long long)r, (long long)c);
    for (size_t i = 0; i < cm.size(); ++i)
      for (int j = 0; j < 8; ++j) CHECK(sk::sp24_code_valid((cm[i] >> (4 * j)) & 0xF), "invalid nibble in word %zu", i);
  }
}

SK_TEST(sp24_layout_finds_corrupted_metadata) {
  // 13 rows: panel 1 holds rows 8..12 and the padding rows 13..15.
  const CpuWeight w = random_weight(13, 20, 99);
  const int64_t groups = 5;
  auto first_bad = [&](const CpuWeight& c, int64_t want_row, int64_t want_group, const char* what) {
    int64_t row = -1, group = -1;
    const bool found = find_bad_group(c.meta.data(), c.n, c.k, &row, &group);
    CHECK(found && row == want_row && group == want_group, "%s: got %s (%lld, %lld), want (%lld, %lld)", what,
          found ? "found" : "none", (long long)row, (long long)group, (long long)want_row, (long long)want_group);
  };
  for (uint8_t bad : {0x0, 0x1, 0x5, 0x6, 0xA, 0xB, 0xF}) {
    CpuWeight c = w;
    put_code(c.meta, groups, 2, 2, bad);
    first_bad(c, 2, 2, "row 2, group 2");
    c = w;
    put_code(c.meta, groups, 11, 4, bad);  // an odd row: the high nibble
    first_bad(c, 11, 4, "row 11, group 4");
  }
  CpuWeight two = w;  // the lowest row wins over the lowest group
  put_code(two.meta, groups, 9, 0, 0x3);
  put_code(two.meta, groups, 4, 3, 0x7);
  first_bad(two, 4, 3, "rows 9 and 4");
  CpuWeight pad = w;  // a padding row of the partial last panel is checked too
  put_code(pad.meta, groups, 14, 1, 0x0);
  first_bad(pad, 14, 1, "padding row 14");
}

SK_TEST(sp24_expand_dense_places_the_kept_values) {
  const CpuWeight w = random_weight(9, 44, 5);
  std::vector<uint16_t> dense(9 * 44, 0xFFFF);
  expand_dense(w.values.data(), w.meta.data(), w.n, w.k, dense.data());
  for (int64_t r = 0; r < w.n; ++r)
    for (int64_t q = 0; q < w.k / 4; ++q) {
      int nonzero = 0;
      for (int i = 0; i < 4; ++i) nonzero += dense[r * w.k + 4 * q + i] != 0;
      CHECK(nonzero == 2, "row %lld group %lld has %d nonzeros", (long long)r, (long long)q, nonzero);
    }
}

// One CTA's accumulators, as the kernels hold them (warp, mi, ni, lane, r),
// and the epilogue both kernels share: out[row][col] for rows < m, cols < n,
// as store_tile bounds it.
template <class Cfg>
struct CtaAcc {
  std::vector<double> acc = std::vector<double>(size_t(Cfg::kThreads) * Cfg::kMI * Cfg::kNI * 4, 0.0);
  double& at(int warp, int mi, int ni, int lane, int r) {
    return acc[(((size_t(warp) * Cfg::kMI + mi) * Cfg::kNI + ni) * 32 + lane) * 4 + r];
  }
  void store(int64_t m0, int64_t n0, int64_t m, int64_t n, std::vector<double>& out) {
    for (int warp = 0; warp < Cfg::kWarpsN * Cfg::kWarpsM; ++warp) {
      const int wn = warp % Cfg::kWarpsN, wm = warp / Cfg::kWarpsN;
      for (int mi = 0; mi < Cfg::kMI; ++mi)
        for (int ni = 0; ni < Cfg::kNI; ++ni)
          for (int lane = 0; lane < 32; ++lane)
            for (int r = 0; r < 4; ++r) {
              const int64_t col = n0 + wn * Cfg::kWarpN + mi * 16 + d_frag_row(lane, r);
              const int64_t row = m0 + wm * Cfg::kWarpM + ni * 8 + d_frag_col(lane, r);
              if (row < m && col < n) out[row * n + col] = at(warp, mi, ni, lane, r);
            }
    }
  }
};

// The 2:4 linear kernel (cuda/sp24/linear_kernel.cuh) emulated on the
// host, CTA by CTA, with its own tiling (TileConfig) and addressing
// (fragments.h): metadata staged chunk by chunk as its cp.async does,
// ldmatrix.x4 gathering rows by the lane addresses, mma.sp.m16n8k32 reading
// registers by the PTX fragment rules and metadata words by lane (lanes t = 2,
// 3 poisoned: selector 0 ignores them), the accumulators written out by the
// epilogue's mapping. Integer data, so the product must be exact.
template <class Cfg>
std::vector<double> emulate_sparse_linear(const std::vector<uint16_t>& cv, const std::vector<uint32_t>& cm,
                                          const CudaLayoutDims& d, const std::vector<double>& x, int64_t m) {
  const int64_t n = d.n, k = d.k, vstride = d.k_pad / 2, k_steps = d.k_pad / 32;
  std::vector<double> out(m * n, -1e300);  // anything never written stays visible
  std::vector<uint32_t> ms(Cfg::kBN / 16 * 32);
  for (int64_t m0 = 0; m0 < m; m0 += Cfg::kBM)
    for (int64_t n0 = 0; n0 < n; n0 += Cfg::kBN) {
      CtaAcc<Cfg> acc;
      auto acc_at = [&](int warp, int mi, int ni, int lane, int r) -> double& { return acc.at(warp, mi, ni, lane, r); };
      for (int64_t kt = 0; kt < d.k_pad / linear::kBK; ++kt) {
        const int64_t k0 = kt * linear::kBK;
        for (int c = 0; c < Cfg::kBN / 16 * kMetaChunksPerRowTile; ++c)
          for (int i = 0; i < 4; ++i) ms[meta_chunk_dst_word(c) + i] = cm[meta_chunk_src_word(n0, c, kt, k_steps) + i];
        auto w_smem = [&](int row, int col) { return double(cv[(n0 + row) * vstride + k0 / 2 + col]); };
        auto x_smem = [&](int row, int col) {
          return (m0 + row < m && k0 + col < k) ? x[(m0 + row) * k + k0 + col] : 0.0;  // zero-filled tile
        };
        for (int warp = 0; warp < Cfg::kWarpsN * Cfg::kWarpsM; ++warp) {
          const int wn = warp % Cfg::kWarpsN, wm = warp / Cfg::kWarpsN;
          for (int step = 0; step < 2; ++step)
            for (int mi = 0; mi < Cfg::kMI; ++mi) {
              const int row = wn * Cfg::kWarpN + mi * 16;
              double a[16][16];
              uint32_t lane_meta[32];
              for (int lane = 0; lane < 32; ++lane) {
                const int g = lane >> 2, t = lane & 3;
                lane_meta[lane] = t < 2 ? ms[meta_smem_word(row, step, g, t)] : 0xFFFFFFFFu;
                for (int i = 0; i < 4; ++i)
                  for (int h = 0; h < 2; ++h) {
                    const int src = 8 * i + (lane >> 2);  // the lane whose address feeds this row of matrix i
                    a[a_frag_row(lane, i)][a_frag_col(lane, i, h)] =
                        w_smem(row + a_ldm_row(src), step * 16 + a_ldm_col(src) + 2 * (lane & 3) + h);
                  }
              }
              for (int ni = 0; ni < Cfg::kNI; ++ni) {
                double b[32][8];
                for (int lane = 0; lane < 32; ++lane)
                  for (int i = 0; i < 4; ++i)
                    for (int h = 0; h < 2; ++h) {
                      const int src = 8 * i + (lane >> 2);
                      b[b_frag_k(lane, i, h)][b_frag_n(lane)] = x_smem(wm * Cfg::kWarpM + ni * 8 + b_ldm_row(src),
                                                                       step * 32 + b_ldm_col(src) + 2 * (lane & 3) + h);
                    }
                for (int lane = 0; lane < 32; ++lane)
                  for (int r = 0; r < 4; ++r) {
                    const int dr = d_frag_row(lane, r), dc = d_frag_col(lane, r);
                    for (int c = 0; c < 16; ++c)
                      acc_at(warp, mi, ni, lane, r) += a[dr][c] * b[dense_k_of(lane_meta, dr, c)][dc];
                  }
              }
            }
        }
      }
      acc.store(m0, n0, m, n, out);
    }
  return out;
}

template <class Cfg>
void check_sparse_linear(const char* config) {
  const int64_t shapes[][3] = {{16, 32, 8}, {32, 64, 16}, {17, 36, 5}, {130, 100, 9}, {200, 136, 140}};  // n, k, m
  for (auto& s : shapes) {
    const int64_t n = s[0], k = s[1], m = s[2];
    const CpuWeight w = random_weight(n, k, uint32_t(n * 7 + k));
    const CudaLayoutDims d = cuda_layout_dims(n, k);
    std::vector<uint16_t> cv(d.values);
    std::vector<uint32_t> cm(d.meta_words);
    to_cuda_layout(w.values.data(), w.meta.data(), n, k, cv.data(), cm.data());
    std::vector<uint16_t> dense(n * k);
    expand_dense(w.values.data(), w.meta.data(), n, k, dense.data());
    Rng rng{uint32_t(m + 3)};
    std::vector<double> x(m * k);
    for (auto& v : x) v = double(int(rng.next() % 15) - 7);
    const std::vector<double> got = emulate_sparse_linear<Cfg>(cv, cm, d, x, m);
    int64_t mismatches = 0;
    for (int64_t i = 0; i < m; ++i)
      for (int64_t j = 0; j < n; ++j) {
        double want = 0;
        for (int64_t q = 0; q < k; ++q) want += x[i * k + q] * double(dense[j * k + q]);
        mismatches += got[i * n + j] != want;
      }
    CHECK(mismatches == 0, "%s [n %lld, k %lld, m %lld]: %lld outputs differ from the dense product", config,
          (long long)n, (long long)k, (long long)m, (long long)mismatches);
  }
}

// The dense linear kernel (same skeleton, two mma.m16n8k16 per 32-wide K
// step) emulated the same way: A (w rows) and B (x rows) gathered by ldmatrix
// addresses, registers read by the PTX m16n8k16 rules (cuda/tile/mma.cuh),
// out written by the epilogue's mapping; the tiles are bounds-checked (zero
// fill) like load_tile.
template <class Cfg>
std::vector<double> emulate_dense_linear(const std::vector<double>& w, const std::vector<double>& x, int64_t m,
                                         int64_t n, int64_t k) {
  std::vector<double> out(m * n, -1e300);
  for (int64_t m0 = 0; m0 < m; m0 += Cfg::kBM)
    for (int64_t n0 = 0; n0 < n; n0 += Cfg::kBN) {
      CtaAcc<Cfg> acc;
      auto acc_at = [&](int warp, int mi, int ni, int lane, int r) -> double& { return acc.at(warp, mi, ni, lane, r); };
      for (int64_t k0 = 0; k0 < k; k0 += linear::kBK) {
        auto w_smem = [&](int row, int col) {
          return (n0 + row < n && k0 + col < k) ? w[(n0 + row) * k + k0 + col] : 0.0;
        };
        auto x_smem = [&](int row, int col) {
          return (m0 + row < m && k0 + col < k) ? x[(m0 + row) * k + k0 + col] : 0.0;
        };
        for (int warp = 0; warp < Cfg::kWarpsN * Cfg::kWarpsM; ++warp) {
          const int wn = warp % Cfg::kWarpsN, wm = warp / Cfg::kWarpsN;
          for (int step = 0; step < 2; ++step)
            for (int mi = 0; mi < Cfg::kMI; ++mi) {
              const int row = wn * Cfg::kWarpN + mi * 16;
              double a[2][16][16];  // the two 16-wide K halves of the step
              for (int half = 0; half < 2; ++half)
                for (int lane = 0; lane < 32; ++lane)
                  for (int i = 0; i < 4; ++i)
                    for (int h = 0; h < 2; ++h) {
                      const int src = 8 * i + (lane >> 2);
                      a[half][a_frag_row(lane, i)][a_frag_col(lane, i, h)] =
                          w_smem(row + a_ldm_row(src), step * 32 + half * 16 + a_ldm_col(src) + 2 * (lane & 3) + h);
                    }
              for (int ni = 0; ni < Cfg::kNI; ++ni) {
                double b[32][8];  // b_0, b_1 feed the first m16n8k16, b_2, b_3 the second
                for (int lane = 0; lane < 32; ++lane)
                  for (int i = 0; i < 4; ++i)
                    for (int h = 0; h < 2; ++h) {
                      const int src = 8 * i + (lane >> 2);
                      b[b_frag_k(lane, i, h)][b_frag_n(lane)] = x_smem(wm * Cfg::kWarpM + ni * 8 + b_ldm_row(src),
                                                                       step * 32 + b_ldm_col(src) + 2 * (lane & 3) + h);
                    }
                for (int lane = 0; lane < 32; ++lane)
                  for (int r = 0; r < 4; ++r)
                    for (int half = 0; half < 2; ++half)
                      for (int c = 0; c < 16; ++c)
                        acc_at(warp, mi, ni, lane, r) +=
                            a[half][d_frag_row(lane, r)][c] * b[half * 16 + c][d_frag_col(lane, r)];
              }
            }
        }
      }
      acc.store(m0, n0, m, n, out);
    }
  return out;
}

template <class Cfg>
void check_dense_linear(const char* config) {
  const int64_t shapes[][3] = {{16, 32, 8}, {17, 36, 5}, {130, 100, 9}, {70, 24, 140}};  // n, k, m
  for (auto& s : shapes) {
    const int64_t n = s[0], k = s[1], m = s[2];
    Rng rng{uint32_t(n + k + m)};
    std::vector<double> w(n * k), x(m * k);
    for (auto& v : w) v = double(int(rng.next() % 11) - 5);
    for (auto& v : x) v = double(int(rng.next() % 15) - 7);
    const std::vector<double> got = emulate_dense_linear<Cfg>(w, x, m, n, k);
    int64_t mismatches = 0;
    for (int64_t i = 0; i < m; ++i)
      for (int64_t j = 0; j < n; ++j) {
        double want = 0;
        for (int64_t q = 0; q < k; ++q) want += x[i * k + q] * w[j * k + q];
        mismatches += got[i * n + j] != want;
      }
    CHECK(mismatches == 0, "dense %s [n %lld, k %lld, m %lld]: %lld outputs differ", config, (long long)n, (long long)k,
          (long long)m, (long long)mismatches);
  }
}

SK_TEST(dense_linear_kernel_emulation_matches_the_product) {
  check_dense_linear<linear::BigTile>("128x128");
  check_dense_linear<linear::SmallTile>("64x32");
}

SK_TEST(sp24_kernel_emulation_matches_the_dense_product) {
  check_sparse_linear<linear::BigTile>("128x128");
  check_sparse_linear<linear::SmallTile>("64x32");
}

}  // namespace
