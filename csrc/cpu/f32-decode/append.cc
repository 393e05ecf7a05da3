// cache.append (baseline code): per (batch, KV head), the new tokens go into
// their pages one page at a time. FP8 pages take their scale by the rule of
// csrc/core/decode.h, re-encoding the codes already in the page when the scale
// grows; keys are stored channel-major, values token-major, and the page's
// Quest metadata (element-wise min and max of its stored keys) follows. Rows
// are converted by the cast kernel of the ISA in use.
#include <math.h>
#include <string.h>

#include <algorithm>
#include <atomic>
#include <new>
#include <vector>

#include "../../core/decode.h"
#include "../../core/threadpool.h"
#include "decode.h"

namespace {

using CastFn = void (*)(const sk_cast_params*);

void convert(CastFn cast, const void* src, sk_dtype from, void* dst, sk_dtype to, int64_t n) {
  const sk_cast_params cp{src, dst, static_cast<size_t>(n), from, to, true};
  cast(&cp);
}

// The largest |x| of n values, and whether all were finite.
float abs_max(const float* x, int64_t n, bool* finite) {
  float m = 0.0f;
  bool ok = true;
  for (int64_t i = 0; i < n; ++i) {
    const float a = fabsf(x[i]);
    ok = ok && a <= 3.4028234663852886e38f;  // false for Inf and NaN
    m = a > m ? a : m;
  }
  *finite = ok;
  return m;
}

// One page's slots [s0, s0 + n) of KV head g: its (page, KV head g) block and its metadata block.
struct PageWrite {
  uint8_t* kv;
  uint8_t* meta;
  int64_t s0, n;
};

class HeadWriter {
 public:
  HeadWriter(const sk_kv_append_params& p, CastFn cast, int64_t g)
      : p_(p),
        c_(p.cache),
        cast_(cast),
        g_(g),
        es_(static_cast<int64_t>(sk_dtype_size(c_.type))),
        lay_(sk::kv_page_layout(es_, c_.kv_heads, c_.head_dim, c_.page_size)),
        kf_(static_cast<size_t>(c_.page_size * c_.head_dim)),
        vf_(kf_.size()),
        codes_(kf_.size() * static_cast<size_t>(es_)),
        lo_(static_cast<size_t>(c_.head_dim)),
        hi_(lo_.size()) {}

  // Tokens [from, from + w.n) of k[b, g] / v[b, g] into one page.
  void write(int64_t b, int64_t from, const PageWrite& w) {
    const int64_t D = c_.head_dim;
    const size_t in = sk_dtype_size(p_.in_type);
    const char* k = static_cast<const char*>(p_.k) + (b * p_.k_stride_b + g_ * p_.k_stride_h) * in;
    const char* v = static_cast<const char*>(p_.v) + (b * p_.v_stride_b + g_ * p_.v_stride_h) * in;
    for (int64_t t = 0; t < w.n; ++t) {
      convert(cast_, k + (from + t) * p_.k_stride_s * in, p_.in_type, kf_.data() + t * D, SK_F32, D);
      convert(cast_, v + (from + t) * p_.v_stride_s * in, p_.in_type, vf_.data() + t * D, SK_F32, D);
    }
    float* scales = reinterpret_cast<float*>(w.meta + lay_.scales);
    uint8_t* kpage = w.kv + lay_.k;
    uint8_t* vpage = w.kv + lay_.v;
    uint8_t* meta = w.meta + lay_.meta + g_ * lay_.meta_head;
    if (c_.type == SK_F8E4M3FN) {
      fit_scale(w, kf_.data(), &scales[g_], kpage, meta, true);
      fit_scale(w, vf_.data(), &scales[c_.kv_heads + g_], vpage, nullptr, false);
    } else {
      scales[g_] = scales[c_.kv_heads + g_] = 1.0f;
    }
    convert(cast_, vf_.data(), SK_F32, vpage + w.s0 * D * es_, c_.type, w.n * D);
    convert(cast_, kf_.data(), SK_F32, codes_.data(), c_.type, w.n * D);
    for (int64_t t = 0; t < w.n; ++t)  // channel-major: key t's channel d at [d][s0 + t]
      for (int64_t d = 0; d < D; ++d)
        memcpy(kpage + (d * c_.page_size + w.s0 + t) * es_, codes_.data() + (t * D + d) * es_,
               static_cast<size_t>(es_));
    update_meta(w, meta);
  }

