// The 2:4 group code ("nibble") shared by every kernel that reads 2:4 weights:
// a group of 4 consecutive elements along K keeps two, at positions i0 < i1,
// coded as i0 | (i1 << 2). Valid codes: 0x4, 0x8, 0x9, 0xC, 0xD, 0xE (the
// same code sparse tensor-core `mma.sp` reads). Two groups per byte, the even
// group in the low nibble. Host/device clean (CPU and CUDA builds).
#pragma once
#include <stdint.h>
#include <string.h>

#include "hd.h"

namespace sk {

// Bit c is set for each valid code c.
constexpr uint32_t kSp24ValidCodes = (1u << 0x4) | (1u << 0x8) | (1u << 0x9) | (1u << 0xC) | (1u << 0xD) | (1u << 0xE);

SK_HD constexpr bool sp24_code_valid(uint32_t code) { return code < 16 && ((kSp24ValidCodes >> code) & 1u); }

// Lane j (0..3) of a meta byte: the position (0..7) among its 8 dense
// elements of the byte's j-th kept value.
SK_HD constexpr int sp24_lane(uint32_t byte, int j) {
  return j == 0 ? int(byte & 3u) : j == 1 ? int((byte >> 2) & 3u) : j == 2 ? 4 + int((byte >> 4) & 3u) : 4 + int((byte >> 6) & 3u);
}

// Nibbles of w (16 codes) that are invalid, as bit 2 of each nibble. SWAR:
// per nibble d = (i1 + 4) - i0 never borrows across nibbles (i1 + 4 >= 4 > i0),
// and i0 < i1 iff d >= 5, i.e. bit 2 set and bit 0 or 1 set.
SK_HD uint64_t sp24_bad_nibbles(uint64_t w) {
  constexpr uint64_t k3 = 0x3333333333333333ull, k4 = 0x4444444444444444ull, k1 = 0x1111111111111111ull;
  const uint64_t d = (((w >> 2) & k3) | k4) - (w & k3);
  return ~(d & (((d | (d >> 1)) & k1) << 2)) & k4;
}

// Whether every code byte in [0, bytes) holds two valid codes: 64-bit words
// with an OR reduction, which compilers vectorize (the check runs before
// every kernel that reads codes, so it must cost little next to them).
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

// The codes of one row of meta: ceil(groups / 2) bytes, every nibble valid,
// and the padding nibble (high half of the last byte when groups is odd) 0.
// Returns the first bad group, or -1.
SK_HD int64_t sp24_row_first_bad(const uint8_t* meta, int64_t groups) {
  const int64_t full = groups / 2;
  if (sp24_bytes_valid(meta, full)) {
    if (groups % 2 == 0) return -1;
    if (!sp24_code_valid(meta[full] & 15u)) return groups - 1;
    return meta[full] >> 4 ? groups : -1;  // the padding nibble
  }
  for (int64_t b = 0; b < full; ++b) {  // rare: find which
    if (!sp24_code_valid(meta[b] & 15u)) return 2 * b;
    if (!sp24_code_valid(meta[b] >> 4)) return 2 * b + 1;
  }
  return -1;  // unreachable: sp24_bytes_valid found a bad byte
}

}  // namespace sk
