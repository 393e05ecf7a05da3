// The 2:4 code helpers (csrc/core/sp24_meta.h) and the prune / compress /
// decompress ops (csrc/cpu/sp24) against their definitions: the vectorized
// byte check equals the per-nibble rule on every byte pattern, the first bad group
// is found wherever it sits (word loop, tail, padding nibble), and compress →
// decompress is exact for every dtype, with the first offending row reported
// however the threads split the rows.
#include <string.h>

#include <vector>

#include "../../csrc/core/sp24_meta.h"
#include "../../csrc/core/threadpool.h"
#include "../../csrc/cpu/sp24/sp24_ops.h"
#include "check.h"
#include "helpers.h"

using sktest::Rng;

SK_TEST(sp24_codes_and_lanes) {
  int valid = 0;
  for (uint32_t c = 0; c < 16; ++c) valid += sk::sp24_code_valid(c) ? 1 : 0;
  CHECK(valid == 6, "6 valid codes, got %d", valid);
  for (uint32_t c = 0; c < 16; ++c) CHECK(sk::sp24_code_valid(c) == ((c & 3) < (c >> 2)), "code %u", c);
  CHECK(sk::sp24_lane(0xE4, 0) == 0 && sk::sp24_lane(0xE4, 1) == 1 && sk::sp24_lane(0xE4, 2) == 6 && sk::sp24_lane(0xE4, 3) == 7,
        "lanes of 0xE4");
}

SK_TEST(sp24_bytes_check_matches_nibble_rule) {
  // Every byte value at every position of runs of valid bytes of several lengths (the vectorized body and its tail).
  for (int64_t len : {1, 7, 16, 33, 64, 100})
    for (int64_t pos = 0; pos < len; pos += (len > 16 ? 5 : 1))
      for (uint32_t b = 0; b < 256; ++b) {
        std::vector<uint8_t> bytes(static_cast<size_t>(len), 0xE4);
        bytes[pos] = static_cast<uint8_t>(b);
        const bool want = sk::sp24_code_valid(b & 15u) && sk::sp24_code_valid(b >> 4);
        CHECK(sk::sp24_bytes_valid(bytes.data(), len) == want, "len %lld pos %lld byte %02x", static_cast<long long>(len),
              static_cast<long long>(pos), b);
      }
  Rng rng{5};
  for (int i = 0; i < 20000; ++i) {
    uint8_t bytes[40];
    bool want = true;
    for (uint8_t& b : bytes) {
      static const uint8_t kValid[6] = {0x4, 0x8, 0x9, 0xC, 0xD, 0xE};
      const auto nib = [&] { return rng.uniform() < 0.995 ? kValid[static_cast<int>(rng.uniform() * 6)] : static_cast<uint8_t>(rng.uniform() * 16); };
      b = static_cast<uint8_t>(nib() | (nib() << 4));
      want = want && sk::sp24_code_valid(b & 15u) && sk::sp24_code_valid(b >> 4);
    }
    CHECK(sk::sp24_bytes_valid(bytes, 40) == want, "random run %d", i);
  }
}

SK_TEST(sp24_row_first_bad_everywhere) {
  for (int64_t groups : {1, 2, 3, 15, 16, 17, 33, 40}) {
    const int64_t bytes = (groups + 1) / 2;
    std::vector<uint8_t> row(static_cast<size_t>(bytes), 0x44);
    if (groups % 2) row[bytes - 1] = 0x04;
    CHECK(sk::sp24_row_first_bad(row.data(), groups) == -1, "groups %lld valid", static_cast<long long>(groups));
    for (int64_t g = 0; g < groups; ++g) {
      std::vector<uint8_t> bad = row;
      bad[g / 2] = static_cast<uint8_t>((bad[g / 2] & (g % 2 ? 0x0F : 0xF0)) | ((g % 2 ? 0x5 : 0x6) << (4 * (g % 2))));
      CHECK(sk::sp24_row_first_bad(bad.data(), groups) == g, "groups %lld bad at %lld", static_cast<long long>(groups),
            static_cast<long long>(g));
    }
    if (groups % 2) {
      std::vector<uint8_t> pad = row;
      pad[bytes - 1] |= 0x40;
      CHECK(sk::sp24_row_first_bad(pad.data(), groups) == groups, "padding nibble of %lld groups", static_cast<long long>(groups));
    }
  }
}

