// Analysis, packing and checking of CSR sparse weights (spmm.h).
#include <math.h>
#include <stdio.h>
#include <string.h>

#include <algorithm>
#include <new>
#include <vector>

#include "../../core/heuristics.h"
#include "spmm.h"

namespace {

constexpr int32_t kBlockSizes[3] = {1, 2, 4};

inline bool nonzero(float v) { return v != 0.0f; }  // NaN is stored (NaN != 0), -0.0 is not

// Channel of group g's first row.
inline int64_t group_channel(int64_t g, int64_t n, int32_t nr) {
  const int64_t full = n / nr;
  return g < full ? g * nr : full * nr + (g - full);
}

}  // namespace

sk_spmm_analysis sk_spmm_analyze(const float* w, int64_t n, int64_t k) {
  sk_spmm_analysis a{};
  for (int64_t r = 0; r < n; ++r)
    for (int64_t c = 0; c < k; ++c) a.nnz += nonzero(w[r * k + c]);
  for (int i = 0; i < 3; ++i) {
    const int32_t nr = kBlockSizes[i];
    const int64_t full = n / nr;
    for (int64_t g = 0; g < full; ++g)
      for (int64_t c = 0; c < k; ++c) {
        int in_block = 0;
        for (int32_t j = 0; j < nr; ++j) in_block += nonzero(w[(g * nr + j) * k + c]);
        a.full_nnz[i] += in_block;
        a.full_blocks[i] += in_block != 0;
      }
    const int64_t rem_blocks = a.nnz - a.full_nnz[i];  // the remainder channels store each non-zero alone
    a.blocks[i] = a.full_blocks[i] + rem_blocks;
    a.values[i] = a.full_blocks[i] * nr + rem_blocks;
  }
  return a;
}

int32_t sk_spmm_choose_nr(const sk_spmm_analysis& a) {
  if (a.full_blocks[2] > 0 && sk::spmm_block_fill_ok(a.full_nnz[2], a.full_blocks[2] * 4)) return 4;
  if (a.full_blocks[1] > 0 && sk::spmm_block_fill_ok(a.full_nnz[1], a.full_blocks[1] * 2)) return 2;
  return 1;
}

bool sk_spmm_pack(const float* w, int64_t n, int64_t k, int32_t nr, uint32_t* nnzmap, int32_t* cols, int64_t blocks,
                  float* values, int64_t values_count) {
  const int64_t groups = sk_spmm_groups(n, nr), full = n / nr;
  const int32_t* cols_end = cols + blocks;
  const float* values_end = values + values_count;
  for (int64_t g = 0; g < groups; ++g) {
    const int32_t width = g < full ? nr : 1;
    const float* rows = w + group_channel(g, n, nr) * k;
    uint32_t count = 0;
    for (int64_t c = 0; c < k; ++c) {
      bool any = false;
      for (int32_t j = 0; j < width; ++j) any |= nonzero(rows[j * k + c]);
      if (!any) continue;
      if (cols == cols_end || values_end - values < width) return false;
      *cols++ = static_cast<int32_t>(c);
      for (int32_t j = 0; j < width; ++j) *values++ = rows[j * k + c];
      ++count;
    }
    *nnzmap++ = count;
  }
  return cols == cols_end && values == values_end;
}

