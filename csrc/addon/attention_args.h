// attention()'s arguments, parsed and checked once for both bindings
// (csrc/addon/op_attention.cc and cuda/binding/attention.cc): the args object
// (AttentionArgs in lib/native.ts) and the mask (NativeMask or null). Every
// check memory safety depends on is here, on the JS thread, with the codes of
// args.h; what a backend can run is its pick()'s answer, not this parser's.
// The mask's arrays are copied, so JS cannot change them between these
// checks and the kernel.
#pragma once
#include <napi.h>
#include <stddef.h>
#include <stdint.h>

#include <memory>
#include <vector>

#include "../core/params.h"

namespace sk {

// The block mask packed into one buffer: the four block lists, each
// documents rule's segment ids, each permuted-causal rule's kvPos, then the
// rules struct, every part 16-byte aligned. The CPU kernels read it where it
// is; CUDA uploads it in one copy.
struct MaskBlob {
  std::vector<unsigned char> bytes;
  sk_block_mask mask{};  // geometry; its pointers are set by bind()
  size_t full_num_at = 0, full_idx_at = 0, partial_num_at = 0, partial_idx_at = 0, rules_at = 0;
  struct Fix {  // where a rule's per-token arrays sit in bytes
    int term, rule;
    size_t a_at, b_at;  // documents: qSeg, kvSeg; permuted causal: kvPos (a only)
  };
  std::vector<Fix> fixes;

  // Points the mask's arrays, and the rules' per-token arrays, into a copy of
  // `bytes` at `base` (bytes.data() itself on the CPU, the upload on CUDA),
  // writing the rules with those pointers into `bytes` too, so a copy made
  // afterwards carries them. Returns the mask.
  const sk_block_mask& bind(const unsigned char* base);
};

// FP8 attention's scales (args.fp8), copied like the mask so JS cannot
// change them under the kernel; the CPU reads the copies in place.
struct Fp8Scales {
  std::vector<float> q, k, v, k_mean;  // k_mean empty: k not smoothed
  sk_fp8_scales scales{};              // the tile, and pointers into the vectors
};

struct AttentionCall {
  sk_attention_params params{};  // every pointer (q, k, v, out, lse, mask) unset
  // Elements each buffer must hold for the shapes and strides; lse is
  // batch · headsQ · seqQ when asked for, else 0.
  int64_t q_elems = 0, k_elems = 0, v_elems = 0, out_elems = 0, lse_elems = 0;
  std::shared_ptr<MaskBlob> mask;  // null: dense
  std::shared_ptr<Fp8Scales> fp8;  // null unless q, k, v are FP8
};

// Parses and checks args and mask (null or undefined: dense); throws a coded
// Napi::Error on anything a kernel could not run safely.
AttentionCall parse_attention(Napi::Env env, const Napi::Value& args, const Napi::Value& mask, bool with_lse);

// attentionPick's optional `bytes` ({ q, k, v, out, lse }: byte lengths, lse
// null for none): ERR_SK_SHAPE when one is shorter than the call needs.
void check_pick_bytes(Napi::Env env, const AttentionCall& call, const Napi::Value& bytes);

}  // namespace sk
