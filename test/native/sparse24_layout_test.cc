// The CUDA 2:4 layout (cuda/sparse24/layout.h) on the CPU: the CPU → CUDA
// reorder round-trips, padding is inert, corrupted metadata is found, and a
// host emulation of ldmatrix + mma.sp m16n8k32 (PTX fragment and metadata
// rules, fed through the kernel's own addressing in fragments.h) reproduces
// the dense product of small tiles exactly (integer-valued data in double).
#include <stdint.h>
#include <string.h>

#include <vector>

#include "../../cuda/sparse24/fragments.h"
#include "../../cuda/sparse24/layout.h"
#include "check.h"

namespace {

using namespace sk::sparse24;

const uint8_t kValidNibbles[6] = {0x4, 0x8, 0x9, 0xC, 0xD, 0xE};

struct Rng {
  uint32_t x;
  uint32_t next() { return x ^= x << 13, x ^= x >> 17, x ^= x << 5; }
};

// A random CPU-layout weight [n, k]: values are small integers as 16-bit codes.
struct CpuWeight {
  int64_t n, k;
  std::vector<uint16_t> values;
  std::vector<uint8_t> meta;
};

CpuWeight random_weight(int64_t n, int64_t k, uint32_t seed) {
  Rng rng{seed};
  CpuWeight w{n, k, std::vector<uint16_t>(n * k / 2), std::vector<uint8_t>(cpu_meta_bytes(n, k), 0)};
  for (auto& v : w.values) v = static_cast<uint16_t>(1 + rng.next() % 19);
  const int64_t bytes = (k + 7) / 8;
  for (int64_t r = 0; r < n; ++r)
    for (int64_t q = 0; q < k / 4; ++q)
      w.meta[r * bytes + q / 2] |= static_cast<uint8_t>(kValidNibbles[rng.next() % 6] << ((q & 1) ? 4 : 0));
  return w;
}

const int64_t kShapes[][2] = {{1, 4}, {3, 12}, {16, 32}, {17, 36}, {128, 64}, {130, 68}, {5, 100}, {40, 256}};

SK_TEST(sparse24_layout_dims_pad_to_the_tiles) {
  const CudaLayoutDims d = cuda_layout_dims(130, 68);
  CHECK(d.n_pad == 256 && d.k_pad == 128, "n_pad %lld k_pad %lld", (long long)d.n_pad, (long long)d.k_pad);
  CHECK(d.values == size_t(256 * 64), "values %zu", d.values);
  CHECK(d.meta_words == size_t(16 * 4 * 16), "meta words %zu", d.meta_words);
  CHECK(cpu_meta_bytes(3, 12) == 6, "cpu meta bytes %zu", cpu_meta_bytes(3, 12));
}

SK_TEST(sparse24_layout_round_trips_and_pads_inertly) {
  for (auto& s : kShapes) {
    const CpuWeight w = random_weight(s[0], s[1], uint32_t(7 + s[0] * 31 + s[1]));
    CHECK(find_bad_group(w.meta.data(), w.n, w.k) == -1, "random weight flagged");
    const CudaLayoutDims d = cuda_layout_dims(w.n, w.k);
    std::vector<uint16_t> cv(d.values, 0xFFFF);
    std::vector<uint32_t> cm(d.meta_words, 0);
    to_cuda_layout(w.values.data(), w.meta.data(), w.n, w.k, cv.data(), cm.data());
    std::vector<uint16_t> back_v(w.values.size(), 0);
    std::vector<uint8_t> back_m(w.meta.size(), 0xFF);
    from_cuda_layout(cv.data(), cm.data(), w.n, w.k, back_v.data(), back_m.data());
    CHECK(back_v == w.values, "values differ after the round trip for [%lld, %lld]", (long long)w.n, (long long)w.k);
    CHECK(back_m == w.meta, "metadata differs after the round trip for [%lld, %lld]", (long long)w.n, (long long)w.k);
    // Padding: zero values and valid nibbles (every nibble of every word valid).
    for (int64_t r = 0; r < d.n_pad; ++r)
      for (int64_t c = 0; c < d.k_pad / 2; ++c)
        if (r >= w.n || c >= w.k / 2) CHECK(cv[r * d.k_pad / 2 + c] == 0, "pad value at (%lld, %lld)", (long long)r, (long long)c);
    for (size_t i = 0; i < cm.size(); ++i)
      for (int j = 0; j < 8; ++j) CHECK(valid_nibble((cm[i] >> (4 * j)) & 0xF), "invalid nibble in word %zu", i);
  }
}

SK_TEST(sparse24_layout_finds_corrupted_metadata) {
  CpuWeight w = random_weight(4, 20, 99);  // 5 groups per row: odd, so each row has a padding nibble
  const int64_t bytes = 3;
  for (uint8_t bad : {0x0, 0x1, 0x5, 0x6, 0xA, 0xB, 0xF}) {
    CpuWeight c = w;
    c.meta[2 * bytes + 1] = static_cast<uint8_t>((c.meta[2 * bytes + 1] & 0xF0) | bad);  // row 2, group 2
    CHECK(find_bad_group(c.meta.data(), c.n, c.k) == 2 * 5 + 2, "nibble 0x%x not found", bad);
  }
  CpuWeight p = w;
  p.meta[1 * bytes + 2] |= 0x40;  // row 1's padding nibble
  CHECK(find_bad_group(p.meta.data(), p.n, p.k) == 1 * 5 + 5, "nonzero padding nibble not found");
}

SK_TEST(sparse24_expand_dense_places_the_kept_values) {
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

// One warp's mma.sp.m16n8k32 as the kernel issues it, emulated on the host:
// ldmatrix.x4 gathers by the lane addresses of fragments.h, the MMA reads the
// registers by the PTX fragment rules and the metadata words by lane.
void emulate_tile(const std::vector<uint16_t>& cv, const std::vector<uint32_t>& cm, const CudaLayoutDims& d,
                  const std::vector<double>& x, int64_t m_rows, int64_t row0, int64_t m0, int64_t step,
                  double acc[16][8]) {
  const int64_t vstride = d.k_pad / 2;
  auto a_elem = [&](int r, int c) { return double(cv[(row0 + r) * vstride + step * 16 + c]); };
  auto x_elem = [&](int64_t m, int64_t kk) { return (m < m_rows && kk < d.k) ? x[m * d.k + kk] : 0.0; };
  double areg[32][4][2], breg[32][4][2];
  uint32_t lane_meta[32];
  for (int lane = 0; lane < 32; ++lane)
    for (int i = 0; i < 4; ++i)
      for (int h = 0; h < 2; ++h) {
        const int src = 8 * i + (lane >> 2);  // the lane whose address feeds this row of matrix i
        areg[lane][i][h] = a_elem(a_ldm_row(src), a_ldm_col(src) + 2 * (lane & 3) + h);
        breg[lane][i][h] = x_elem(m0 + b_ldm_row(src), step * 32 + b_ldm_col(src) + 2 * (lane & 3) + h);
      }
  for (int lane = 0; lane < 32; ++lane) {
    const int g = lane >> 2, t = lane & 3;
    lane_meta[lane] = t < 2 ? cm[((row0 / 16) * (d.k_pad / 32) + step) * kMetaWordsPerStep + meta_word_in_step(g, t)]
                            : 0xFFFFFFFFu;  // ignored by selector 0: poison it
  }
  double a[16][16], b[32][8];
  for (int lane = 0; lane < 32; ++lane)
    for (int i = 0; i < 4; ++i)
      for (int h = 0; h < 2; ++h) {
        a[a_frag_row(lane, i)][a_frag_col(lane, i, h)] = areg[lane][i][h];
        b[b_frag_k(lane, i, h)][b_frag_n(lane)] = breg[lane][i][h];
      }
  for (int r = 0; r < 16; ++r)
    for (int c = 0; c < 16; ++c)
      for (int n = 0; n < 8; ++n) acc[r][n] += a[r][c] * b[dense_k_of(lane_meta, r, c)][n];
}

SK_TEST(sparse24_mma_sp_emulation_matches_the_dense_product) {
  const int64_t shapes[][3] = {{16, 32, 8}, {32, 64, 16}, {17, 36, 5}, {130, 100, 9}};  // n, k, m
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
    int64_t mismatches = 0;
    for (int64_t row0 = 0; row0 < d.n_pad; row0 += 16)
      for (int64_t m0 = 0; m0 < (m + 7) / 8 * 8; m0 += 8) {
        double acc[16][8] = {};
        for (int64_t step = 0; step < d.k_pad / 32; ++step) emulate_tile(cv, cm, d, x, m, row0, m0, step, acc);
        for (int r = 0; r < 16; ++r)
          for (int c = 0; c < 8; ++c) {
            const int64_t nn = row0 + r, mm = m0 + c;
            double want = 0;
            if (nn < n && mm < m)
              for (int64_t kk = 0; kk < k; ++kk) want += x[mm * k + kk] * double(dense[nn * k + kk]);
            if (acc[r][c] != want) ++mismatches;
          }
      }
    CHECK(mismatches == 0, "[n %lld, k %lld, m %lld]: %lld outputs differ from the dense product", (long long)n,
          (long long)k, (long long)m, (long long)mismatches);
  }
}

}  // namespace
