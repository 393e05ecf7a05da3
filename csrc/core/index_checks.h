// The checks index arrays from JS pass before a kernel reads them, without
// N-API: the CPU binding runs them on its own copies of the arrays (so JS
// cannot change an index between the check and the kernel), and the native
// fuzz target (test/native/fuzz/) calls them directly, then runs the kernels
// on whatever they accept.
#pragma once
#include <stdint.h>

#include <string>

namespace sk {

// A block mask's index lists, `rows` rows of n_kv_blocks (nkb) entries: per
// row num in [0, nkb], the first num indices in [0, nkb) and strictly
// increasing, and no key block both full and partial (it would be computed
// twice). Returns "" when valid, else the message of the first problem.
inline std::string mask_lists_error(const int32_t* full_num, const int32_t* full_idx, const int32_t* partial_num,
                                    const int32_t* partial_idx, int64_t rows, int64_t nkb) {
  const auto n = [](int64_t v) { return std::to_string(v); };
  const int32_t* nums[2] = {full_num, partial_num};
  const int32_t* idxs[2] = {full_idx, partial_idx};
  const char* what[2] = {"full", "partial"};
  for (int l = 0; l < 2; ++l)
    for (int64_t row = 0; row < rows; ++row) {
      const int32_t count = nums[l][row];
      if (count < 0 || count > nkb)
        return std::string("Expected mask.") + what[l] + "Num[" + n(row) + "] between 0 and " + n(nkb) +
               " but received " + n(count);
      const int32_t* idx = idxs[l] + row * nkb;
      for (int32_t i = 0; i < count; ++i)
        if (idx[i] < 0 || idx[i] >= nkb || (i > 0 && idx[i] <= idx[i - 1]))
          return "Expected increasing key-block indices in [0, " + n(nkb) + ") in mask." + what[l] + "Idx row " +
                 n(row) + " but received " + n(idx[i]) + " at " + n(i);
    }
  for (int64_t row = 0; row < rows; ++row) {
    const int32_t* f = full_idx + row * nkb;
    const int32_t* q = partial_idx + row * nkb;
    for (int32_t a = 0, b = 0; a < full_num[row] && b < partial_num[row];) {
      if (f[a] == q[b])
        return "Expected disjoint full and partial blocks but mask row " + n(row) + " lists key block " + n(f[a]) +
               " in both";
      f[a] < q[b] ? ++a : ++b;
    }
  }
  return "";
}

// The position of the first of `count` indices outside [0, limit), or -1.
inline int64_t first_index_outside(const int32_t* idx, int64_t count, int64_t limit) {
  for (int64_t i = 0; i < count; ++i)
    if (idx[i] < 0 || idx[i] >= limit) return i;
  return -1;
}

}  // namespace sk
