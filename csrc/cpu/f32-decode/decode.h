// CPU decode over a paged KV cache: the contract between the baseline driver
// (driver.cc: selection, splitting the pages into tasks over the thread pool
// as flash-decoding does, merging the tasks' softmax states; append.cc) and
// the per-ISA kernels (f32-decode-<isa>.cc), which read the pages in their own
// type and widen them in registers (csrc/cpu/widen.h).
#pragma once
#include <stddef.h>
#include <stdint.h>

#include "../../core/cpu_features.h"
#include "../../core/params.h"
#include "../../core/status.h"

// One task: a run of one (batch, KV head)'s selected pages, for every query
// row of that KV head. Its softmax state (base 2) goes to m, l, o.
struct sk_decode_task {
  const float* q;              // [rows][head_dim], scaled by scale · log2(e)
  const uint8_t* const* kv;    // [count] each page's (page, KV head g) block (sk::KvPageLayout)
  const uint8_t* const* meta;  // [count] each page's metadata block
  const int32_t* page_index;   // [count] their logical pages, increasing (first token = index · page_size)
  int32_t count;
  int32_t rows, seq_q;  // rows = (heads_q / kv_heads) · seq_q; row r is query token r % seq_q
  int32_t g;            // the KV head
  int64_t length;       // tokens in the sequence
  sk_kv_pages cache;    // type and geometry (its tables are not read)
  float* m;             // [rows] running max, log2 units (-inf: nothing seen)
  float* l;             // [rows] sum of 2^(s − m)
  float* o;             // [rows][head_dim] Σ 2^(s − m) · v
};

// A kernel set's task loop; scratch holds sk_decode_scratch_floats(rows, page) floats.
typedef void (*sk_decode_task_fn)(const sk_decode_task* t, float* scratch);

// Quest's page bounds of `count` pages (their metadata blocks) for KV heads [g0, g0 + gn):
// score[i · ld + g − g0] = k_scale[g] · Σ_{rows r} Σ_d max(q_r[d] · min[g][d], q_r[d] · max[g][d]), computed as
// k_scale[g] · Σ_d (pos[g][d] · max[g][d] + neg[g][d] · min[g][d]) with bounds [kv_heads][2][head_dim]
// holding pos = Σ_r max(q_r, 0) and neg = Σ_r min(q_r, 0): the same sum (min ≤ max), whatever the rows.
struct sk_quest_score_job {
  const float* bounds;
  const uint8_t* const* meta;  // [count]
  int64_t count, g0, gn;
  const sk_kv_pages* cache;
  float* score;
  int64_t ld;
};
typedef void (*sk_quest_score_fn)(const sk_quest_score_job* j);

static inline size_t sk_decode_scratch_floats(int64_t rows, int64_t page) {
  const int64_t group = page < 128 ? 128 : page;        // the kernels score pages in groups of up to 128 tokens
  return static_cast<size_t>(rows * (group + 1) + 16);  // scores [rows][group], alpha [rows]
}

// What sk_cpu_decode_pick() answers.
struct sk_decode_kernel {
  sk_decode_task_fn fn;  // null when unsupported
  sk_quest_score_fn score;
  const char* name;  // e.g. "sk_f32_decode_ukernel__avx512"
};

namespace sk {
class ThreadPool;
}

// The kernel set for an ISA; fn is null if the ISA was not built here or the
// cache or queries are outside what the kernels take (page type, page size,
// head dim, seq_q, heads_q a multiple of kv_heads).
sk_decode_kernel sk_cpu_decode_pick(const sk_decode_params& p, sk_isa isa);

// Selects the pages, runs the tasks and merges them into out and lse.
// SK_ERR_OUT_OF_MEMORY when the scratch cannot be allocated.
sk_status sk_cpu_decode_run(const sk_decode_params& p, const sk_decode_kernel& k, sk::ThreadPool& pool);

// cache.append: writes the tokens into their reserved pages (FP8 scales,
// Quest metadata), one task per (batch, KV head); `cast` converts rows
// (sk_cpu_cast_pick's kernel for this ISA).
sk_status sk_cpu_kv_append_run(const sk_kv_append_params& p, void (*cast)(const sk_cast_params*), sk::ThreadPool& pool);
