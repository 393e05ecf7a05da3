// The 2:4 code helpers (csrc/core/sp24_meta.h) and the prune / compress /
// decompress ops (csrc/cpu/sp24) against their definitions: the vectorized
// byte check equals the per-nibble rule on every byte pattern, the panel
// layout's addresses, the first bad (row, group) found wherever it sits, and
// compress → decompress exact for every dtype with padding rows written as
// code 0x4 and zeros, with the first offending row reported however the
// threads split the rows.
#include <string.h>

#include <vector>

#include "../../csrc/core/sp24_meta.h"
#include "../../csrc/core/threadpool.h"
#include "../../csrc/cpu/sp24/sp24_ops.h"
#include "check.h"
#include "helpers.h"

using sktest::Rng;

SK_TEST(sp24_codes_and_panel_addresses) {
  int valid = 0;
  for (uint32_t c = 0; c < 16; ++c) valid += sk::sp24_code_valid(c) ? 1 : 0;
  CHECK(valid == 6, "6 valid codes, got %d", valid);
  for (uint32_t c = 0; c < 16; ++c) CHECK(sk::sp24_code_valid(c) == ((c & 3) < (c >> 2)), "code %u", c);
  // the panel layout's addressing (docs/formats.md): rows 8p..8p+7, slot-major within a group
  CHECK(sk::sp24_value_at(0, 0, 0, 5) == 0 && sk::sp24_value_at(7, 0, 1, 5) == 15 &&
            sk::sp24_value_at(3, 2, 1, 5) == 43 && sk::sp24_value_at(9, 1, 0, 5) == 80 + 16 + 1,
        "value addresses");
  CHECK(sk::sp24_value_count(9, 20) == 16 * 10 && sk::sp24_meta_bytes(9, 20) == 2 * 5 * 4, "sizes");
  const uint8_t word[4] = {0x4D, 0xE4, 0x98, 0xC4};  // rows 0..7: D 4 4 E 8 9 4 C
  CHECK(sk::sp24_code(word, 0, 0, 1) == 0xD && sk::sp24_code(word, 3, 0, 1) == 0xE &&
            sk::sp24_code(word, 5, 0, 1) == 0x9 && sk::sp24_code(word, 7, 0, 1) == 0xC,
        "codes of a word");
}

SK_TEST(sp24_bytes_check_matches_nibble_rule) {
  // Every byte value at every position of runs of valid bytes of several lengths (the vectorized body and its tail).
  for (int64_t len : {1, 7, 16, 33, 64, 100})
    for (int64_t pos = 0; pos < len; pos += (len > 16 ? 5 : 1))
      for (uint32_t b = 0; b < 256; ++b) {
        std::vector<uint8_t> bytes(static_cast<size_t>(len), 0xE4);
        bytes[pos] = static_cast<uint8_t>(b);
        const bool want = sk::sp24_code_valid(b & 15u) && sk::sp24_code_valid(b >> 4);
        CHECK(sk::sp24_bytes_valid(bytes.data(), len) == want, "len %lld pos %lld byte %02x",
              static_cast<long long>(len), static_cast<long long>(pos), b);
      }
  Rng rng{5};
  for (int i = 0; i < 20000; ++i) {
    uint8_t bytes[40];
    bool want = true;
    for (uint8_t& b : bytes) {
      static const uint8_t kValid[6] = {0x4, 0x8, 0x9, 0xC, 0xD, 0xE};
      const auto nib = [&] {
        return rng.uniform() < 0.995 ? kValid[static_cast<int>(rng.uniform() * 6)]
                                     : static_cast<uint8_t>(rng.uniform() * 16);
      };
      b = static_cast<uint8_t>(nib() | (nib() << 4));
      want = want && sk::sp24_code_valid(b & 15u) && sk::sp24_code_valid(b >> 4);
    }
    CHECK(sk::sp24_bytes_valid(bytes, 40) == want, "random run %d", i);
  }
}

