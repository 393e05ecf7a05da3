// The key walk (csrc/core/kv_walk.h) the CPU flash loops and the CUDA kernel
// share, against a brute-force oracle written here: for random block lists,
// causal settings and tile sizes, the tiles visit exactly the keys of the
// listed blocks up to the causal end, in the walk's order (full blocks, then
// partial, each increasing), never cross a block, hold 1..tile keys, and
// carry the right token tests.
#include <stdint.h>

#include <algorithm>
#include <vector>

#include "../../csrc/core/kv_walk.h"
#include "check.h"
#include "helpers.h"

namespace {

struct Expect {
  int64_t key;
  int64_t block;  // -1 dense
  bool partial;
};

// Every key the walk must visit, in order.
std::vector<Expect> oracle(bool dense, const std::vector<int32_t>& full, const std::vector<int32_t>& part,
                           int64_t kv_block, int64_t seq_kv, int64_t key_end) {
  std::vector<Expect> keys;
  if (dense) {
    for (int64_t j = 0; j < std::min(seq_kv, key_end); ++j) keys.push_back({j, -1, false});
    return keys;
  }
  for (int pass = 0; pass < 2; ++pass)
    for (int32_t kb : pass == 0 ? full : part)
      for (int64_t j = kb * kv_block; j < (kb + 1) * kv_block && j < seq_kv && j < key_end; ++j)
        keys.push_back({j, kb, pass == 1});
  return keys;
}

template <class Walk>
void check_walk(Walk walk, const std::vector<Expect>& want, int tile, bool has_rules, int64_t first_diag, bool causal,
                const char* what) {
  std::vector<Expect> got;
  int tiles = 0;
  for (sk::KvTile t; walk.step(t); ++tiles) {
    CHECK(t.count >= 1 && t.count <= tile, "%s: tile of %d keys (tile %d)", what, t.count, tile);
    const size_t at = got.size();
    for (int c = 0; c < t.count; ++c) got.push_back({t.start + c, 0, false});
    if (at + t.count > want.size() || at >= want.size()) continue;
    const Expect& first = want[at];
    const Expect& last = want[std::min(want.size(), at + t.count) - 1];
    CHECK(first.block == last.block, "%s: tile at key %lld crosses a block", what, static_cast<long long>(t.start));
    CHECK(t.rule_test == (first.partial && has_rules), "%s: rule_test at key %lld", what,
          static_cast<long long>(t.start));
    CHECK(t.causal_test == (causal && t.start + t.count - 1 > first_diag), "%s: causal_test at key %lld", what,
          static_cast<long long>(t.start));
  }
  CHECK(got.size() == want.size(), "%s: %zu keys visited, %zu expected (%d tiles)", what, got.size(), want.size(),
        tiles);
  for (size_t i = 0; i < std::min(got.size(), want.size()); ++i)
    if (got[i].key != want[i].key) {
      CHECK(false, "%s: key %zu is %lld, expected %lld", what, i, static_cast<long long>(got[i].key),
            static_cast<long long>(want[i].key));
      break;
    }
}

}  // namespace

SK_TEST(kv_walk_dense_and_block_rows_against_brute_force) {
  sktest::Rng rng{0x5eed};
  for (int trial = 0; trial < 400; ++trial) {
    const int64_t seq_kv = 1 + static_cast<int64_t>(rng.uniform() * 700),
                  seq_q = 1 + static_cast<int64_t>(rng.uniform() * 700);
    const int64_t kv_block = 16 * (1 + static_cast<int64_t>(rng.uniform() * 16));
    const int tile = trial % 3 == 0 ? 32 : trial % 3 == 1 ? 64 : 48;
    const bool causal = rng.uniform() < 0.5, dense = trial % 4 == 0, has_rules = rng.uniform() < 0.7;
    const int64_t row0 = static_cast<int64_t>(rng.uniform() * seq_q);
    const int64_t row_end = std::min(seq_q, row0 + 1 + static_cast<int64_t>(rng.uniform() * 80));
    const int64_t offset = seq_kv - seq_q;
    std::vector<int32_t> full, part;
    const int32_t nkb = static_cast<int32_t>((seq_kv + kv_block - 1) / kv_block);
    for (int32_t kb = 0; kb < nkb; ++kb) {
      const double r = rng.uniform();
      if (r < 0.35)
        full.push_back(kb);
      else if (r < 0.65)
        part.push_back(kb);
    }
    const std::vector<int32_t> counts = {static_cast<int32_t>(full.size()), static_cast<int32_t>(part.size())};
    const int64_t key_end = causal ? std::min(seq_kv, row_end + offset) : seq_kv;
    const std::vector<Expect> want = oracle(dense, full, part, kv_block, seq_kv, key_end);
    auto setup = [&](auto& w) {
      if (dense)
        w.dense(seq_kv);
      else
        w.row(counts.data(), full.data(), counts.data() + 1, part.data(), 0, 0, kv_block, has_rules);
      w.rows(row0, row_end, seq_kv, offset, causal);
    };
    sk::KvWalk<0> runtime;  // the CPU's: tile size at run time
    runtime.tile = tile;
    setup(runtime);
    check_walk(runtime, want, tile, has_rules && !dense, row0 + offset, causal, "runtime tile");
    if (tile == 64) {  // the CUDA kernel's: tile size fixed at compile time
      sk::KvWalk<64> fixed;
      setup(fixed);
      check_walk(fixed, want, 64, has_rules && !dense, row0 + offset, causal, "compile-time tile");
    }
  }
}

SK_TEST(kv_walk_rows_that_see_no_key) {
  // Sq > Skv with causal: the first rows' diagonal is below key 0.
  sk::KvWalk<0> w;
  w.tile = 64;
  w.dense(40);
  w.rows(0, 64, 40, 40 - 150, true);
  sk::KvTile t;
  CHECK(!w.step(t), "a query tile whose last row sees no key visits no tile");
  const int32_t full[] = {0, 1}, counts[] = {2, 0};
  sk::KvWalk<64> b;
  b.row(counts, full, counts + 1, nullptr, 0, 0, 32, true);
  b.rows(10, 20, 64, -30, true);
  CHECK(!b.step(t), "a block row cut to nothing by causality visits no tile");
}
