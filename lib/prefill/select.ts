/**
 * Block selection from block scores, for dynamic sparse prefill. Scores are
 * row-major [rows, nb] (a row per (batch, head, query block)); a selection is
 * 0/1 per block in the same layout. O(rows · nb log nb), far below the cost
 * of the scores, so it runs here, where the BlockMask is built.
 * @internal
 * @module
 */

/** Candidate key blocks of query block qb: kb ≤ qb when causal, every block otherwise. */
const lastCandidate = (qb: number, nb: number, causal: boolean) => (causal ? Math.min(qb, nb - 1) : nb - 1)

/**
 * Adds to `bits` (row at `base`), beyond the blocks already set (whose score
 * counts as kept mass), the highest-scored candidates until the kept mass
 * reaches threshold · total; the block that crosses is kept. threshold 1
 * keeps every candidate. Ties go to the lower block index.
 */
function fillByMass(scores: Float32Array, bits: Uint8Array, base: number, cands: number[], threshold: number): void {
  if (threshold >= 1) {
    for (const kb of cands) bits[base + kb] = 1
    return
  }
  let total = 0, mass = 0, n = 0
  if (order.length < cands.length) order = new Int32Array(cands.length)
  for (const kb of cands) {
    total += scores[base + kb]!
    if (bits[base + kb]) mass += scores[base + kb]!
    else order[n++] = kb
  }
  const need = threshold * total
  for (const kb of byScore(scores, base, order, n)) {
    if (mass >= need) break
    bits[base + kb] = 1
    mass += scores[base + kb]!
  }
}

let order = new Int32Array(256)
let keys = new Float64Array(256)

/**
 * The first n entries of `order` (key blocks) by decreasing score, ties to the
 * lower block. Scores (float32, ≥ 0) are exact in float64 with 29 spare
 * mantissa bits, which carry the tie-break, so a native numeric sort does it.
 */
function byScore(scores: Float32Array, base: number, idx: Int32Array, n: number): Int32Array {
  if (keys.length < n) keys = new Float64Array(n)
  const k = keys.subarray(0, n), words = new Uint32Array(keys.buffer, 0, 2 * n)
  for (let t = 0; t < n; t++) {
    k[t] = scores[base + idx[t]!]!
    words[2 * t] = (words[2 * t]! | (0x1fffffff - idx[t]!)) >>> 0 // the low 29 bits are zero for a float32 value
  }
  k.sort()
  const out = new Int32Array(n)
  for (let t = 0; t < n; t++) out[t] = 0x1fffffff - (words[2 * (n - 1 - t)]! & 0x1fffffff)
  return out
}

/**
 * XAttention's selection (also used for mean-pooled scores): per row the sink
 * (block 0) and the diagonal block are kept, then blocks by descending score
 * while the kept mass is below threshold × the row's total.
 * @example
 * ```ts
 * selectByThreshold(new Float32Array([1, 0, 0.2, 0.8]), 1, 2, 0.9, true) // [1, 0, 1, 1]
 * ```
 */
export function selectByThreshold(scores: Float32Array, rows: number, nb: number, threshold: number, causal: boolean): Uint8Array {
  const bits = new Uint8Array(rows * nb)
  for (let r = 0; r < rows; r++) {
    const qb = r % nb, base = r * nb, last = lastCandidate(qb, nb, causal)
    const cands: number[] = []
    for (let kb = 0; kb <= last; kb++) cands.push(kb)
    bits[base] = 1
    bits[base + Math.min(qb, nb - 1)] = 1
    fillByMass(scores, bits, base, cands, threshold)
  }
  return bits
}

/**
 * Top-k selection: per row the sink and the diagonal block, then the highest
 * scored candidates up to `budget` blocks in the row (fewer when the row has fewer candidates).
 * @example
 * ```ts
 * selectTopK(new Float32Array([1, 0, 0, 0.2, 0.5, 0.3, 0, 0, 0]), 3, 3, 2, true) // row 2 keeps blocks 0 and 2
 * ```
 */
export function selectTopK(scores: Float32Array, rows: number, nb: number, budget: number, causal: boolean): Uint8Array {
  const bits = new Uint8Array(rows * nb)
  for (let r = 0; r < rows; r++) {
    const qb = r % nb, base = r * nb, last = lastCandidate(qb, nb, causal)
    bits[base] = 1
    bits[base + Math.min(qb, nb - 1)] = 1
    let kept = qb === 0 ? 1 : 2
    const rest: number[] = []
    for (let kb = 1; kb <= last; kb++) if (!bits[base + kb]) rest.push(kb)
    rest.sort((a, b) => scores[base + b]! - scores[base + a]! || a - b)
    for (const kb of rest) {
      if (kept >= budget) break
      bits[base + kb] = 1
      kept++
    }
  }
  return bits
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
 * const bits = selectPermuted(scores, B * Hq * nb, nb, 2, 0.9, sinkBlock, Hq, Hq / Hkv)
 * ```
 */
export function selectPermuted(
  scores: Float32Array, rows: number, nb: number, segmentBlocks: number, threshold: number,
  sinkBlock: Int32Array, headsQ: number, group: number,
): Uint8Array {
  const bits = new Uint8Array(rows * nb)
  for (let r = 0; r < rows; r++) {
    const qb = r % nb, base = r * nb, bh = Math.floor(r / nb)
    const segStart = Math.floor(qb / segmentBlocks) * segmentBlocks
    const cands: number[] = []
    for (let kb = 0; kb < segStart; kb++) cands.push(kb)
    fillByMass(scores, bits, base, cands, threshold)
    const kvRow = Math.floor(bh / headsQ) * (headsQ / group) + Math.floor((bh % headsQ) / group)
    const sink = sinkBlock[kvRow]!
    if (sink < segStart) bits[base + sink] = 1
    for (let kb = segStart; kb < Math.min(nb, segStart + segmentBlocks); kb++) bits[base + kb] = 1
  }
  return bits
}
