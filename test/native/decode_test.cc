// Native tests of the paged KV cache and decode kernels on every kernel set
// this CPU runs (and NEON under qemu): the widening loads bit for bit against
// the scalar decoders, the FP8 page-scale rule, the pool, the append path
// (pages read back byte by byte, the scale growing), and each ISA's decode
// against a double reference over the values read back from the pages.
#include <math.h>
#include <string.h>

#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include "../../csrc/core/cast_math.h"
#include "../../csrc/core/decode.h"
#include "../../csrc/core/kv_pages.h"
#include "../../csrc/core/threadpool.h"
#include "../../csrc/cpu/dispatch.h"
#include "../../csrc/cpu/f32-decode/f32-decode.h"
#include "check.h"
#include "helpers.h"

namespace {

using sk::ScalarLanes;

float value_of(sk_dtype t, const uint8_t* p, int64_t i) {
  switch (t) {
    case SK_F32: return reinterpret_cast<const float*>(p)[i];
    case SK_F16: return ScalarLanes::flt(sk::f16_to_f32<ScalarLanes>(reinterpret_cast<const uint16_t*>(p)[i]));
    case SK_BF16: return ScalarLanes::flt(sk::bf16_to_f32<ScalarLanes>(reinterpret_cast<const uint16_t*>(p)[i]));
    default: return ScalarLanes::flt(sk::e4m3fn_to_f32<ScalarLanes>(p[i]));
  }
}

struct Widen {
  const char* name;
  sk_isa isa;
  void (*fn)(sk_dtype, const void*, size_t, float*);
};

std::vector<Widen> widen_kernels() {
  std::vector<Widen> out;
#define SK_DECODE_UKERNEL(isa, smr, snv, pmr, pdv) out.push_back({#isa, SK_ISA_##isa##_ID, sk_widen_ukernel__##isa});
#define SK_ISA_scalar_ID SK_ISA_SCALAR
#define SK_ISA_avx2_ID SK_ISA_AVX2
#define SK_ISA_avx512_ID SK_ISA_AVX512
#define SK_ISA_neon_ID SK_ISA_NEON
#include "../../csrc/cpu/f32-decode/decode.inc"
#undef SK_DECODE_UKERNEL
  return out;
}

// A cache of one sequence built by the append path of one ISA, its pages
// readable back, with a thread pool and the ISA's kernels.
struct Cache {
  sk::KvConfig c;
  std::shared_ptr<sk::KvPages> pages;
  sk_isa isa;
  Cache(sk_dtype type, int64_t heads, int64_t dims, int64_t page, sk_isa isa_, int64_t max_pages = 1 << 20)
      : c{type, 1, heads, dims, page, max_pages}, isa(isa_) {
    pages = std::make_shared<sk::KvPages>(c, [](size_t bytes) {
      auto* p = static_cast<uint8_t*>(calloc(1, bytes));
      return sk::KvPages::Slab(p, [](uint8_t* q) { free(q); });
    });
  }
  // Appends n tokens of k, v ([heads][n][dims] float32).
  void append(const std::vector<float>& k, const std::vector<float>& v, int64_t n, sk::ThreadPool& pool) {
    const int64_t start = pages->lengths()[0], count = n;
    std::string why;
    CHECK(pages->append(&count, &why) == SK_OK, "append: %s", why.c_str());
    int64_t stride;
    std::vector<uint8_t*> kv, meta;
    pages->tables(&kv, &meta, &stride);
    sk_kv_append_params p{};
    p.k = k.data(), p.v = v.data(), p.in_type = SK_F32, p.batch = 1, p.seq = n;
    p.k_stride_b = p.v_stride_b = c.kv_heads * n * c.head_dim;
    p.k_stride_h = p.v_stride_h = n * c.head_dim;
    p.k_stride_s = p.v_stride_s = c.head_dim;
    p.start = &start, p.count = &count, p.cache = pages->view(kv, meta, stride);
    CHECK(sk_cpu_kv_append_run(p, sk_cpu_cast_pick(sk_cast_params{nullptr, nullptr, 0, SK_F32, c.type, true}, isa).fn,
                               pool) == SK_OK,
          "append run");
  }
  // The stored key / value of token j, channel d, KV head g, and the page's K scale.
  float stored(bool key, int64_t g, int64_t j, int64_t d) const {
    int64_t stride;
    std::vector<uint8_t*> kv, meta;
    pages->tables(&kv, &meta, &stride);
    const sk::KvPageLayout& l = pages->layout();
    const uint8_t* block = kv[j / c.page_size] + g * pages->head_stride();
    const float scale = reinterpret_cast<const float*>(meta[j / c.page_size] + l.scales)[key ? g : c.kv_heads + g];
    const int64_t t = j % c.page_size;
    if (key) return value_of(c.type, block + l.k, d * c.page_size + t) * scale;
    return value_of(c.type, block + l.v, t * c.head_dim + d) * scale;
  }
};

std::vector<float> normals(sktest::Rng& rng, size_t n, double amplitude = 1) {
  std::vector<float> x(n);
  for (float& v : x) v = static_cast<float>(rng.normal() * amplitude);
  return x;
}

}  // namespace