SK_TEST(sp24_panels_first_bad_everywhere) {
  for (int64_t groups : {1, 2, 3, 17}) {
    const int64_t panels = 3;
    std::vector<uint8_t> meta(static_cast<size_t>(4 * panels * groups), 0x44);
    int64_t row = -1, group = -1;
    CHECK(!sk::sp24_panels_first_bad(meta.data(), 0, panels, groups, &row, &group), "groups %lld valid",
          static_cast<long long>(groups));
    for (int64_t r = 0; r < 8 * panels; r += 3)
      for (int64_t g = 0; g < groups; g += (groups > 3 ? 5 : 1)) {
        std::vector<uint8_t> bad = meta;
        uint8_t& b = bad[4 * (r / 8 * groups + g) + r % 8 / 2];
        b = static_cast<uint8_t>((b & (r % 2 ? 0x0F : 0xF0)) | ((r % 2 ? 0x5 : 0x6) << (4 * (r % 2))));
        // a later bad code never wins over this one
        if (r + 1 < 8 * panels) bad[bad.size() - 1] = 0x00;
        const bool found = sk::sp24_panels_first_bad(bad.data(), 0, panels, groups, &row, &group);
        CHECK(found && row == r && group == g, "groups %lld bad at row %lld group %lld: got %lld %lld",
              static_cast<long long>(groups), static_cast<long long>(r), static_cast<long long>(g),
              static_cast<long long>(row), static_cast<long long>(group));
        // a range of panels that excludes it finds nothing there
        if (r / 8 > 0)
          CHECK(!sk::sp24_panels_first_bad(bad.data(), 0, r / 8, groups, &row, &group), "panels before row %lld",
                static_cast<long long>(r));
      }
  }
}

SK_TEST(sp24_prune_compress_decompress_round_trip) {
  sk::ThreadPool pool(3);
  Rng rng{9};
  for (sk_dtype t : {SK_F32, SK_F16, SK_BF16}) {
    const int64_t rows = 37, k = 44;
    const size_t es = sk_dtype_size(t);
    std::vector<uint8_t> dense(rows * k * es), pruned(rows * k * es), back(rows * k * es);
    std::vector<uint8_t> values(sk::sp24_value_count(rows, k) * es, 0xAB), meta(sk::sp24_meta_bytes(rows, k), 0xFF);
    for (auto& b : dense) b = static_cast<uint8_t>(rng.uniform() * 256);
    sk_sp24_params p{};
    p.op = SK_SP24_PRUNE, p.dtype = t, p.rows = rows, p.k = k, p.n_keep = 2, p.group = 4;
    p.dense_in = dense.data(), p.dense_out = pruned.data();
    CHECK(sk_cpu_sp24_run(p, pool) == SK_OK, "prune");
    p.op = SK_SP24_COMPRESS, p.dense_in = pruned.data(), p.values = values.data(), p.meta = meta.data();
    CHECK(sk_cpu_sp24_run(p, pool) == SK_OK, "compress %s", sk_dtype_name(t));
    int64_t row = -1, group = -1;
    CHECK(!sk::sp24_panels_first_bad(meta.data(), 0, sk::sp24_panels(rows), k / 4, &row, &group),
          "codes: row %lld group %lld", static_cast<long long>(row), static_cast<long long>(group));
    bool padding = true;  // rows 37..39 of the last panel: code 0x4, zero values
    for (int64_t r = rows; r < 40; ++r)
      for (int64_t g = 0; g < k / 4; ++g) {
        padding = padding && sk::sp24_code(meta.data(), r, g, k / 4) == 0x4;
        for (int j = 0; j < 2; ++j)
          for (size_t b = 0; b < es; ++b) padding = padding && values[sk::sp24_value_at(r, g, j, k / 4) * es + b] == 0;
      }
    CHECK(padding, "padding rows of %s", sk_dtype_name(t));
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
    CHECK(sk_cpu_sp24_run(p, pool) == SK_ERR_INVALID_ARGUMENT && p.bad_row == 20 && p.bad_group == 7,
          "first bad: row %lld group %lld", static_cast<long long>(p.bad_row), static_cast<long long>(p.bad_group));
    p.op = SK_SP24_COMPRESS, p.dense_in = pruned.data();  // the failed compress left its outputs half written
    CHECK(sk_cpu_sp24_run(p, pool) == SK_OK, "compress again");
    meta[4 * (3 * (k / 4) + 5) + 0] = 0xF4;  // group 5: row 24 valid (0x4), row 25 invalid (0xF)
    p.op = SK_SP24_DECOMPRESS;
    CHECK(sk_cpu_sp24_run(p, pool) == SK_ERR_INVALID_ARGUMENT && p.bad_row == 25 && p.bad_group == 5,
          "bad code: row %lld group %lld", static_cast<long long>(p.bad_row), static_cast<long long>(p.bad_group));
    p.op = SK_SP24_COMPRESS, p.dense_in = pruned.data();
    CHECK(sk_cpu_sp24_run(p, pool) == SK_OK, "compress once more");
    meta[4 * (4 * (k / 4) + 2) + 3] = 0x04;  // row 39 (padding), group 2: code 0 is invalid
    p.op = SK_SP24_DECOMPRESS;
    CHECK(sk_cpu_sp24_run(p, pool) == SK_ERR_INVALID_ARGUMENT && p.bad_row == 39 && p.bad_group == 2,
          "bad padding code: row %lld group %lld", static_cast<long long>(p.bad_row),
          static_cast<long long>(p.bad_group));
  }
}
