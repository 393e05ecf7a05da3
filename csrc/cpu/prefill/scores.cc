// Block and line scores for dynamic sparse prefill (see sk_score_method in params.h).
// Work items are (batch, query head, query block) for XAttention and (batch,
// query head) otherwise; the products run on the ISA's qk micro-kernel with
// the item's queries along the lanes (Sᵀ = K·Qᵀ), and the exponentials on its
// vexp2 kernel, so the softmax is in base 2 with Qᵀ pre-scaled by log2(e).
#include <math.h>
#include <string.h>

#include <algorithm>
#include <atomic>
#include <memory>
#include <new>
#include <vector>

#include "../../core/cast_math.h"
#include "../../core/heuristics.h"
#include "../../core/host_alloc.h"
#include "../../core/threadpool.h"
#include "../f32-attn/f32-attn.h"
#include "prefill.h"

namespace {

constexpr float kLog2e = 1.4426950408889634f;
constexpr float kNegInf = -__builtin_inff();

float load(sk_dtype t, const void* base, int64_t at) {
  if (t == SK_F32) return static_cast<const float*>(base)[at];
  const uint32_t u = static_cast<const uint16_t*>(base)[at];
  return sk::ScalarLanes::flt(t == SK_F16 ? sk::f16_to_f32<sk::ScalarLanes>(u) : sk::bf16_to_f32<sk::ScalarLanes>(u));
}

// Rows [0, seq) of one head decoded into dst [rows][d], zero from seq on.
void decode_head(const sk_block_scores_params& p, const void* base, int64_t at, int64_t stride_s, int64_t rows,
                 float* dst) {
  const int64_t d = p.head_dim;
  if (p.dtype == SK_F32) {  // rows copied whole: the common float32 case is a memcpy per row
    const float* src = static_cast<const float*>(base) + at;
    for (int64_t s = 0; s < rows; ++s)
      if (s < p.seq)
        memcpy(dst + s * d, src + s * stride_s, static_cast<size_t>(d) * sizeof(float));
      else
        memset(dst + s * d, 0, static_cast<size_t>(d) * sizeof(float));
    return;
  }
  for (int64_t s = 0; s < rows; ++s)
    for (int64_t e = 0; e < d; ++e) dst[s * d + e] = s < p.seq ? load(p.dtype, base, at + s * stride_s + e) : 0.0f;
}

// Sᵀ [cols][ld] = K [cols][kc] · Qᵀ [kc][ld] over the kernel's register tiles.
void gemm(const sk_prefill_kernels& kn, int64_t cols, size_t ld, size_t kc, const float* k, const float* qt,
          float* st) {
  for (int64_t m0 = 0; m0 < cols; m0 += kn.mr)
    for (size_t n0 = 0; n0 < ld; n0 += static_cast<size_t>(kn.nr)) {
      const size_t mr = static_cast<size_t>(std::min<int64_t>(kn.mr, cols - m0));
      const size_t nc = std::min<size_t>(static_cast<size_t>(kn.nr), ld - n0);
      kn.qk(mr, nc, kc, k + m0 * kc, kc, qt + n0, ld, st + m0 * ld + n0, ld);
    }
}

// Sᵀ [cols][ld] (log2 units) column by column: st becomes 2^(s - mx[n])
// with mx[n] the lane's max (0 when every entry is -inf), and sum[n] = Σ.
void exp_cols(const sk_prefill_kernels& kn, int64_t cols, size_t ld, float* st, float* mx, float* sum) {
  std::fill(mx, mx + ld, kNegInf);
  std::fill(sum, sum + ld, 0.0f);
  for (int64_t c = 0; c < cols; ++c)
    for (size_t n = 0; n < ld; ++n) mx[n] = std::max(mx[n], st[c * ld + n]);
  for (size_t n = 0; n < ld; ++n) mx[n] = mx[n] == kNegInf ? 0.0f : mx[n];
  for (int64_t c = 0; c < cols; ++c)
    for (size_t n = 0; n < ld; ++n) st[c * ld + n] -= mx[n];
  kn.vexp2(static_cast<size_t>(cols) * ld, st, st);
  for (int64_t c = 0; c < cols; ++c)
    for (size_t n = 0; n < ld; ++n) sum[n] += st[c * ld + n];
}

// Column softmax of Sᵀ [cols][ld] (log2 units): st becomes 2^(s - max) and
// inv[n] = 1 / Σ for the first `rows` columns, 0 for padding lanes.
void softmax_cols(const sk_prefill_kernels& kn, int64_t cols, size_t ld, int32_t rows, float* st, float* inv) {
  std::vector<float> mx(ld), sum(ld);
  exp_cols(kn, cols, ld, st, mx.data(), sum.data());
  for (size_t n = 0; n < ld; ++n) inv[n] = static_cast<int32_t>(n) < rows && sum[n] > 0 ? 1.0f / sum[n] : 0.0f;
}

// Σ_{n < rows} row[n]·w[n] in float64, in four independent sums (one
// running sum waits an add's latency per term; at 32K keys the importance
// runs this over 4M terms per head).
double weighted_sum(const float* row, const float* w, int32_t rows) {
  double a[4] = {0, 0, 0, 0};
  int32_t n = 0;
  for (; n + 4 <= rows; n += 4)
    for (int t = 0; t < 4; ++t) a[t] += static_cast<double>(row[n + t]) * w[n + t];
  for (; n < rows; ++n) a[0] += static_cast<double>(row[n]) * w[n];
  return (a[0] + a[1]) + (a[2] + a[3]);
}

// Σ a[e]·b[e] in four running sums, for the same reason as weighted_sum
// (the pooled logits: nb² / 2 dots of D terms per head, 2M at 32K).
double dot(const double* a, const double* b, int64_t n) {
  double s[4] = {0, 0, 0, 0};
  int64_t e = 0;
  for (; e + 4 <= n; e += 4)
    for (int t = 0; t < 4; ++t) s[t] += a[e + t] * b[e + t];
  for (; e < n; ++e) s[0] += a[e] * b[e];
  return (s[0] + s[1]) + (s[2] + s[3]);
}

size_t lanes_up(int64_t n, int32_t lanes) { return static_cast<size_t>((n + lanes - 1) / lanes * lanes); }

// Query blocks [qb0, qb1) of XAttention. kp: the key head packed
// [n_super · stride][D] (so super-column c is row c of a [n_super][stride · D]
// matrix). Under causality the pass runs to the last block's diagonal and
// each super-row masks the cells right of its own.
void xattention_blocks(const sk_block_scores_params& p, const sk_prefill_kernels& kn, int64_t b, int64_t h, int64_t qb0,
                       int64_t qb1, const float* kp) {
  const int64_t S = p.stride, D = p.head_dim, per_block = p.block / S;
  const int64_t n_super = (p.seq + S - 1) / S, nb = (p.seq + p.block - 1) / p.block;
  const int64_t r0 = qb0 * per_block, r1 = std::min(n_super, qb1 * per_block);
  const int32_t rows = static_cast<int32_t>(r1 - r0);
  const size_t ld = lanes_up(rows, kn.lanes), kc = static_cast<size_t>(S * D);
  const int64_t cols = p.causal ? r1 : n_super;
  std::vector<float> qt(kc * ld, 0.0f), inv(ld);
  sk::HostScratch<float> st_buf(static_cast<size_t>(cols) * ld);  // every entry written by gemm
  if (!st_buf) throw std::bad_alloc();
  float* st = st_buf.get();
  // Super-row r: q[rS + S-1-t] in features [tD, (t+1)D) (the antidiagonal of each S×S tile).
  const float qscale = p.scale / static_cast<float>(S) * kLog2e;
  const int64_t qat = b * p.q_stride_b + h * p.q_stride_h;
  for (int32_t n = 0; n < rows; ++n)
    for (int64_t t = 0; t < S; ++t) {
      const int64_t i = (r0 + n) * S + S - 1 - t;
      if (i >= p.seq) continue;
      for (int64_t e = 0; e < D; ++e)
        qt[static_cast<size_t>(t * D + e) * ld + n] = load(p.dtype, p.q, qat + i * p.q_stride_s + e) * qscale;
    }
  gemm(kn, cols, ld, kc, kp, qt.data(), st);
  if (p.causal)  // super-cells right of the diagonal; the diagonal super-cell stays (as XAttention does)
    for (int32_t n = 0; n < rows; ++n)
      for (int64_t c = r0 + n + 1; c < cols; ++c) st[c * ld + n] = kNegInf;
  softmax_cols(kn, cols, ld, rows, st, inv.data());
  for (int64_t qb = qb0; qb < qb1; ++qb) {  // block qb's super-rows are lanes [n0, n0 + count)
    const int64_t n0 = (qb - qb0) * per_block, last = p.causal ? std::min(cols, (qb + 1) * per_block) : cols;
    const int32_t count = static_cast<int32_t>(std::min<int64_t>(per_block, rows - n0));
    float* out = p.out + ((b * p.heads_q + h) * nb + qb) * nb;
    for (int64_t kb = 0; kb < nb; ++kb) {
      double acc = 0;
      for (int64_t c = kb * per_block; c < std::min(last, (kb + 1) * per_block); ++c)
        acc += weighted_sum(st + c * ld + n0, inv.data() + n0, count);
      out[kb] = static_cast<float>(acc);
    }
  }
}

// Mean-pooled scores of one (batch, query head): every query block's row.
void meanpool_head(const sk_block_scores_params& p, int64_t b, int64_t h, const float* kd) {
  const int64_t D = p.head_dim, nb = (p.seq + p.block - 1) / p.block;
  std::vector<float> qd(static_cast<size_t>(std::min<int64_t>(p.block, p.seq) * D));
  auto pool = [&](const float* x, std::vector<double>& out) {
    out.assign(static_cast<size_t>(nb * D), 0.0);
    for (int64_t blk = 0; blk < nb; ++blk) {
      const int64_t s0 = blk * p.block, s1 = std::min(p.seq, s0 + p.block);
      for (int64_t s = s0; s < s1; ++s)
        for (int64_t e = 0; e < D; ++e) out[blk * D + e] += x[s * D + e];
      for (int64_t e = 0; e < D; ++e) out[blk * D + e] /= static_cast<double>(s1 - s0);
    }
  };
  std::vector<double> qm(static_cast<size_t>(nb * D), 0.0), km, logit(static_cast<size_t>(nb));
  pool(kd, km);
  for (int64_t blk = 0; blk < nb; ++blk) {  // q block by block: a block of rows decoded at a time
    const int64_t s0 = blk * p.block, n = std::min(p.seq, s0 + p.block) - s0;
    sk_block_scores_params one = p;
    one.seq = n;
    decode_head(one, p.q, b * p.q_stride_b + h * p.q_stride_h + s0 * p.q_stride_s, p.q_stride_s, n, qd.data());
    for (int64_t s = 0; s < n; ++s)
      for (int64_t e = 0; e < D; ++e) qm[blk * D + e] += qd[s * D + e];
    for (int64_t e = 0; e < D; ++e) qm[blk * D + e] /= static_cast<double>(n);
  }
  for (int64_t qb = 0; qb < nb; ++qb) {
    float* out = p.out + ((b * p.heads_q + h) * nb + qb) * nb;
    double mx = -INFINITY;
    for (int64_t kb = 0; kb < nb; ++kb) {
      const bool cand =
          (!p.causal || kb <= qb) && (p.segment_blocks == 0 || kb / p.segment_blocks != qb / p.segment_blocks);
      logit[kb] = cand ? dot(qm.data() + qb * D, km.data() + kb * D, D) * p.scale : -INFINITY;
      mx = std::max(mx, logit[kb]);
    }
    double sum = 0;
    for (int64_t kb = 0; kb < nb; ++kb) sum += logit[kb] == -INFINITY ? 0 : exp(logit[kb] - mx);
    for (int64_t kb = 0; kb < nb; ++kb)
      out[kb] = logit[kb] == -INFINITY ? 0.0f : static_cast<float>(exp(logit[kb] - mx) / sum);
  }
}

// Key importance (method 3) or vertical and slash lines (method 4) of one
// (batch, query head): the attention of the last `block` queries on keys
// [0, key_count) (method 4: every key, causal). Keys go in chunks whose
// scores (kImportanceChunk × ld floats, 128 KiB at 128 queries) stay in L2
// from the gemm through the exps, each chunk relative to its own max; one
// last pass rescales to the common max. Whole-width passes (max, subtract,
// exp, sum over all 16 MiB of scores at 32K keys) went to memory each time:
// half the op's time.
constexpr int64_t kImportanceChunk = 256;

void importance_head(const sk_block_scores_params& p, const sk_prefill_kernels& kn, int64_t b, int64_t h,
                     const float* kd) {
  const bool lines = p.method == SK_SCORE_VERTICAL_SLASH;
  const int64_t D = p.head_dim, q0 = std::max<int64_t>(0, p.seq - p.block), cols = lines ? p.seq : p.key_count;
  const int32_t rows = static_cast<int32_t>(p.seq - q0);
  const size_t ld = lanes_up(rows, kn.lanes);
  const int64_t chunks = (cols + kImportanceChunk - 1) / kImportanceChunk;
  std::vector<float> qt(static_cast<size_t>(D) * ld, 0.0f), mx(static_cast<size_t>(chunks) * ld), sum(ld), w(ld);
  std::vector<float> top(ld, kNegInf), total(ld, 0.0f);
  // [cols][ld] (16 MiB at 32K keys): cached host scratch, so its pages are
  // not faulted in afresh on every call (every entry is written by gemm).
  sk::HostScratch<float> st_buf(static_cast<size_t>(cols) * ld);
  if (!st_buf) throw std::bad_alloc();
  float* st = st_buf.get();
  const int64_t qat = b * p.q_stride_b + h * p.q_stride_h;
  for (int32_t n = 0; n < rows; ++n)
    for (int64_t e = 0; e < D; ++e)
      qt[e * ld + n] = load(p.dtype, p.q, qat + (q0 + n) * p.q_stride_s + e) * p.scale * kLog2e;
  for (int64_t c = 0; c < chunks; ++c) {
    const int64_t c0 = c * kImportanceChunk, cc = std::min(kImportanceChunk, cols - c0);
    float* m = mx.data() + c * ld;
    gemm(kn, cc, ld, static_cast<size_t>(D), kd + c0 * D, qt.data(), st + c0 * ld);
    if (lines)  // causal: query q0 + n sees keys j <= q0 + n
      for (int64_t j = std::max(c0, q0 + 1); j < c0 + cc; ++j)
        for (int64_t n = 0; n < std::min<int64_t>(rows, j - q0); ++n) st[j * ld + n] = kNegInf;
    exp_cols(kn, cc, ld, st + c0 * ld, m, sum.data());
    for (size_t n = 0; n < ld; ++n) {                    // running max and sum over the chunks so far
      if (lines && c0 > q0 + static_cast<int64_t>(n)) {  // the whole chunk is after this query
        m[n] = kNegInf;
        continue;
      }
      const float t = std::max(top[n], m[n]);
      total[n] = total[n] * exp2f(top[n] - t) + sum[n] * exp2f(m[n] - t);
      top[n] = t;
    }
  }
  float* out = p.out + (b * p.heads_q + h) * p.seq * (lines ? 2 : 1);
  // float sums: a distance gets at most `rows` terms, each below 1 (a
  // relative error below rows · 2^-24), and the baseline build adds four
  // floats per instruction against two doubles.
  float* slash = out + p.seq;
  if (lines) std::fill(slash, slash + p.seq, 0.0f);
  const float inv_rows = 1.0f / static_cast<float>(rows);
  for (int64_t c = 0; c < chunks; ++c) {
    const int64_t c0 = c * kImportanceChunk, c1 = std::min(cols, c0 + kImportanceChunk);
    for (size_t n = 0; n < ld; ++n)  // chunk c's exps to the common max, over the row's sum
      w[n] = static_cast<int32_t>(n) < rows && total[n] > 0 ? exp2f(mx[c * ld + n] - top[n]) / total[n] : 0.0f;
    for (int64_t j = c0; j < c1; ++j) out[j] = static_cast<float>(weighted_sum(st + j * ld, w.data(), rows) / rows);
    if (lines)  // query q0 + n and key j lie on the slash line at distance q0 + n - j
      for (int64_t j = c0; j < c1; ++j) {
        float* line = slash + q0 - j;
        for (int64_t n = std::max<int64_t>(0, j - q0); n < rows; ++n) line[n] += st[j * ld + n] * w[n] * inv_rows;
      }
  }
  for (int64_t j = cols; j < p.seq; ++j) out[j] = 0.0f;
}

// Runs fn(i) for i < n, pulled dynamically by the pool's threads.
template <class Fn>
void each(sk::ThreadPool& pool, size_t n, Fn&& fn) {
  if (n == 0) return;
  std::atomic<size_t> next{0};
  pool.parallel_for(std::min<size_t>(static_cast<size_t>(pool.threads()), n), [&](size_t) {
    for (size_t i = next.fetch_add(1); i < n; i = next.fetch_add(1)) fn(i);
  });
}

}  // namespace

