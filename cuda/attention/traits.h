// Tile shapes of the forward kernel per (head dim, dtype). The kernel is the
// sm_80 mma.sync path and runs unchanged on sm_89 and sm_90a (a wgmma
// kernel for sm_90a would get its own traits). Every choice has its reason.
#pragma once
#include <stddef.h>

#include "../../csrc/core/dtype.h"

namespace sk::cuda::attn {

// The compiled head dims are listed in instances.inc; a call's head dim runs
// on the smallest one that holds it, zero-padded in shared memory (80 runs on 96).

// 4 warps × 16 query rows: each warp owns one m16 row slice of the tile, so the
// softmax statistics of a row live in one quad of one warp and need no shared memory.
constexpr int attention_warps() { return 4; }
constexpr int attention_q_tile() { return 16 * attention_warps(); }

// 64 keys per tile keeps S (16×64 per warp = 32 floats per thread) beside the
// O accumulator in registers up to head dim 128; at 256 the O accumulator
// alone takes 128 floats per thread, so the key tile halves to 32.
constexpr int attention_kv_tile(int head_dim) { return head_dim <= 128 ? 64 : 32; }

// Q fragments stay in registers across key tiles (a quarter less shared
// memory traffic) while they fit: head_dim / 4 registers per thread.
constexpr bool attention_q_in_registers(int head_dim) { return head_dim <= 128; }

template <int HeadDim, class T>
struct FwdTraits {
  using Elem = T;
  static constexpr int kHeadDim = HeadDim;
  static constexpr int kWarps = attention_warps();
  static constexpr int kThreads = 32 * kWarps;
  static constexpr int kBlockM = attention_q_tile();
  static constexpr int kBlockN = attention_kv_tile(HeadDim);
  static constexpr bool kQInRegs = attention_q_in_registers(HeadDim);
  static_assert(HeadDim % 16 == 0, "the head dim is a whole number of MMA k-steps");
  static_assert(kBlockN % 16 == 0, "key tiles are whole MMA k-steps of P·V");
};

// The FP8 kernel (fwd_fp8_kernel.cuh, sm_89+): the same 4 × 16 query rows
// and key tiles, in m16n8k32 steps (32 head-dim bytes of Q·Kᵀ, 32 keys of
// P·V). Its O accumulator is float32 like the 16-bit kernel's, so the same
// register budget sets the key tile. Q stays in shared memory: P's
// fragments and the per-step partial sums of P·V already fill the
// registers Q would take (ptxas spills more with Q in registers at 128).
template <int HeadDim, sk_dtype Type>
struct FwdFp8Traits {
  static constexpr sk_dtype kType = Type;  // of q, k and v; P is always e4m3
  static constexpr int kHeadDim = HeadDim;
  static constexpr int kWarps = attention_warps();
  static constexpr int kThreads = 32 * kWarps;
  static constexpr int kBlockM = attention_q_tile();
  static constexpr int kBlockN = attention_kv_tile(HeadDim);
  static_assert(HeadDim % 32 == 0, "the head dim is a whole number of k32 steps");
  static_assert(kBlockN % 32 == 0, "key tiles are whole k32 steps of P·V");
};

}  // namespace sk::cuda::attn