SK_TEST(decode_widen_every_code_matches_the_scalar_decoders) {
  std::vector<uint16_t> all16(65536);
  for (int i = 0; i < 65536; ++i) all16[i] = static_cast<uint16_t>(i);
  std::vector<uint8_t> all8(256);
  for (int i = 0; i < 256; ++i) all8[i] = static_cast<uint8_t>(i);
  std::vector<float> got(65536);
  for (const Widen& w : widen_kernels()) {
    if (!sktest::runs_here(w.isa)) continue;
    for (sk_dtype t : {SK_F16, SK_BF16}) {
      w.fn(t, all16.data(), all16.size(), got.data());
      for (int i = 0; i < 65536; ++i) {
        const float want = value_of(t, reinterpret_cast<const uint8_t*>(all16.data()), i);
        CHECK(ScalarLanes::bits(got[i]) == ScalarLanes::bits(want) || (want != want && got[i] != got[i]),
              "%s %s code 0x%04x: got %g want %g", w.name, sk_dtype_name(t), i, got[i], want);
      }
    }
    w.fn(SK_F8E4M3FN, all8.data(), all8.size(), got.data());
    for (int i = 0; i < 256; ++i) {
      if ((i & 0x7F) == 0x7F) continue;  // NaN codes: the decode cache never stores them (widen.h)
      CHECK(ScalarLanes::bits(got[i]) == ScalarLanes::bits(value_of(SK_F8E4M3FN, all8.data(), i)),
            "%s e4m3 code 0x%02x: got %g", w.name, i, got[i]);
    }
  }
}

SK_TEST(decode_fp8_scale_rule_smallest_power_of_two_that_fits) {
  for (float amax : {0.0f, 1e-40f, 1e-30f, 0.5f, 1.0f, 447.0f, 448.0f, 448.001f, 896.0f, 896.1f, 1e10f, 3e38f}) {
    const int e = sk::fp8_scale_exp(amax);
    CHECK(e >= sk::kFp8MinScaleExp, "amax %g: e %d", amax, e);
    CHECK(static_cast<double>(amax) <= 448.0 * ldexp(1.0, e), "amax %g: 448·2^%d too small", amax, e);
    CHECK(e == sk::kFp8MinScaleExp || static_cast<double>(amax) > 448.0 * ldexp(1.0, e - 1),
          "amax %g: 2^%d not the smallest", amax, e);
    CHECK(sk::exp2_int(e) == static_cast<float>(ldexp(1.0, e)), "exp2_int(%d)", e);
  }
  CHECK(sk::fp8_page_scale(1.0f, false) != sk::fp8_page_scale(1.0f, false), "a non-finite chunk makes the scale NaN");
  // Re-encoding at a scale 2^k larger is exact for codes that stay normal (≥ 2^-6).
  for (uint32_t code = 0; code < 0x7F; ++code)
    for (int k = 1; k <= 3; ++k) {
      const float x = ScalarLanes::flt(sk::e4m3fn_to_f32<ScalarLanes>(code)), r = sk::exp2_int(-k);
      const float got = ScalarLanes::flt(sk::e4m3fn_to_f32<ScalarLanes>(sk::fp8_rescale_code(code, r)));
      if (x * r >= 0.015625f)
        CHECK(got == x * r, "code 0x%02x / 2^%d: got %g", code, k, got);
      else
        CHECK(fabsf(got - x * r) <= 0.5f * 0.001953125f,
              "code 0x%02x / 2^%d: %g off by more than half a subnormal step", code, k, got);
    }
}