SK_TEST(sp24_prune_compress_decompress_round_trip) {
  sk::ThreadPool pool(3);
  Rng rng{9};
  for (sk_dtype t : {SK_F32, SK_F16, SK_BF16}) {
    const int64_t rows = 37, k = 44;
    const size_t es = sk_dtype_size(t);
    std::vector<uint8_t> dense(rows * k * es), pruned(rows * k * es), values(rows * k / 2 * es), back(rows * k * es);
    std::vector<uint8_t> meta(rows * ((k / 4 + 1) / 2));
    for (auto& b : dense) b = static_cast<uint8_t>(rng.uniform() * 256);
    sk_sp24_params p{};
    p.op = SK_SP24_PRUNE, p.dtype = t, p.rows = rows, p.k = k, p.n_keep = 2, p.group = 4;
    p.dense_in = dense.data(), p.dense_out = pruned.data();
    CHECK(sk_cpu_sp24_run(p, pool) == SK_OK, "prune");
    p.op = SK_SP24_COMPRESS, p.dense_in = pruned.data(), p.values = values.data(), p.meta = meta.data();
    CHECK(sk_cpu_sp24_run(p, pool) == SK_OK, "compress %s", sk_dtype_name(t));
    for (int64_t r = 0; r < rows; ++r) CHECK(sk::sp24_row_first_bad(&meta[r * 6], k / 4) == -1, "codes of row %lld", static_cast<long long>(r));
    p.op = SK_SP24_DECOMPRESS, p.dense_out = back.data();
    CHECK(sk_cpu_sp24_run(p, pool) == SK_OK, "decompress");
    // -0 is a zero and comes back as +0: compare with the sign of zeros cleared
    bool same = true;
    for (int64_t i = 0; i < rows * k; ++i) {
      uint32_t a = 0, b = 0;
      memcpy(&a, &pruned[i * es], es), memcpy(&b, &back[i * es], es);
      const uint32_t abs_mask = es == 4 ? 0x7FFFFFFFu : 0x7FFFu;
      if ((a & abs_mask) == 0) a = 0;
      same = same && a == b;
    }
    CHECK(same, "round trip %s", sk_dtype_name(t));
    // the first offending row wins however the 16-row tasks run
    std::vector<uint8_t> broken = pruned;
    for (int64_t r : {33, 20}) {
      const int64_t g = r == 20 ? 7 : 1;
      for (int i = 0; i < 3; ++i) memset(&broken[(r * k + 4 * g + i) * es], 0x3C, es);
    }
    p.op = SK_SP24_COMPRESS, p.dense_in = broken.data();
    CHECK(sk_cpu_sp24_run(p, pool) == SK_ERR_INVALID_ARGUMENT && p.bad_row == 20 && p.bad_group == 7, "first bad: row %lld group %lld",
          static_cast<long long>(p.bad_row), static_cast<long long>(p.bad_group));
    p.op = SK_SP24_COMPRESS, p.dense_in = pruned.data();  // the failed compress left its outputs half written
    CHECK(sk_cpu_sp24_run(p, pool) == SK_OK, "compress again");
    meta[25 * 6 + 2] = 0xF4;  // row 25, group 5
    p.op = SK_SP24_DECOMPRESS;
    CHECK(sk_cpu_sp24_run(p, pool) == SK_ERR_INVALID_ARGUMENT && p.bad_row == 25 && p.bad_group == 5, "bad code: row %lld group %lld",
          static_cast<long long>(p.bad_row), static_cast<long long>(p.bad_group));
  }
}
