// One plain params struct per op: pointers, sizes in elements, flags.
// Kernels take nothing else.
#pragma once
#include <stddef.h>
#include <stdint.h>

#include "dtype.h"

// Element-wise dtype conversion dst[i] = convert(src[i]) for i in [0, count).
struct sk_cast_params {
  const void* src;
  void* dst;
  size_t count;  // elements
  sk_dtype src_type;
  sk_dtype dst_type;
  bool saturate;  // FP8 only: overflow and ±Inf go to ±max finite instead of NaN / ±Inf
};

// ---------------------------------------------------------------------------
// Attention (block-sparse FlashAttention forward). See csrc/core/mask_rules.h
// for the token-level rules and docs/formats.md for the block-mask layout.

constexpr int kMaskMaxTerms = 4;  // OR of at most this many AND-terms
constexpr int kMaskMaxRulesPerTerm = 4;

enum sk_mask_rule_kind {
  SK_RULE_CAUSAL = 1,           // j <= i + offset
  SK_RULE_WINDOW = 2,           // i + offset - window < j <= i + offset
  SK_RULE_STREAMING = 3,        // j <= i + offset and (j < sink or i + offset - j < local)
  SK_RULE_DOCUMENTS = 4,        // kv_seg[j] == kPrefix or q_seg[i] == kQuery or q_seg[i] == kv_seg[j]
  SK_RULE_PERMUTED_CAUSAL = 5,  // kv_pos[b, h / pos_group, j] <= i + offset (keys stored permuted, PBS-Attn)
};

struct sk_mask_rule {
  int32_t kind;           // sk_mask_rule_kind
  int64_t window;         // tokens (SK_RULE_WINDOW)
  int64_t sink, local;    // tokens (SK_RULE_STREAMING)
  const int32_t* q_seg;   // [seq_q] segment id per query token (SK_RULE_DOCUMENTS)
  const int32_t* kv_seg;  // [seq_kv] segment id per key token (SK_RULE_DOCUMENTS)
  // SK_RULE_PERMUTED_CAUSAL: the original position of the key stored at slot j,
  // kv_pos[b * pos_stride_b + (h / pos_group) * pos_stride_h + j] (elements; a
  // stride of 0 broadcasts). h is the query head; pos_group query heads share a row.
  const int32_t* kv_pos;
  int64_t pos_stride_b, pos_stride_h;
  int64_t pos_group;
};

// The token rule of partial blocks: OR over terms of (AND over a term's rules).
// n_terms == 0 means no token rule (every token of a partial block is kept).
struct sk_mask_rules {
  int32_t n_terms;
  int32_t n_rules[kMaskMaxTerms];
  sk_mask_rule rules[kMaskMaxTerms][kMaskMaxRulesPerTerm];
};

// Which key blocks each (batch, head, query block) computes, FlexAttention's
// layout: per row, `num` entries of `idx` are used, in increasing order.
// Full blocks need no token rule; partial blocks apply `rules`.
struct sk_block_mask {
  int32_t batch, heads;             // 1 broadcasts over the op's batch / query heads
  int32_t q_block, kv_block;        // tokens per block (16..256, multiples of 16)
  int32_t n_q_blocks, n_kv_blocks;  // ceil(seq / block)
  const int32_t* full_num;          // [batch, heads, n_q_blocks]
  const int32_t* full_idx;          // [batch, heads, n_q_blocks, n_kv_blocks]
  const int32_t* partial_num;       // [batch, heads, n_q_blocks]
  const int32_t* partial_idx;       // [batch, heads, n_q_blocks, n_kv_blocks]
  sk_mask_rules rules;
};

// The largest head dim attention takes, on every backend (FlashAttention's
// limit: a row's q, k and v stay on chip; it also bounds the CPU kernels'
// per-thread scratch, ≈ 0.3 MiB at 256).
constexpr int64_t kAttentionMaxHeadDim = 256;

