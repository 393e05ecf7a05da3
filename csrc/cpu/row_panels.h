// Row panels: the transposed copy of x that row-vectorised kernels read
// (SpMM linear layers, the 2:4 SpMM path). Panel j holds rows
// [j·pw, j·pw + pw) of x [m, k] as [k][pw]: element (row i, channel c) at
// panel[c·pw + i - j·pw], so one load reads a channel of W consecutive rows.
#pragma once
#include <stdint.h>
#include <string.h>

namespace sk {

// Channels [c0, c1) of `rows` rows starting at x (row stride k) into panel
// ([k][pw]); with zero_pad the panel's rows past `rows` are zeroed, for
// kernels that always run whole panels.
inline void to_row_panel(const float* x, int64_t k, int64_t rows, int64_t c0, int64_t c1, int64_t pw, float* panel,
                         bool zero_pad) {
  for (int64_t r = 0; r < rows; ++r) {
    const float* src = x + r * k;
    for (int64_t c = c0; c < c1; ++c) panel[c * pw + r] = src[c];
  }
  if (zero_pad && rows < pw)
    for (int64_t c = c0; c < c1; ++c) memset(panel + c * pw + rows, 0, static_cast<size_t>(pw - rows) * sizeof(float));
}

// Output channels [c0, c1) of panel y ([channels][pw], channel c at y[c·pw])
// back to `rows` rows of out (row stride n).
inline void from_row_panel(const float* y, int64_t rows, int64_t c0, int64_t c1, int64_t pw, float* out, int64_t n) {
  for (int64_t r = 0; r < rows; ++r) {
    float* dst = out + r * n;
    for (int64_t c = c0; c < c1; ++c) dst[c] = y[c * pw + r];
  }
}

}  // namespace sk