sk_status sk_cpu_block_scores_run(const sk_block_scores_params& p, const sk_prefill_kernels& kn, sk::ThreadPool& pool) {
  try {
    const int64_t D = p.head_dim, group = p.heads_q / p.heads_kv, nb = (p.seq + p.block - 1) / p.block;
    // Keys decoded once per (batch, key head); XAttention pads to whole super-columns.
    const int64_t rows = p.method == SK_SCORE_XATTENTION ? (p.seq + p.stride - 1) / p.stride * p.stride : p.seq;
    const size_t head = static_cast<size_t>(rows * D);
    // float32 keys with contiguous rows are read in place; others are decoded
    // (and padded) once per (batch, key head).
    const bool in_place = p.dtype == SK_F32 && p.k_stride_s == D && rows == p.seq;
    std::unique_ptr<float[]> kd(in_place ? nullptr : new float[static_cast<size_t>(p.batch * p.heads_kv) * head]);
    if (!in_place)
      each(pool, static_cast<size_t>(p.batch * p.heads_kv), [&](size_t i) {
        const int64_t b = static_cast<int64_t>(i) / p.heads_kv, g = static_cast<int64_t>(i) % p.heads_kv;
        decode_head(p, p.k, b * p.k_stride_b + g * p.k_stride_h, p.k_stride_s, rows, kd.get() + i * head);
      });
    auto keys = [&](int64_t b, int64_t h) -> const float* {
      if (in_place) return static_cast<const float*>(p.k) + b * p.k_stride_b + (h / group) * p.k_stride_h;
      return kd.get() + static_cast<size_t>(b * p.heads_kv + h / group) * head;
    };
    if (p.method == SK_SCORE_XATTENTION) {
      // Runs of G query blocks sharing a pass over the keys, the largest (the most key columns under causality) first.
      const int64_t G = p.blocks_per_pass > 0
                            ? p.blocks_per_pass
                            : sk::xattention_blocks_per_pass(static_cast<int64_t>(head * sizeof(float)));
      const int64_t runs = (nb + G - 1) / G;
      each(pool, static_cast<size_t>(p.batch * p.heads_q * runs), [&](size_t i) {
        const int64_t run = runs - 1 - static_cast<int64_t>(i) / (p.batch * p.heads_q),
                      bh = static_cast<int64_t>(i) % (p.batch * p.heads_q);
        xattention_blocks(p, kn, bh / p.heads_q, bh % p.heads_q, run * G, std::min(nb, (run + 1) * G),
                          keys(bh / p.heads_q, bh % p.heads_q));
      });
    } else {
      each(pool, static_cast<size_t>(p.batch * p.heads_q), [&](size_t i) {
        const int64_t b = static_cast<int64_t>(i) / p.heads_q, h = static_cast<int64_t>(i) % p.heads_q;
        if (p.method == SK_SCORE_MEANPOOL)
          meanpool_head(p, b, h, keys(b, h));
        else
          importance_head(p, kn, b, h, keys(b, h));
      });
    }
  } catch (const std::bad_alloc&) {
    return SK_ERR_OUT_OF_MEMORY;
  }
  return SK_OK;
}