// FP8 attention's operands (docs/fp8.md): q, k and v hold FP8 codes (dtype
// SK_F8E4M3FN or SK_F8E5M2), each quantised in tiles of `tile` tokens along
// the sequence; a code's value is code · its tile's scale. k was smoothed (its
// channel mean over the tokens subtracted) when k_mean is set: the softmax
// ignores that shift, and the lse adds scale · q·mean back.
struct sk_fp8_scales {
  int64_t tile;         // tokens per tile (16..256, a multiple of 16)
  const float* q;       // [batch, heads_q, ceil(seq_q / tile)]
  const float* k;       // [batch, heads_kv, ceil(seq_kv / tile)]
  const float* v;       // [batch, heads_kv, ceil(seq_kv / tile), head_dim]: per channel
  const float* k_mean;  // [batch, heads_kv, head_dim], or null (k not smoothed)
};

static inline bool sk_dtype_is_fp8(sk_dtype t) { return t == SK_F8E4M3FN || t == SK_F8E5M2; }

// out[b, h, i, :] = softmax(scale * q[b,h,i,:] · k[b,g,j,:]ᵀ over visible j) · v[b,g,j,:]
// with g = h / (heads_q / heads_kv). Strides are in elements; the last (head
// dim) stride is 1. Accumulation is float32 for every dtype.
struct sk_attention_params {
  const void* q;
  const void* k;
  const void* v;
  void* out;       // same dtype and layout rules as q
  float* lse;      // [batch, heads_q, seq_q] natural-log sum-exp, or null
  sk_dtype dtype;  // SK_F32, SK_F16 or SK_BF16; or FP8 (with fp8; out is then float32)
  int64_t batch, heads_q, heads_kv, seq_q, seq_kv, head_dim;
  int64_t q_stride_b, q_stride_h, q_stride_s;        // elements
  int64_t k_stride_b, k_stride_h, k_stride_s;        // elements
  int64_t v_stride_b, v_stride_h, v_stride_s;        // elements
  int64_t out_stride_b, out_stride_h, out_stride_s;  // elements
  float scale;
  bool causal;                // bottom-right aligned, ANDed with the mask
  const sk_block_mask* mask;  // null: dense (every key block, each full unless causal cuts it)
  const sk_fp8_scales* fp8;   // the scales of FP8 q, k, v; null otherwise
};

// ---------------------------------------------------------------------------
// Unstructured sparse × dense (XNNPACK's SpMM): out = W · x + bias, clamped.
// W [n, k] is packed in blocks of nr output channels (docs/formats.md, "CSR
// sparse weights"): floor(n / nr) groups of nr channels, then n % nr groups of
// one; per group a count of non-zero blocks (nnzmap), their input channels
// (cols, increasing) and nr values per block (values, block-major).

// What every spmm / spmv micro-kernel does with a sum before it stores it:
// adds the output already there when `accumulate` (the input-channel slices
// after the first, so no slice needs a partial-sum buffer), then clamps
// (XNNPACK's minmax: -inf / +inf for none, 0 / +inf for ReLU, 0 / 6 for
// ReLU6; NaN passes through).
struct sk_spmm_epilogue {
  float min;
  float max;
  bool accumulate = false;
};

enum sk_spmm_layout {
  SK_SPMM_CHANNELS = 0,  // conv1x1: x [batch, k, m], out [batch, n, m] (channel-major, m = H·W)
  SK_SPMM_ROWS = 1,      // linear: x [m, k], out [m, n] row-major (batch = 1)
};

struct sk_spmm_params {
  const float* x;
  float* out;
  const float* bias;            // [n] or null
  const float* values;          // packed values (see above)
  const int32_t* cols;          // [blocks] input channel of each non-zero block
  const uint16_t* cols16;       // cols as uint16 for the SpMV kernels (k ≤ 65536), or null: then they read cols
  const uint32_t* nnzmap;       // [groups] non-zero blocks per group
  const int64_t* group_blocks;  // [groups + 1] prefix sums of nnzmap (first block of each group)
  const int64_t* group_values;  // [groups + 1] first value of each group
  int64_t n, k;                 // output / input channels
  int32_t nr;                   // 1, 2 or 4: channels per block
  int64_t groups, blocks;       // floor(n / nr) + n % nr; total non-zero blocks
  int64_t batch, m;             // SK_SPMM_CHANNELS: images and pixels per image; SK_SPMM_ROWS: batch 1, m rows
  int32_t layout;               // sk_spmm_layout
  sk_spmm_epilogue clamp;
};