SK_TEST(decode_pool_grows_by_slabs_all_or_nothing) {
  Cache cache(SK_BF16, 2, 16, 16, SK_ISA_SCALAR, 1 << 20);
  const int64_t slab = cache.pages->pages_pooled();  // no pages before the first append
  CHECK(slab == 0, "pooled %lld before any append", static_cast<long long>(slab));
  int64_t count = 33;  // 3 pages: one slab
  std::string why;
  CHECK(cache.pages->append(&count, &why) == SK_OK, "%s", why.c_str());
  const int64_t per_slab = cache.pages->pages_pooled();
  CHECK(cache.pages->pages_used() == 3 && per_slab >= 3 && per_slab <= 64, "used %lld pooled %lld",
        static_cast<long long>(cache.pages->pages_used()), static_cast<long long>(per_slab));
  count = 16 * per_slab;  // a slab's worth more: the pool doubles
  CHECK(cache.pages->append(&count, &why) == SK_OK, "%s", why.c_str());
  CHECK(cache.pages->pages_pooled() == 2 * per_slab, "pooled %lld",
        static_cast<long long>(cache.pages->pages_pooled()));
  // Each KV head's blocks of consecutive pages in a slab are head_stride apart from the next head's, kv_bytes from each
  // other.
  int64_t stride;
  std::vector<uint8_t*> kv, meta;
  cache.pages->tables(&kv, &meta, &stride);
  CHECK(stride == 3 + per_slab, "stride %lld", static_cast<long long>(stride));
  for (int64_t i = 1; i < per_slab; ++i)
    CHECK(kv[i] - kv[i - 1] == cache.pages->layout().kv_bytes &&
              meta[i] - meta[i - 1] == cache.pages->layout().meta_bytes,
          "page %lld of the first slab", static_cast<long long>(i));
  CHECK(cache.pages->head_stride() == per_slab * cache.pages->layout().kv_bytes, "head stride");

  Cache small(SK_F8E4M3FN, 1, 16, 16, SK_ISA_SCALAR, 5);  // a limit below a slab: the slab shrinks to it
  count = 20 * 16;
  CHECK(small.pages->append(&count, &why) == SK_ERR_OUT_OF_MEMORY && small.pages->pages_pooled() == 0,
        "past max_pages: refused, nothing allocated");
  count = 5 * 16;
  CHECK(small.pages->append(&count, &why) == SK_OK && small.pages->pages_pooled() == 5, "pooled %lld",
        static_cast<long long>(small.pages->pages_pooled()));
  count = 1;
  CHECK(small.pages->append(&count, &why) == SK_ERR_OUT_OF_MEMORY && small.pages->lengths()[0] == 80,
        "a sixth page: refused, unchanged");
}

