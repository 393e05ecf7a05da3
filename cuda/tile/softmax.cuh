// The online softmax (FlashAttention-2's rescale) on a warp's register tiles
// (fragment.cuh): scores in base 2, running max and sum per row.
#pragma once
#include <math.h>

#include "fragment.cuh"

namespace sk::cuda::tile {

// Folds the tile's scores s (base-2 logits, -inf where hidden) into the
// running row max m and this lane's part of the row sum l, rescales the output
// accumulator o by 2^(m_old - m_new), and leaves P = 2^(s - m_new) in s.
// A row with nothing visible yet keeps max -inf and is exponentiated against
// 0, which leaves its P, O and sum at zero.
template <int NS, int NO>
__device__ __forceinline__ void online_softmax(float (&s)[NS][4], float (&o)[NO][4], float (&m)[2], float (&l)[2]) {
#pragma unroll
  for (int r = 0; r < 2; ++r) {
    const float mx = row_max(s, r, m[r]);
    const float base = mx == -INFINITY ? 0.f : mx;
    const float alpha = exp2f(m[r] - base);
    m[r] = mx;
    l[r] *= alpha;
    mul_row(o, r, alpha);
    l[r] = exp2_row(s, r, base, l[r]);
  }
}

}  // namespace sk::cuda::tile