// Linear (csrc/cpu/f32-gemm dense, csrc/cpu/f32-sp24 2:4):
// out[i, j] = Σ_k x[i, k] · w[j, k] + bias[j], accumulated in float32.

enum sk_weight_format {
  SK_WEIGHT_DENSE = 0,  // w: [n, k] row-major
  SK_WEIGHT_SP24 = 1,   // w: values [ceil(n/8), k/4, 2, 8], meta [ceil(n/8), k/4] u32 words (docs/formats.md, "2:4
                        // weights on the CPU")
};

struct sk_linear_params {
  const float* x;       // [m, k] row-major
  const void* w;        // dense weights or 2:4 values, of w_type
  const uint8_t* meta;  // 2:4 only: a uint32 word of 8 rows' codes per (panel, group); else null
  const float* bias;    // [n] or null
  float* out;           // [m, n] row-major
  sk_dtype w_type;      // SK_F32, SK_F16 or SK_BF16
  int32_t format;       // sk_weight_format
  int64_t m, n, k;      // elements; 2:4 needs k % 4 == 0
};

// 2:4 / N:M weight preparation on a dense [rows, k] matrix (csrc/cpu/sp24).
enum sk_sp24_op {
  SK_SP24_PRUNE = 0,       // dense_in → dense_out: keep the n_keep largest |w| of every `group` along k
  SK_SP24_COMPRESS = 1,    // dense_in → values + meta; fails on a group of 4 with more than 2 non-zeros
  SK_SP24_DECOMPRESS = 2,  // values + meta → dense_out; fails on an invalid group code
};

struct sk_sp24_params {
  int32_t op;                  // sk_sp24_op
  sk_dtype dtype;              // SK_F32, SK_F16 or SK_BF16 (every array)
  int64_t rows, k;             // dense dims, elements
  int32_t n_keep, group;       // SK_SP24_PRUNE: keep n_keep of every `group` (1 <= n_keep <= group <= 64)
  const void* dense_in;        // [rows, k]
  void* dense_out;             // [rows, k]
  void* values;                // [ceil(rows/8), k/4, 2, 8] (csrc/core/sp24_meta.h)
  uint8_t* meta;               // [ceil(rows/8), k/4] uint32 words
  int64_t bad_row, bad_group;  // out: the first offending (row, group of 4), or -1
};

// Dynamic sparse prefill (csrc/cpu/prefill): the block scores a block mask is
// selected from, and the key permutation's importance scores. q and k share
// one length (prefill: seq_q == seq_kv); selection itself runs in lib/prefill.

enum sk_score_method {
  // out [batch, heads_q, n_blocks, n_blocks]: XAttention's antidiagonal scores.
  // Per query super-row (stride queries, reversed) and key super-column
  // (stride keys), logit = scale/stride · Σ_t q[rS+S-1-t]·k[cS+t]; a softmax over
  // the super-columns (causal: c <= r), summed over each block's super-cells.
  SK_SCORE_XATTENTION = 1,
  // out [batch, heads_q, n_blocks, n_blocks]: softmax over candidate key blocks
  // of scale · mean(q block)·mean(k block); candidates kb <= qb when causal, and
  // outside the query's own segment of segment_blocks blocks when that is > 0.
  SK_SCORE_MEANPOOL = 2,
  // out [batch, heads_q, seq]: the mean over the last `block` queries of
  // softmax over keys [0, key_count) of scale · q·k (0 from key_count on).
  SK_SCORE_KEY_IMPORTANCE = 3,
  // out [batch, heads_q, 2, seq] (MInference's vertical and slash lines): with
  // p_i the causal softmax of query i over keys j <= i and the last
  // n = min(block, seq) queries scored, out[.., 0, j] = Σ_i p_i[j] / n (the
  // vertical line of key j) and out[.., 1, o] = Σ_i p_i[i - o] / n (the slash
  // line at distance o). key_count is seq.
  SK_SCORE_VERTICAL_SLASH = 4,
};

