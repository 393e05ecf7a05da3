// Unstructured sparse weights on the CPU: analysis (block fill per block
// size), packing into the kernels' layout, the checks every packed array
// crossing from JS passes, and the driver that runs the SpMM / SpMV
// micro-kernels over the thread pool. Layout: docs/formats.md, "CSR sparse
// weights"; params: sk_spmm_params (csrc/core/params.h).
#pragma once
#include <stddef.h>
#include <stdint.h>

#include <vector>

#include "../../core/params.h"
#include "../../core/status.h"
#include "../f32-spmv/f32-spmv.h"
#include "f32-spmm.h"

// What packing a [n, k] matrix in blocks of 1, 2 and 4 channels would store.
// Index 0, 1, 2 = blocks of 1, 2, 4.
struct sk_spmm_analysis {
  int64_t nnz;             // non-zeros (-0.0 counts as zero; NaN as non-zero)
  int64_t blocks[3];       // non-zero blocks, remainder channels' single blocks included
  int64_t values[3];       // values stored: nr per block of a full group, 1 per remainder block
  int64_t full_nnz[3];     // non-zeros inside full groups
  int64_t full_blocks[3];  // non-zero blocks of full groups
};

sk_spmm_analysis sk_spmm_analyze(const float* w, int64_t n, int64_t k);

// The block size to pack with: 4, then 2, when their measured fill passes
// sk::spmm_block_fill_ok; 1 otherwise.
int32_t sk_spmm_choose_nr(const sk_spmm_analysis& a);

// Writes the packed arrays: sk_spmm_groups(n, nr) entries of nnzmap, and
// exactly `blocks` columns and `values` values (sk_spmm_analyze's counts for
// this nr). Returns false, having written no more than that, if w holds a
// different number (it changed since the analysis).
bool sk_spmm_pack(const float* w, int64_t n, int64_t k, int32_t nr, uint32_t* nnzmap, int32_t* cols, int64_t blocks,
                  float* values, int64_t values_count);

// out = w with its `count` smallest magnitudes zeroed, over all `length`
// entries (sparsify's `sparsity`): NaN ranks above every number and is never
// zeroed; ties at the threshold are zeroed in index order. Returns false if
// the scratch (one float per entry) cannot be allocated.
bool sk_spmm_prune_magnitude(const float* w, int64_t length, int64_t count, float* out);

// Number of groups for n channels in blocks of nr.
static inline int64_t sk_spmm_groups(int64_t n, int32_t nr) { return n / nr + n % nr; }

// Checks packed arrays from an untrusted source: counts non-negative and
// summing to `blocks`, columns in [0, k) and increasing within each group,
// `values` equal to what the counts imply. On success fills the prefix sums
// group_blocks / group_values ([groups + 1] each); on failure returns
// SK_ERR_INVALID_ARGUMENT or SK_ERR_SHAPE with a message in `why` (≥ 256 bytes).
sk_status sk_spmm_check(int64_t n, int64_t k, int32_t nr, const uint32_t* nnzmap, int64_t groups, const int32_t* cols,
                        int64_t blocks, int64_t values, int64_t* group_blocks, int64_t* group_values, char* why);

// The input stride (elements between two input channels) the kernels walk:
// sk::spmm_channel_stride of the pixels per image for SK_SPMM_CHANNELS (the
// driver copies x to that stride when it differs), the panel width for SK_SPMM_ROWS.
int64_t sk_spmm_input_stride(const sk_spmm_params& p);

// Whether the op runs the matrix-vector kernels (a linear layer with few rows).
bool sk_spmm_uses_spmv(const sk_spmm_params& p);
// Whether uint16 columns can hold every input channel (k ≤ 65536): the SpMV
// then streams 6 bytes per non-zero instead of 8.
static inline bool sk_spmm_cols16_ok(int64_t k) { return k <= 65536; }
// Input channels per slice for this weight (sk::spmm_k_slice of its density).
int64_t sk_spmm_slice_width(const sk_spmm_params& p);
// Whether the op runs slice by slice (K past sk_spmm_slice_width, SpMM kernels).
bool sk_spmm_uses_slices(const sk_spmm_params& p);

// dmap[i] = (cols[i + 1] - cols[i]) · stride, 0 for the last block. Returns
// false if some increment leaves int32 (k · stride ≥ 2^31).
bool sk_spmm_build_dmap(const int32_t* cols, int64_t blocks, int64_t k, int64_t stride, int32_t* dmap);

// The packed arrays re-cut into input-channel slices of kc, slice-major: slice
// s holds, per group, the blocks whose columns fall in [s·kc, (s + 1)·kc)
// (contiguous, since columns increase within a group). An op whose K spans
// more than one slice (sk_spmm_uses_slices) runs slice by slice, so the rows
// of x a slice touches (kc × one tile of rows) stay in L1 while its weights
// stream; otherwise every non-zero's row load would come from L2 or L3.
struct sk_spmm_slices {
  int64_t kc = 0, count = 0;          // slice width, number of slices
  int64_t stride = 0;                 // the input stride dmap is for (sk_spmm_input_stride)
  std::vector<uint32_t> nnzmap;       // [count][groups]
  std::vector<int32_t> cols;          // [blocks] slice-major
  std::vector<float> values;          // [values] slice-major
  std::vector<int32_t> dmap;          // [blocks] increments for `stride`
  std::vector<int64_t> group_blocks;  // [count][groups + 1] first block of each group in `cols`
  std::vector<int64_t> group_values;  // [count][groups + 1] first value of each group in `values`
};

// Builds p's arrays cut into slices of kc input channels, with increments for
// p's input stride (p as sk_cpu_spmm_run takes it; x, out and bias unused).
// Throws std::bad_alloc when out of memory.
void sk_spmm_build_slices(const sk_spmm_params& p, int64_t kc, sk_spmm_slices* out);

// What sk_cpu_spmm_pick() (dispatch.h) answers.
struct sk_spmm_kernel {
  sk_f32_spmm_ukernel_fn spmm;  // null when unsupported
  const char* spmm_name;        // e.g. "sk_f32_spmm_ukernel_32x1__avx2"
  int32_t mr;
  sk_f32_spmv_ukernel_fn spmv;  // int32 columns
  const char* spmv_name;
  sk_f32_spmv16_ukernel_fn spmv16;  // uint16 columns (sk_spmm_params::cols16)
  const char* spmv16_name;
};

namespace sk {
class ThreadPool;
}

// Runs the op; dmap is sk_spmm_build_dmap's for sk_spmm_input_stride(p)
// (unused, may be null, when sk_spmm_uses_spmv(p)). With `slices`
// (sk_spmm_build_slices for p) the op runs slice by slice. Returns
// SK_ERR_OUT_OF_MEMORY if the scratch cannot be allocated, and
// SK_ERR_INVALID_ARGUMENT for slices of another input stride or no dmap.
sk_status sk_cpu_spmm_run(const sk_spmm_params& p, const sk_spmm_kernel& k, const int32_t* dmap, sk::ThreadPool& pool,
                          const sk_spmm_slices* slices = nullptr);