sk_status sk_spmm_check(int64_t n, int64_t k, int32_t nr, const uint32_t* nnzmap, int64_t groups, const int32_t* cols,
                        int64_t blocks, int64_t values, int64_t* group_blocks, int64_t* group_values, char* why) {
  if (nr != 1 && nr != 2 && nr != 4) {
    snprintf(why, 256, "Expected a block size of 1, 2 or 4 but received %d", nr);
    return SK_ERR_INVALID_ARGUMENT;
  }
  if (groups != sk_spmm_groups(n, nr)) {
    snprintf(why, 256, "Expected %lld entries in nnzmap for %lld channels in blocks of %d but received %lld",
             static_cast<long long>(sk_spmm_groups(n, nr)), static_cast<long long>(n), nr,
             static_cast<long long>(groups));
    return SK_ERR_SHAPE;
  }
  const int64_t full = n / nr;
  int64_t b = 0, v = 0;
  for (int64_t g = 0; g < groups; ++g) {
    group_blocks[g] = b, group_values[g] = v;
    const int64_t count = nnzmap[g];
    if (count > k || count > blocks - b) {
      snprintf(why, 256,
               "Expected nnzmap[%lld] between 0 and %lld (columns, and blocks left in cols) but received %lld",
               static_cast<long long>(g), static_cast<long long>(k < blocks - b ? k : blocks - b),
               static_cast<long long>(static_cast<int32_t>(nnzmap[g])));
      return SK_ERR_INVALID_ARGUMENT;
    }
    for (int64_t i = b; i < b + count; ++i)
      if (cols[i] < 0 || cols[i] >= k || (i > b && cols[i] <= cols[i - 1])) {
        snprintf(why, 256,
                 "Expected increasing input channels in [0, %lld) in cols of group %lld but received %d at %lld",
                 static_cast<long long>(k), static_cast<long long>(g), cols[i], static_cast<long long>(i));
        return SK_ERR_INVALID_ARGUMENT;
      }
    b += count;
    v += count * (g < full ? nr : 1);
  }
  group_blocks[groups] = b, group_values[groups] = v;
  if (b != blocks || v != values) {
    snprintf(why, 256, "Expected %lld columns and %lld values for the counts in nnzmap but received %lld and %lld",
             static_cast<long long>(b), static_cast<long long>(v), static_cast<long long>(blocks),
             static_cast<long long>(values));
    return SK_ERR_SHAPE;
  }
  return SK_OK;
}

int64_t sk_spmm_input_stride(const sk_spmm_params& p) {
  return p.layout == SK_SPMM_CHANNELS ? sk::spmm_channel_stride(p.m) : sk::spmm_panel_rows();
}

bool sk_spmm_uses_spmv(const sk_spmm_params& p) { return p.layout == SK_SPMM_ROWS && p.m <= sk::spmm_max_spmv_rows(); }

int64_t sk_spmm_slice_width(const sk_spmm_params& p) { return sk::spmm_k_slice(p.group_values[p.groups], p.n, p.k); }

bool sk_spmm_uses_slices(const sk_spmm_params& p) { return !sk_spmm_uses_spmv(p) && p.k > sk_spmm_slice_width(p); }

bool sk_spmm_build_dmap(const int32_t* cols, int64_t blocks, int64_t k, int64_t stride, int32_t* dmap) {
  if (k > 0 && stride > 0 && (k - 1) > INT32_MAX / stride) return false;
  for (int64_t i = 0; i + 1 < blocks; ++i) dmap[i] = static_cast<int32_t>((cols[i + 1] - cols[i]) * stride);
  if (blocks > 0) dmap[blocks - 1] = 0;
  return true;
}

bool sk_spmm_prune_magnitude(const float* w, int64_t length, int64_t count, float* out) {
  std::copy_n(w, length, out);  // not memcpy: an empty weight's pointers are null, which memcpy may not take
  if (count <= 0) return true;
  std::vector<float> mags;
  try {
    mags.resize(static_cast<size_t>(length));
  } catch (const std::bad_alloc&) {
    return false;
  }
  for (int64_t i = 0; i < length; ++i) {
    const float m = fabsf(w[i]);
    mags[i] = m == m ? m : INFINITY;  // NaN above every number: never the threshold's side
  }
  std::nth_element(mags.begin(), mags.begin() + (count - 1), mags.end());
  const float threshold = mags[count - 1];
  int64_t left = count;
  for (int64_t i = 0; i < length; ++i)
    if (fabsf(out[i]) < threshold) out[i] = 0.0f, --left;
  for (int64_t i = 0; i < length && left > 0; ++i)
    if (fabsf(out[i]) == threshold) out[i] = 0.0f, --left;
  return true;
}