void sk_cpu_gather_rows_run(const sk_gather_rows_params& p, sk::ThreadPool& pool) {
  const size_t bytes = static_cast<size_t>(p.row) * p.elem_size;
  each(pool, static_cast<size_t>(p.batch * p.heads), [&](size_t i) {
    const int64_t b = static_cast<int64_t>(i) / p.heads, h = static_cast<int64_t>(i) % p.heads;
    const char* src = static_cast<const char*>(p.src) + (b * p.src_stride_b + h * p.src_stride_h) * p.elem_size;
    char* dst = static_cast<char*>(p.dst) + i * static_cast<size_t>(p.seq) * bytes;
    const int32_t* idx = p.idx + i * static_cast<size_t>(p.seq);
    for (int64_t s = 0; s < p.seq; ++s) memcpy(dst + s * bytes, src + idx[s] * p.src_stride_s * p.elem_size, bytes);
  });
}

sk_prefill_kernels sk_cpu_prefill_pick(const sk_block_scores_params& p, sk_isa isa) {
  const sk_prefill_kernels none{nullptr, nullptr, 0, 0, 0, "none"};
  if (p.dtype != SK_F32 && p.dtype != SK_F16 && p.dtype != SK_BF16) return none;
  if (p.head_dim < 1 || p.heads_kv < 1 || p.heads_q % p.heads_kv != 0 || p.block < 1) return none;
  if (p.method == SK_SCORE_XATTENTION && (p.stride < 1 || p.block % p.stride != 0)) return none;
  if (p.method == SK_SCORE_KEY_IMPORTANCE && (p.key_count < 1 || p.key_count > p.seq)) return none;
  if (p.method < SK_SCORE_XATTENTION || p.method > SK_SCORE_VERTICAL_SLASH) return none;
  switch (isa) {
#define SK_ATTN_UKERNEL(name, mr, nr, width)                                                                           \
  case SK_ISA_##name##_ID:                                                                                             \
    return {sk_f32_attn_qk_ukernel_##mr##x##nr##__##name,    sk_f32_vexp2_ukernel__##name, mr, nr, width,              \
            "sk_f32_attn_qk_ukernel_" #mr "x" #nr "__" #name};
#include "../f32-attn/attention.inc"
#undef SK_ATTN_UKERNEL
    default: return none;
  }
}
