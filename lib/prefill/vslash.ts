/**
 * The vertical-slash plan for dynamic sparse prefill (MInference's pattern,
 * chosen per head as FlexPrefill does, at key-column granularity): the last
 * block of queries' attention gives each key's vertical line and each
 * distance's slash line (`blockScores` method 4, on q's device); the plan
 * (csrc/cpu/prefill/vslash.cc, on the CPU executor) picks per query head the
 * heavy columns and slash bands, and lays each key head's keys out with its
 * heads' columns first, so that a block-sparse kernel over the permuted-causal
 * rule computes exactly those columns plus whole blocks of the bands.
 * @internal
 * @module
 */
import { allocating, callNative } from '../errors.js'
import { cpuBinding } from '../native.js'
import type { Tensor } from '../tensor.js'
import { blockScores, type PrefillShape } from './native.js'

/** The last queries whose attention is scored (MInference's last_q). */
export const kScoredQueries = 64

/** What {@link vslashPlan} returns. */
export interface VslashPlan {
  /** [B, Hkv, S]: the original position of the key at each slot. */
  indices: Int32Array
  /** [B, Hq, nb, nb], 0/1: the blocks of the permuted layout each query block computes (before the causal rule). */
  bits: Uint8Array
  /** [B, Hq]: the estimated share of the last queries' attention the plan holds. */
  coverage: Float32Array
}

/**
 * Scores the last `queries` queries' vertical and slash lines and plans the
 * columns, bands and key layout (docs/prefill.md, "vslash").
 * @param threshold - the estimated mass to reach per head, in (0, 1]; 1 keeps every block.
 * @param budget - keys per query a head may spend beyond the sink column and the diagonal band.
 * @example
 * ```ts
 * const plan = await vslashPlan(q, k, checkQkv(q, k), 128, 0.998, 8192)
 * ```
 */
export async function vslashPlan(
  q: Tensor,
  k: Tensor,
  s: PrefillShape,
  blockSize: number,
  threshold: number,
  budget: number,
  queries = kScoredQueries,
): Promise<VslashPlan> {
  const nb = Math.ceil(s.seq / blockSize)
  const plan: VslashPlan = allocating('the vertical-slash plan', () => ({
    indices: new Int32Array(s.batch * s.headsKv * s.seq),
    bits: new Uint8Array(s.batch * s.headsQ * nb * nb),
    coverage: new Float32Array(s.batch * s.headsQ),
  }))
  if (s.batch === 0) return plan
  const lines = await blockScores(q, k, s, {
    method: 4,
    block: queries,
    stride: 1,
    segmentBlocks: 0,
    keyCount: s.seq,
    causal: true,
  })
  const args = {
    batch: s.batch,
    headsQ: s.headsQ,
    headsKv: s.headsKv,
    seq: s.seq,
    block: blockSize,
    queries,
    threshold,
    budget,
  }
  await callNative(() => cpuBinding().vslashPlan(lines, plan.indices, plan.bits, plan.coverage, args))
  return plan
}
