// attention()'s JS arguments → a checked plan: the kernel, its FwdParams
// (device pointers unset) and the mask's arrays packed into one host blob for
// a single upload. Every check memory safety depends on is here, on the JS
// thread, before anything is queued; attentionPick() runs it without a device.
#pragma once
#include <napi.h>

#include <stddef.h>
#include <stdint.h>

#include <memory>
#include <vector>

#include "../attention/attention.h"
#include "../attention/fwd_params.h"

namespace sk::cuda {

struct AttentionPlan {
  const AttentionKernel* kernel = nullptr;
  attn::FwdParams params{};
  // Bytes each buffer must hold for the shapes and strides (lse: 0 when absent).
  size_t q_bytes = 0, k_bytes = 0, v_bytes = 0, out_bytes = 0, lse_bytes = 0;
  // The mask, packed: counts and index lists, then the rules struct, then
  // each documents rule's segment ids. Offsets are bytes into the blob.
  std::shared_ptr<std::vector<unsigned char>> mask_blob;
  size_t full_num_at = 0, full_idx_at = 0, partial_num_at = 0, partial_idx_at = 0, rules_at = 0;
  struct SegFix {
    int term, rule;
    size_t q_at, kv_at;
  };
  std::vector<SegFix> seg_fixes;
  struct PosFix {  // a permuted-causal rule's kvPos
    int term, rule;
    size_t at;
  };
  std::vector<PosFix> pos_fixes;
  int64_t grid_x = 0;  // query tiles
};

// Parses args (AttentionArgs) and mask (NativeMask or null); throws a coded
// Napi::Error (ERR_SK_INVALID_ARGUMENT, _SHAPE, _DTYPE, _UNSUPPORTED) on
// anything the kernel cannot run safely and exactly.
AttentionPlan plan_attention(Napi::Env env, Napi::Value args, Napi::Value mask, bool with_lse);

// Points the plan's params at the uploaded blob at `device_blob`, patching
// the rules' segment pointers inside the host blob before it is copied.
void bind_mask(AttentionPlan& plan, unsigned char* device_blob);

}  // namespace sk::cuda
