// How the decode kernel reads pages: W elements of a page type widened to
// float32 lanes (one vector, or a pair), and the paced prefetch of the pages
// ahead. Included by f32-decode-impl.h inside an ISA's namespace, after
// csrc/cpu/widen.h, in a translation unit built with that ISA's flags (so
// it includes nothing itself).
#pragma once

// FP8 pages read with Widen::e4m3_2m120 (a page type of the tiles, not an
// sk_dtype): cheaper than e4m3_256, for groups whose page scales times 2^120
// stay finite (decode_task picks per group).
constexpr int kF8Exp = 256;

// W elements of the page type at element offset i of base, as float32 lanes.
template <class T, int kType>
static inline typename T::V widen(const uint8_t* base, int64_t i) {
  if constexpr (kType == kF8Exp)
    return Widen::e4m3_2m120(base + i);
  else if constexpr (kType == SK_F32)
    return Widen::f32(reinterpret_cast<const float*>(base) + i);
  else if constexpr (kType == SK_F16)
    return Widen::f16(reinterpret_cast<const uint16_t*>(base) + i);
  else if constexpr (kType == SK_BF16)
    return Widen::bf16(reinterpret_cast<const uint16_t*>(base) + i);
  else
    return Widen::e4m3_256(base + i);
}

// What a widened element is to be multiplied by (FP8: Widen's 1/256 or 2^-120 undone with the page scale).
template <int kType>
constexpr float widen_factor() {
  return kType == SK_F8E4M3FN ? kE4m3Widen256 : kType == kF8Exp ? kE4m3Widen2p120 : 1.0f;
}

template <int kType>
constexpr int64_t elem_bytes() {
  return kType == SK_F32 ? 4 : kType == SK_F8E4M3FN || kType == kF8Exp ? 1 : 2;
}

// Pages are read into the cache ahead of the group being computed, a few
// lines per step of the tiles' loops: a burst of prefetches stalls the tiles
// while the misses drain, and the hardware's stream prefetchers restart at
// every 4 KiB page, so paced prefetches are what keep memory busy while the
// FMAs run. The cursor leads by kAheadGroups groups and fills L2 only
// (locality 1: prefetcht2): a group's blocks about fill L1, and lines fetched
// into L1 that far ahead evict the ones the tiles are reading.
// A step every kStepEvery iterations of a tile's loop keeps its cost small
// beside 8 FMAs (a 4 × 2 AVX2 tile).
constexpr int64_t kAheadGroups = 2;
constexpr int kAheadLocality = 1;
constexpr int64_t kStepEvery = 2;

struct PageAhead {
  const uint8_t* const* kv;            // every page's block (K, then V: lay.kv_bytes)
  const uint8_t* const* meta;          // every page's metadata block (its scales lead it)
  int64_t bytes;                       // of a block
  int64_t next = 0, end = 0, off = 0;  // the next line: page `next`, byte `off`; pages below `end` may be read
  int64_t rate = 0;                    // lines per step
  // Inlined: a call per step of the tiles' loops costs as much as the step (GCC gives up inlining it once the
  // task holds FP8's two page readings).
  __attribute__((always_inline)) void step() {
    if (next >= end) return;
    const uint8_t* at = kv[next] + off;
    for (int64_t i = 0; i < rate; ++i) __builtin_prefetch(at + 64 * i, 0, kAheadLocality);
    off += 64 * rate;
    if (off >= bytes) {  // the block's last lines may be fetched with the bytes after it: harmless
      __builtin_prefetch(meta[next], 0, kAheadLocality);
      off = 0, ++next;
    }
  }
};

// Two vectors of W elements each, the first at p0 and the second at p1 (kSplit;
// else right after the first), in the lane order of Widen::bf16x2 for
// bfloat16 (in_order puts results back) and in order for the other types.
template <class T, int kType, bool kSplit>
static inline void widen2(const uint8_t* p0, const uint8_t* p1, typename T::V& a, typename T::V& b) {
  if constexpr (kType == SK_BF16) {
    if constexpr (kSplit)
      Widen::bf16x2(reinterpret_cast<const uint16_t*>(p0), reinterpret_cast<const uint16_t*>(p1), a, b);
    else
      Widen::bf16x2(reinterpret_cast<const uint16_t*>(p0), a, b);
  } else {
    a = widen<T, kType>(p0, 0);
    b = widen<T, kType>(kSplit ? p1 : p0 + T::W * elem_bytes<kType>(), 0);
  }
}

template <class T, int kType>
static inline void in_order(typename T::V& a, typename T::V& b) {
  if constexpr (kType == SK_BF16) {
    typename T::V lo, hi;
    Widen::interleave(a, b, lo, hi);
    a = lo, b = hi;
  }
}