struct sk_block_scores_params {
  const void* q;
  const void* k;
  float* out;
  sk_dtype dtype;  // SK_F32, SK_F16 or SK_BF16
  int32_t method;  // sk_score_method
  int64_t batch, heads_q, heads_kv, seq, head_dim;
  int64_t q_stride_b, q_stride_h, q_stride_s;  // elements
  int64_t k_stride_b, k_stride_h, k_stride_s;  // elements
  int32_t block;                               // tokens per block (query and key)
  int32_t stride;                              // XAttention: divides block
  int32_t segment_blocks;                      // MEANPOOL: blocks per segment whose own segment is excluded, 0 for none
  int64_t key_count;                           // KEY_IMPORTANCE: keys scored, 1..seq
  float scale;
  bool causal;
  int32_t blocks_per_pass;  // XAttention, CPU: query blocks per pass over the keys; 0: sk::xattention_blocks_per_pass
};

// dst[b, h, s, :] = src[b, h, idx[(b * heads + h) * seq + s], :], dst contiguous
// [batch, heads, seq, row]; rows are `row` elements of elem_size bytes.
struct sk_gather_rows_params {
  const void* src;
  void* dst;
  const int32_t* idx;  // each in [0, seq)
  size_t elem_size;    // bytes
  int64_t batch, heads, seq, row;
  int64_t src_stride_b, src_stride_h, src_stride_s;  // elements
};

// Block selection for dynamic sparse prefill (docs/prefill.md), one row of
// `scores` [rows][nb] per (batch, query head, query block qb = r % nb).
enum sk_select_rule {
  SK_SELECT_THRESHOLD = 1,  // sink and diagonal, then by mass up to threshold (XAttention's)
  SK_SELECT_TOPK = 2,       // sink and diagonal, then the highest up to budget blocks in all
  SK_SELECT_PERMUTED = 3,   // PBS-Attn: by mass among earlier segments, the sink's block, the own segment
};

// bits [rows][nb] = 0/1 per block, every entry written.
struct sk_select_params {
  const float* scores;
  uint8_t* bits;
  int32_t rule;  // sk_select_rule
  int64_t rows, nb;
  double threshold;           // THRESHOLD, PERMUTED: in (0, 1]; 1 keeps every candidate
  int64_t budget;             // TOPK
  bool causal;                // THRESHOLD, TOPK: candidates kb <= qb, else all
  int64_t segment_blocks;     // PERMUTED: blocks per segment
  const int32_t* sink_block;  // PERMUTED: [batch · heads_q / group], each in [0, nb)
  int64_t heads_q, group;     // PERMUTED: query heads, and query heads per key head
};

// The vertical-slash plan (docs/prefill.md, "vslash"): from the
// SK_SCORE_VERTICAL_SLASH scores, per query head a greedy choice of key
// columns (cost 1 key per query) and slash bands (the block-wide band of
// distances [t·block, (t+1)·block), cost 2·block keys), by estimated mass per
// key, among those heavier than kVslashHeavy / seq, until the estimated mass
// reaches `threshold` or the head has spent `budget` keys; a head left below
// half its mass (a diffuse head) gets a local window of the budget instead of
// more columns. Per (batch, key head) the union of its query heads' columns
// is stored first (position order, padded to whole blocks with the next
// heaviest), then every other key in order; each query head computes the
// column blocks and the blocks its bands reach on that layout.
struct sk_vslash_plan_params {
  const float* scores;  // [batch][heads_q][2][seq] (SK_SCORE_VERTICAL_SLASH)
  int32_t* indices;     // out [batch][heads_kv][seq]: original position of each slot
  uint8_t* bits;        // out [batch][heads_q][nb][nb], nb = ceil(seq / block): 0/1 per block of the layout
  float* coverage;      // out [batch][heads_q]: the estimated share of the scored queries' mass held
  int64_t batch, heads_q, heads_kv, seq;
  int32_t block;     // tokens per block (and per band of distances)
  int32_t queries;   // the last min(queries, seq) queries were scored (the scores' block)
  double threshold;  // in (0, 1]; 1 keeps every block
  int64_t budget;    // keys per query a head may spend, >= 1
};

