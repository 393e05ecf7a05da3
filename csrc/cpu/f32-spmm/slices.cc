// sk_spmm_build_slices (spmm.h): the packed arrays re-cut by input-channel slices.
#include <algorithm>

#include "spmm.h"

void sk_spmm_build_slices(const sk_spmm_params& p, int64_t kc, sk_spmm_slices* out) {
  sk_spmm_slices& s = *out;
  s.kc = kc;
  s.stride = sk_spmm_input_stride(p);
  s.count = std::max<int64_t>(1, (p.k + kc - 1) / kc);
  const int64_t groups = p.groups, full = p.n / p.nr;
  s.nnzmap.assign(static_cast<size_t>(s.count * groups), 0);
  for (int64_t g = 0; g < groups; ++g)
    for (int64_t b = p.group_blocks[g]; b < p.group_blocks[g + 1]; ++b) ++s.nnzmap[p.cols[b] / kc * groups + g];
  s.group_blocks.resize(static_cast<size_t>(s.count * (groups + 1)));
  s.group_values.resize(static_cast<size_t>(s.count * (groups + 1)));
  int64_t b = 0, v = 0;
  for (int64_t sl = 0; sl < s.count; ++sl) {
    int64_t* gb = s.group_blocks.data() + sl * (groups + 1);
    int64_t* gv = s.group_values.data() + sl * (groups + 1);
    for (int64_t g = 0; g < groups; ++g) {
      gb[g] = b, gv[g] = v;
      const int64_t count = s.nnzmap[sl * groups + g];
      b += count, v += count * (g < full ? p.nr : 1);
    }
    gb[groups] = b, gv[groups] = v;
  }
  s.cols.resize(static_cast<size_t>(b));
  s.values.resize(static_cast<size_t>(v));
  for (int64_t g = 0; g < groups; ++g) {
    const int32_t width = g < full ? p.nr : 1;
    int64_t src_b = p.group_blocks[g];
    const float* src_v = p.values + p.group_values[g];
    for (int64_t sl = 0; sl < s.count; ++sl) {
      const int64_t count = s.nnzmap[sl * groups + g];
      std::copy(p.cols + src_b, p.cols + src_b + count, s.cols.begin() + s.group_blocks[sl * (groups + 1) + g]);
      std::copy(src_v, src_v + count * width, s.values.begin() + s.group_values[sl * (groups + 1) + g]);
      src_b += count, src_v += count * width;
    }
  }
  s.dmap.resize(static_cast<size_t>(b));
  sk_spmm_build_dmap(s.cols.data(), b, p.k, s.stride, s.dmap.data());
}