SK_TEST(decode_append_fp8_scale_grows_and_codes_are_reencoded) {
  sk::ThreadPool pool(2);
  for (sk_isa isa : sktest::isas_here()) {
    const int64_t D = 16, P = 32;
    Cache cache(SK_F8E4M3FN, 1, D, P, isa);
    sktest::Rng rng{5};
    // Token 0 … 2 at amplitude 0.01, then one of 300: the page's scale goes from 2^-12 or so up to 2^0.
    std::vector<float> small = normals(rng, 3 * D, 0.01), big = normals(rng, D, 0.01);
    big[7] = 300.0f;
    cache.append(small, small, 3, pool);
    std::vector<float> before(3 * D);
    for (int64_t j = 0; j < 3; ++j)
      for (int64_t d = 0; d < D; ++d) before[j * D + d] = cache.stored(true, 0, j, d);
    cache.append(big, big, 1, pool);
    const sk::KvPageLayout& l = cache.pages->layout();
    int64_t stride;
    std::vector<uint8_t*> kv, meta;
    cache.pages->tables(&kv, &meta, &stride);
    const uint8_t* base = meta[0];
    const float scale = reinterpret_cast<const float*>(base + l.scales)[0];
    CHECK(scale == 1.0f, "%s: K scale %g, want 2^0 (300 ≤ 448)", sk_isa_name(isa), scale);
    for (int64_t j = 0; j < 3; ++j)
      for (int64_t d = 0; d < D; ++d) {
        // Each earlier key is its old stored value re-encoded at the new scale: the e4m3 value nearest it.
        const float old = before[j * D + d];
        const float want = ScalarLanes::flt(sk::e4m3fn_to_f32<ScalarLanes>(
                               sk::f32_to_e4m3fn<ScalarLanes>(ScalarLanes::bits(old / scale), true))) *
                           scale;
        CHECK(cache.stored(true, 0, j, d) == want, "%s key %lld.%lld: %g, want %g", sk_isa_name(isa),
              static_cast<long long>(j), static_cast<long long>(d), cache.stored(true, 0, j, d), want);
      }
    // Quest's metadata: min and max of the stored keys, per channel.
    for (int64_t d = 0; d < D; ++d) {
      float lo = INFINITY, hi = -INFINITY;
      for (int64_t j = 0; j < 4; ++j)
        lo = std::min(lo, cache.stored(true, 0, j, d)), hi = std::max(hi, cache.stored(true, 0, j, d));
      const float mlo = value_of(SK_F8E4M3FN, base + l.meta, d) * scale,
                  mhi = value_of(SK_F8E4M3FN, base + l.meta, D + d) * scale;
      CHECK(mlo == lo && mhi == hi, "%s meta channel %lld: [%g, %g] want [%g, %g]", sk_isa_name(isa),
            static_cast<long long>(d), mlo, mhi, lo, hi);
    }
  }
}

namespace {

// One decode over `cache` with every ISA's kernels against a double reference
// over the values read back from the pages; rows = group · tq. quest: a
// selection of `budget` pages (sink and recent one page each).
void check_decode(const char* edge, sk_dtype type, int64_t heads, int64_t group, int64_t dims, int64_t page,
                  int64_t length, int64_t tq, bool quest, int64_t budget = 3) {
  sk::ThreadPool pool(3);
  sktest::Rng rng{static_cast<uint64_t>(length * 31 + dims)};
  const std::vector<float> k = normals(rng, static_cast<size_t>(heads * length * dims));
  const std::vector<float> v = normals(rng, static_cast<size_t>(heads * length * dims));
  const int64_t hq = heads * group;
  const std::vector<float> q = normals(rng, static_cast<size_t>(hq * tq * dims));
  for (sk_isa isa : sktest::isas_here()) {
    Cache cache(type, heads, dims, page, isa);
    cache.append(k, v, length, pool);
    int64_t stride;
    std::vector<uint8_t*> kv, meta;
    cache.pages->tables(&kv, &meta, &stride);
    const int64_t pairs = heads;
    std::vector<int32_t> sel_count(pairs), sel_pages(pairs * stride), top_count(pairs), top_pages(pairs * stride);
    std::vector<float> out(q.size()), lse(hq * tq);
    sk_decode_params p{};
    p.q = q.data(), p.out = out.data(), p.lse = lse.data(), p.q_type = SK_F32;
    p.batch = 1, p.heads_q = hq, p.seq_q = tq;
    p.q_stride_b = p.out_stride_b = hq * tq * dims, p.q_stride_h = p.out_stride_h = tq * dims,
    p.q_stride_s = p.out_stride_s = dims;
    p.scale = 0.3f, p.lengths = &length, p.cache = cache.pages->view(kv, meta, stride);
    p.method = quest ? SK_DECODE_QUEST : SK_DECODE_DENSE, p.budget = budget, p.sink = 1, p.recent = 1;
    p.top_count = top_count.data(), p.top_pages = top_pages.data(), p.top_stride = stride;
    p.sel_count = sel_count.data(), p.sel_pages = sel_pages.data(), p.sel_stride = stride;
    const sk_decode_kernel kernel = sk_cpu_decode_pick(p, isa);
    CHECK(kernel.fn != nullptr, "%s: no kernel for %s", edge, sk_isa_name(isa));
    if (!kernel.fn) continue;
    CHECK(sk_cpu_decode_run(p, kernel, pool) == SK_OK, "%s run", edge);
    double err = 0, norm = 0;
    for (int64_t h = 0; h < hq; ++h) {
      const int64_t g = h / group;
      if (quest)
        CHECK(sel_count[g] == std::min<int64_t>(budget, sk::kv_pages_for(length, page)), "%s %s: %d pages", edge,
              sk_isa_name(isa), sel_count[g]);
      for (int64_t i = 0; i < tq; ++i) {
        std::vector<double> s;
        std::vector<int64_t> keys;
        for (int32_t c = 0; c < sel_count[g]; ++c)
          for (int64_t j = sel_pages[g * stride + c] * page;
               j < std::min(length, (sel_pages[g * stride + c] + 1) * page); ++j)
            if (j < sk::kv_visible_end(length, tq, i)) keys.push_back(j);
        double m = -INFINITY, l = 0;
        for (int64_t j : keys) {
          double dot = 0;
          for (int64_t d = 0; d < dims; ++d)
            dot += static_cast<double>(q[(h * tq + i) * dims + d]) * cache.stored(true, g, j, d);
          s.push_back(dot * 0.3f), m = std::max(m, s.back());
        }
        for (double x : s) l += exp(x - m);
        for (int64_t d = 0; d < dims; ++d) {
          double o = 0;
          for (size_t n = 0; n < keys.size(); ++n) o += exp(s[n] - m) / l * cache.stored(false, g, keys[n], d);
          err = std::max(err, fabs(o - out[(h * tq + i) * dims + d])), norm = std::max(norm, fabs(o));
        }
        CHECK(fabs(lse[h * tq + i] - (m + log(l))) <= 1e-5 * std::max(1.0, fabs(m + log(l))), "%s %s: lse", edge,
              sk_isa_name(isa));
      }
    }
    CHECK(err <= 1e-5 * norm, "%s %s %s: error %.3g of %.3g", edge, sk_isa_name(isa), sk_dtype_name(type), err, norm);
  }
}

}  // namespace