// PBS-Attn's key order: per (batch, key head), the keys of each complete
// segment ([0, key_count), key_count a multiple of segment) by decreasing
// importance summed over the key head's query heads (ties: lower position
// first); keys from key_count on keep their order.
struct sk_segment_order_params {
  const float* importance;  // [batch][heads_q][seq]
  int32_t* indices;         // [batch][heads_kv][seq]: original positions
  int64_t batch, heads_q, heads_kv, seq, key_count, segment;
};

// ---------------------------------------------------------------------------
// Decode over a paged KV cache (csrc/core/decode.h: the page block layout,
// the FP8 scale rule and the selection rules; docs/decode.md).

// The pages of one cache as a kernel reads them (sk::KvPageLayout).
struct sk_kv_pages {
  sk_dtype type;               // SK_F32, SK_F16, SK_BF16 or SK_F8E4M3FN
  int32_t kv_heads, head_dim;  // head_dim: a multiple of 16, at most 256
  int32_t page_size;           // tokens: a multiple of 16 from 16 to 128
  uint8_t* const* kv;          // [batch][table_stride] each logical page's (page, KV head 0) block
  uint8_t* const* meta;        // [batch][table_stride] each logical page's metadata block
  int64_t table_stride;        // entries per sequence
  int64_t head_stride;         // bytes from a page's block of KV head g to that of g + 1
};

// cache.append: tokens [0, count[b]) of k[b, g] and v[b, g] become tokens
// start[b] … start[b] + count[b] − 1 of sequence b; the pages that holds are reserved.
struct sk_kv_append_params {
  const void* k;
  const void* v;
  sk_dtype in_type;                            // SK_F32, SK_F16 or SK_BF16
  int64_t batch, seq;                          // seq: tokens in k and v per sequence
  int64_t k_stride_b, k_stride_h, k_stride_s;  // elements
  int64_t v_stride_b, v_stride_h, v_stride_s;  // elements
  const int64_t* start;                        // [batch] tokens already in each sequence
  const int64_t* count;                        // [batch] tokens appended, ≤ seq
  sk_kv_pages cache;
};

enum sk_decode_method {
  SK_DECODE_DENSE = 0,  // every page
  SK_DECODE_QUEST = 1,  // sink and recent pages, then the highest page bounds up to the budget
};

// decodeAttention: out[b, h, i] = softmax over the selected keys j visible to
// query i (j < start + i + 1 with start = lengths[b] − seq_q) of
// scale · q[b, h, i] · k[b, g, j], times v[b, g, j]; g = h / (heads_q / kv_heads).
// The driver writes which logical pages each (batch, KV head) read to
// sel_count / sel_pages (increasing page indices).
struct sk_decode_params {
  const void* q;
  void* out;                                   // q's type and shape
  float* lse;                                  // [batch, heads_q, seq_q] natural log, or null
  sk_dtype q_type;                             // SK_F32, SK_F16 or SK_BF16
  int64_t batch, heads_q, seq_q;               // seq_q: 1 … 8 query tokens, the last of each sequence
  int64_t q_stride_b, q_stride_h, q_stride_s;  // elements
  int64_t out_stride_b, out_stride_h, out_stride_s;
  float scale;
  const int64_t* lengths;  // [batch] tokens in each sequence, ≥ seq_q
  sk_kv_pages cache;
  int32_t method;                            // sk_decode_method
  int64_t budget;                            // QUEST: pages per (batch, KV head), sink and recent included
  int64_t sink, recent;                      // QUEST: tokens whose pages are always kept
  const uint8_t* streaming;                  // [kv_heads] 1: the head reads only its streaming pages; or null
  int64_t streaming_sink, streaming_recent;  // tokens whose pages a streaming head reads
  // QUEST's top pages (the selection minus sink and recent) per (batch, KV
  // head), [batch][kv_heads][top_stride]: read when reuse_top, else written.
  int32_t* top_count;
  int32_t* top_pages;
  int64_t top_stride;
  bool reuse_top;
  int32_t* sel_count;  // [batch][kv_heads]
  int32_t* sel_pages;  // [batch][kv_heads][sel_stride]
  int64_t sel_stride;  // ≥ the most pages of any sequence
};