 private:
  // FP8: the page scale for the page's values so far plus x (n rows), the
  // codes already in the page re-encoded if it grew, and x divided by it.
  void fit_scale(const PageWrite& w, float* x, float* scale, uint8_t* page, uint8_t* meta, bool keys) {
    const int64_t D = c_.head_dim, P = c_.page_size;
    bool finite;
    const float amax = abs_max(x, w.n * D, &finite);
    const float want = sk::fp8_page_scale(amax, finite);
    if (w.s0 == 0) {
      *scale = want;
    } else if (*scale == *scale && !(want <= *scale)) {  // grows, or turns NaN
      if (want == want) {
        const float ratio = *scale / want;
        for (int64_t t = 0; t < w.s0; ++t)
          for (int64_t d = 0; d < D; ++d) {
            uint8_t& code = page[keys ? d * P + t : t * D + d];
            code = static_cast<uint8_t>(sk::fp8_rescale_code(code, ratio));
          }
        if (meta)
          for (int64_t i = 0; i < 2 * D; ++i) meta[i] = static_cast<uint8_t>(sk::fp8_rescale_code(meta[i], ratio));
      }
      *scale = want;
    }
    const float inv = 1.0f / *scale;  // a power of two: exact
    for (int64_t i = 0; i < w.n * D; ++i) x[i] *= inv;
  }

  // min / max per channel of the stored keys (the new codes read back, and
  // the page's earlier metadata): exact in the page type, as they are codes of it.
  void update_meta(const PageWrite& w, uint8_t* meta) {
    const int64_t D = c_.head_dim;
    convert(cast_, codes_.data(), c_.type, kf_.data(), SK_F32, w.n * D);
    if (w.s0 == 0) {
      std::copy(kf_.begin(), kf_.begin() + D, lo_.begin());
      std::copy(kf_.begin(), kf_.begin() + D, hi_.begin());
    } else {
      convert(cast_, meta, c_.type, lo_.data(), SK_F32, D);
      convert(cast_, meta + D * es_, c_.type, hi_.data(), SK_F32, D);
    }
    for (int64_t t = 0; t < w.n; ++t)
      for (int64_t d = 0; d < D; ++d) {
        const float x = kf_[t * D + d];
        lo_[d] = x < lo_[d] ? x : lo_[d];
        hi_[d] = x > hi_[d] ? x : hi_[d];
      }
    convert(cast_, lo_.data(), SK_F32, meta, c_.type, D);
    convert(cast_, hi_.data(), SK_F32, meta + D * es_, c_.type, D);
  }

  const sk_kv_append_params& p_;
  const sk_kv_pages& c_;
  CastFn cast_;
  int64_t g_, es_;
  sk::KvPageLayout lay_;
  std::vector<float> kf_, vf_;
  std::vector<uint8_t> codes_;
  std::vector<float> lo_, hi_;
};

}  // namespace

sk_status sk_cpu_kv_append_run(const sk_kv_append_params& p, CastFn cast, sk::ThreadPool& pool) {
  const int64_t heads = p.cache.kv_heads, P = p.cache.page_size;
  std::atomic<bool> oom{false};
  pool.parallel_for(static_cast<size_t>(p.batch * heads), [&](size_t bg) {
    const int64_t b = static_cast<int64_t>(bg) / heads;
    try {
      const int64_t g = static_cast<int64_t>(bg) % heads;
      HeadWriter writer(p, cast, g);
      for (int64_t done = 0; done < p.count[b];) {
        const int64_t pos = p.start[b] + done, s0 = pos % P, n = std::min(P - s0, p.count[b] - done),
                      at = b * p.cache.table_stride + pos / P;
        writer.write(b, done, PageWrite{p.cache.kv[at] + g * p.cache.head_stride, p.cache.meta[at], s0, n});
        done += n;
      }
    } catch (const std::bad_alloc&) {
      oom = true;
    }
  });
  return oom.load() ? SK_ERR_OUT_OF_MEMORY : SK_OK;
}
