// Quest's page bounds (sk_quest_score_fn) over the pages' metadata, written
// once over a traits type T like the decode task loop. Included by
// f32-decode-impl.h inside an ISA's namespace, after page-read.h (so it
// includes nothing itself).
#pragma once

// Quest's page bounds of j.count pages × KV heads [j.g0, j.g0 + j.gn) (sk_quest_score_fn), kQuestPairs
// (page, head) pairs at a time, each with its own accumulator: one pair's sum is a chain of dependent FMAs,
// and several in flight keep the FMA units busy. Each pair's sum is formed in the same order as it would be
// alone (lanes over the channels, then the lanes in order). The metadata of the pages kQuestAhead ahead is
// prefetched: a page's block is one head's few lines or every head's, read once.
constexpr int kQuestPairs = 8;
constexpr int64_t kQuestAhead = 4;

template <class T, int kType>
static void quest_pages(const sk_quest_score_job& j) {
  using V = typename T::V;
  constexpr int W = T::W;
  const sk_kv_pages& c = *j.cache;
  const int64_t dims = c.head_dim, gn = j.gn;
  const KvPageLayout lay = kv_page_layout(elem_bytes<kType>(), c.kv_heads, dims, c.page_size);
  const int64_t first = (lay.meta + j.g0 * lay.meta_head) & ~int64_t{63}, last = lay.meta + (j.g0 + gn) * lay.meta_head;
  int64_t ahead = 0;         // pages prefetched
  int64_t pg = 0, g = j.g0;  // the batch's first pair
  while (pg < j.count) {
    for (const int64_t want = std::min(j.count, pg + kQuestPairs / gn + 1 + kQuestAhead); ahead < want; ++ahead) {
      __builtin_prefetch(j.meta[ahead] + lay.scales, 0, kAheadLocality);
      for (int64_t at = first; at < last; at += 64) __builtin_prefetch(j.meta[ahead] + at, 0, kAheadLocality);
    }
    const uint8_t* lo[kQuestPairs];
    const float* pos[kQuestPairs];
    float* out[kQuestPairs];
    const float* kscale[kQuestPairs];
    int pairs = 0;
    for (; pairs < kQuestPairs && pg < j.count; ++pairs) {
      lo[pairs] = j.meta[pg] + lay.meta + g * lay.meta_head;
      pos[pairs] = j.bounds + g * 2 * dims;
      out[pairs] = j.score + pg * j.ld + (g - j.g0);
      kscale[pairs] = reinterpret_cast<const float*>(j.meta[pg] + lay.scales) + g;
      if (++g == j.g0 + gn) g = j.g0, ++pg;
    }
    for (int q = pairs; q < kQuestPairs; ++q) lo[q] = lo[pairs - 1], pos[q] = pos[pairs - 1];  // not stored
    V acc[kQuestPairs];
#pragma GCC unroll 8
    for (int q = 0; q < kQuestPairs; ++q) acc[q] = T::set1(0.0f);
    for (int64_t d = 0; d < dims; d += W)
#pragma GCC unroll 8
      for (int q = 0; q < kQuestPairs; ++q)
        acc[q] = T::fma(T::load(pos[q] + d), widen<T, kType>(lo[q] + lay.meta_head / 2, d),
                        T::fma(T::load(pos[q] + dims + d), widen<T, kType>(lo[q], d), acc[q]));
    for (int q = 0; q < pairs; ++q) *out[q] = hsum<T>(acc[q]) * *kscale[q] * widen_factor<kType>();
  }
}

template <class T>
static void quest_any(const sk_quest_score_job& j) {
  switch (j.cache->type) {
    case SK_F32: return quest_pages<T, SK_F32>(j);
    case SK_F16: return quest_pages<T, SK_F16>(j);
    case SK_BF16: return quest_pages<T, SK_BF16>(j);
    default: return quest_pages<T, SK_F8E4M3FN>(j);
  }
}