SK_TEST(decode_every_isa_page_eq_16_gqa_4) { check_decode("page_eq_16", SK_BF16, 2, 4, 64, 16, 100, 1, false); }
SK_TEST(decode_every_isa_page_128_head_dim_256) { check_decode("page_128", SK_F16, 1, 2, 256, 128, 300, 1, false); }
SK_TEST(decode_every_isa_length_lt_page) { check_decode("length_lt_page", SK_F8E4M3FN, 2, 1, 32, 64, 5, 5, false); }
SK_TEST(decode_every_isa_rows_gt_tiles_tq_8) { check_decode("rows_gt_tiles", SK_F32, 1, 3, 48, 32, 77, 8, false); }
SK_TEST(decode_every_isa_page_48_head_dim_16) { check_decode("page_48", SK_F8E4M3FN, 3, 1, 16, 48, 200, 2, false); }
SK_TEST(decode_every_isa_quest_budget_3_pages) { check_decode("quest", SK_BF16, 2, 2, 32, 16, 150, 2, true); }
// Quest's two ways through the driver: 8 pairs of 20 pages, each one task after every page is scored (runs of
// pages over the threads); one pair of 100 pages, more than half of a thread's share, split into tasks.
SK_TEST(decode_every_isa_quest_task_per_pair) { check_decode("quest_pairs", SK_F16, 8, 2, 32, 16, 2500, 1, true, 20); }
SK_TEST(decode_every_isa_quest_split) { check_decode("quest_split", SK_F8E4M3FN, 1, 4, 64, 16, 2500, 3, true, 100); }
// bfloat16's paired widening: pages of 5 token vectors (score pairs across pages on AVX-512), head dim of 3 or 6
// vectors.
SK_TEST(decode_every_isa_bf16_page_80_head_dim_48) {
  check_decode("bf16_odd_vectors", SK_BF16, 2, 3, 48, 80, 333, 3, false);
}
// Tasks long enough for the prefetch cursor to run over slab ends and the last, partial page.
SK_TEST(decode_every_isa_pages_across_slabs) { check_decode("across_slabs", SK_BF16, 2, 4, 64, 16, 2500, 1, false); }
