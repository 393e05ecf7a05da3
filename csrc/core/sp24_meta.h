// The 2:4 group code ("nibble") shared by every kernel that reads 2:4 weights:
// a group of 4 consecutive elements along K keeps two, at positions i0 < i1,
// coded as i0 | (i1 << 2). Valid codes: 0x4, 0x8, 0x9, 0xC, 0xD, 0xE (the
// same code sparse tensor-core `mma.sp` reads). Host/device clean (CPU and
// CUDA builds).
#pragma once
#include <stdint.h>
#include <string.h>

#include "hd.h"

namespace sk {

// Bit c is set for each valid code c.
constexpr uint32_t kSp24ValidCodes = (1u << 0x4) | (1u << 0x8) | (1u << 0x9) | (1u << 0xC) | (1u << 0xD) | (1u << 0xE);

SK_HD constexpr bool sp24_code_valid(uint32_t code) { return code < 16 && ((kSp24ValidCodes >> code) & 1u); }

// Nibbles of w (16 codes) that are invalid, as bit 2 of each nibble. SWAR:
// per nibble d = (i1 + 4) - i0 never borrows across nibbles (i1 + 4 >= 4 > i0),
// and i0 < i1 iff d >= 5, i.e. bit 2 set and bit 0 or 1 set.
SK_HD uint64_t sp24_bad_nibbles(uint64_t w) {
  constexpr uint64_t k3 = 0x3333333333333333ull, k4 = 0x4444444444444444ull, k1 = 0x1111111111111111ull;
  const uint64_t d = (((w >> 2) & k3) | k4) - (w & k3);
  return ~(d & (((d | (d >> 1)) & k1) << 2)) & k4;
}

// Whether every code byte in [0, bytes) holds two valid codes: 64-bit words
// with an OR reduction, which compilers vectorize (the check runs before the
// many-row kernels and toDense, so it must cost little next to them; the
// decode kernel checks its words as it streams them instead).
SK_HD bool sp24_bytes_valid(const uint8_t* meta, int64_t bytes) {
  uint64_t bad = 0;
  int64_t b = 0;
  for (; b + 8 <= bytes; b += 8) {
    uint64_t w;
    memcpy(&w, meta + b, 8);  // byte order does not matter: every nibble is checked alike
    bad |= sp24_bad_nibbles(w);
  }
  for (; b < bytes; ++b) bad |= sp24_bad_nibbles(0x4444444444444400ull | meta[b]);
  return bad == 0;
}

// The CPU 2:4 layout (docs/formats.md, "2:4 weights on the CPU"): weight
// rows in panels of 8, so that one 8-lane vector holds the same kept slot of 8
// rows and one 32-bit word holds the 8 rows' codes of a group.
//   values [panels][groups][2][8]: (row, group, slot) at sp24_value_at(...)
//   meta   [panels][groups] little-endian uint32 words (4 bytes each): the
//          code of row 8p + r in bits 4r..4r+3 of word (p, group)
// Rows past N in the last panel hold code 0x4 and zero values.
constexpr int64_t kSp24PanelRows = 8;

SK_HD constexpr int64_t sp24_panels(int64_t n) { return (n + kSp24PanelRows - 1) / kSp24PanelRows; }
// Elements of values (and bytes of meta: 4 per word) for n rows of k: padded rows included.
SK_HD constexpr int64_t sp24_value_count(int64_t n, int64_t k) { return sp24_panels(n) * kSp24PanelRows * (k / 4) * 2; }
SK_HD constexpr int64_t sp24_meta_bytes(int64_t n, int64_t k) { return sp24_panels(n) * (k / 4) * 4; }

SK_HD constexpr int64_t sp24_value_at(int64_t row, int64_t group, int slot, int64_t groups) {
  return ((row / kSp24PanelRows * groups + group) * 2 + slot) * kSp24PanelRows + row % kSp24PanelRows;
}

SK_HD uint32_t sp24_word(const uint8_t* meta, int64_t panel, int64_t group, int64_t groups) {
  uint32_t w;
  memcpy(&w, meta + 4 * (panel * groups + group), 4);
  return w;
}

SK_HD uint32_t sp24_code(const uint8_t* meta, int64_t row, int64_t group, int64_t groups) {
  return (sp24_word(meta, row / kSp24PanelRows, group, groups) >> (4 * (row % kSp24PanelRows))) & 15u;
}

// Writes row's code for group (the other rows' nibbles of the word stay).
SK_HD void sp24_set_code(uint8_t* meta, int64_t row, int64_t group, int64_t groups, uint32_t code) {
  const int64_t r = row % kSp24PanelRows;
  uint8_t& b = meta[4 * (row / kSp24PanelRows * groups + group) + r / 2];
  const uint32_t shift = 4 * static_cast<uint32_t>(r % 2);
  b = static_cast<uint8_t>((b & ~(15u << shift)) | ((code & 15u) << shift));
}

// The first invalid code of panels [p0, p1) (lowest row, then lowest group;
// padding rows count, as rows 8p + r ≥ N), as *row / *group; false if none.
// The fast check is one pass of sp24_bytes_valid over the panels' words.
SK_HD bool sp24_panels_first_bad(const uint8_t* meta, int64_t p0, int64_t p1, int64_t groups, int64_t* row,
                                 int64_t* group) {
  if (sp24_bytes_valid(meta + 4 * p0 * groups, 4 * (p1 - p0) * groups)) return false;
  for (int64_t r = p0 * kSp24PanelRows; r < p1 * kSp24PanelRows; ++r)  // rare: find which
    for (int64_t g = 0; g < groups; ++g)
      if (!sp24_code_valid(sp24_code(meta, r, g, groups))) {
        *row = r, *group = g;
        return true;
      }
  return false;  // unreachable: sp24_bytes_valid found a bad nibble
}

}  // namespace sk
