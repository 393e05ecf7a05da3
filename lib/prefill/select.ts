/**
 * Block selection from block scores, and PBS-Attn's segment order, for
 * dynamic sparse prefill: thin calls into csrc/cpu/prefill/select.cc on the
 * CPU executor (the rules are documented there and in docs/prefill.md).
 * Scores are row-major [rows, nb] (a row per (batch, head, query block)); a
 * selection is 0/1 per block in the same layout. On CUDA the scores come
 * back to the host and are selected here too.
 * @internal
 * @module
 */
import { allocating, callNative } from '../errors.js'
import { cpuBinding, type SelectBlocksArgs } from '../native.js'

async function select(
  scores: Float32Array,
  rows: number,
  sinkBlock: Int32Array | null,
  args: SelectBlocksArgs,
): Promise<Uint8Array> {
  const bits = allocating('the selected blocks', () => new Uint8Array(rows * args.nb))
  await callNative(() => cpuBinding().selectBlocks(scores, sinkBlock, bits, args))
  return bits
}

/**
 * XAttention's selection (also used for mean-pooled scores): per row the sink
 * (block 0) and the diagonal block are kept, then blocks by descending score
 * (ties to the lower block) while the kept mass is below threshold × the
 * row's total; the block that crosses is kept, threshold 1 keeps every candidate.
 * @example
 * ```ts
 * await selectByThreshold(new Float32Array([1, 0, 0.2, 0.8]), 1, 2, 0.9, true) // [1, 0, 1, 1]
 * ```
 */
export function selectByThreshold(
  scores: Float32Array,
  rows: number,
  nb: number,
  threshold: number,
  causal: boolean,
): Promise<Uint8Array> {
  return select(scores, rows, null, { rule: 1, rows, nb, threshold, causal })
}

/**
 * Top-k selection: per row the sink and the diagonal block, then the highest
 * scored candidates up to `budget` blocks in the row (fewer when the row has fewer candidates).
 * @example
 * ```ts
 * await selectTopK(new Float32Array([1, 0, 0, 0.2, 0.5, 0.3, 0, 0, 0]), 3, 3, 2, true) // row 2 keeps blocks 0 and 2
 * ```
 */
export function selectTopK(
  scores: Float32Array,
  rows: number,
  nb: number,
  budget: number,
  causal: boolean,
): Promise<Uint8Array> {
  return select(scores, rows, null, { rule: 2, rows, nb, budget, causal })
}

/**
 * PBS-Attn's selection on the permuted layout: candidates are the key blocks
 * of earlier segments (scores from mean-pooled Q and permuted K with the
 * query's own segment excluded); blocks by descending score until the mass
 * reaches threshold × total; then the block holding original token 0 (the
 * sink, `sinkBlock[row's batch and key head]`) and every block of the query's
 * own segment (the permuted-causal rule cuts those per token).
 * @param headsQ / group query heads, and query heads per key head, to find a row's key head.
 * @example
 * ```ts
 * const bits = await selectPermuted(scores, B * Hq * nb, nb, 2, 0.9, sinkBlock, Hq, Hq / Hkv)
 * ```
 */
export function selectPermuted(
  scores: Float32Array,
  rows: number,
  nb: number,
  segmentBlocks: number,
  threshold: number,
  sinkBlock: Int32Array,
  headsQ: number,
  group: number,
): Promise<Uint8Array> {
  return select(scores, rows, sinkBlock, { rule: 3, rows, nb, threshold, segmentBlocks, headsQ, group })
}

/**
 * PBS-Attn's key order from the key importance [batch, headsQ, seq]: per
 * (batch, key head) the keys of each complete segment (the first `keyCount`,
 * a multiple of `segment`) by decreasing importance summed over the key
 * head's query heads (ties: the lower position first); the tail keeps its
 * order. Returns the original positions, [batch, headsKv, seq].
 * @example
 * ```ts
 * const indices = await segmentOrder(importance, { batch: 1, headsQ: 4, headsKv: 4, seq: S, keyCount, segment: 256 })
 * ```
 */
export async function segmentOrder(
  importance: Float32Array,
  d: { batch: number; headsQ: number; headsKv: number; seq: number; keyCount: number; segment: number },
): Promise<Int32Array> {
  const indices = allocating('the permutation', () => new Int32Array(d.batch * d.headsKv * d.seq))
  await callNative(() => cpuBinding().segmentOrder(importance, indices, d))
  return indices
}
