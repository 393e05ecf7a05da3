/**
 * The block mask of attention over permuted keys (PBS-Attn): keys are stored
 * in a permuted order, and query i sees the key at slot j when its original
 * position kvPos[j] ≤ i + offset. Each (query block, key block) is classified
 * exactly from the key block's smallest and largest original position, in
 * O(blocks) after one O(tokens) pass over kvPos.
 * @internal
 * @module
 */
import { invalidArgument, shapeError } from '../errors.js'
import { checkInt, checkOptions, is, lengthOf } from '../validate.js'
import { type BlockSize, checkLen, emptyParts, kMaxBatchHeads, type MaskParts, parseBlockSize } from './builders.js'
import { RuleKind } from './rules.js'

/** Options of `BlockMask.permutedCausal` (see its TSDoc). */
export interface PermutedCausalOptions {
  /** Int32Array [batch, keyHeads, kvLen]: each row a permutation of 0..kvLen − 1. */
  permutation: Int32Array
  /** The permutation's [batch, keyHeads, kvLen]. */
  dims: readonly [number, number, number]
  /** Query heads, a multiple of keyHeads. */
  headsQ: number
  /** Query length, at most kvLen. */
  qLen: number
  /** As the other builders. */
  blockSize: BlockSize
  /** Optional 0/1 per block [batch, headsQ, nQBlocks, nKvBlocks]: only those blocks. */
  keep?: Uint8Array
}

/** Checks `BlockMask.permutedCausal`'s options and builds its parts. */
export function permutedCausalParts(opts: PermutedCausalOptions): MaskParts {
  const o = checkOptions('options', opts, ['permutation', 'dims', 'headsQ', 'qLen', 'blockSize', 'keep'])
  const dims = o.dims as unknown
  if (!Array.isArray(dims) || dims.length !== 3) throw invalidArgument('dims', '[batch, keyHeads, kvLen]', dims)
  const batch = checkInt('dims[0]', dims[0], 1, kMaxBatchHeads),
    heads = checkInt('dims[1]', dims[1], 1, kMaxBatchHeads)
  const kvLen = checkLen('dims[2]', dims[2])
  const headsQ = checkInt('headsQ', o.headsQ, 1, kMaxBatchHeads)
  if (headsQ % heads !== 0) throw shapeError('headsQ', `a multiple of the key heads (${heads})`, headsQ)
  const qLen = checkLen('qLen', o.qLen)
  if (qLen > kvLen) throw shapeError('qLen', `at most kvLen (${kvLen})`, qLen)
  const perm = checkPermutation('permutation', o.permutation, batch * heads, kvLen)
  const bs = parseBlockSize(o.blockSize)
  let keep: { bits: Uint8Array; batch: number } | undefined
  if (o.keep !== undefined) {
    const n = batch * headsQ * Math.ceil(qLen / bs.q) * Math.ceil(kvLen / bs.kv)
    if (!is.uint8Array(o.keep) || lengthOf(o.keep) !== n)
      throw invalidArgument('keep', `a Uint8Array of ${n} blocks [batch, headsQ, nQBlocks, nKvBlocks]`, o.keep)
    keep = { bits: o.keep, batch }
  }
  return buildPermutedCausal(perm, batch, heads, headsQ, qLen, kvLen, bs, keep)
}

/**
 * Checks that each row of `perm` ([rows, len], row-major) is a bijection of
 * [0, len): every index in range and none twice.
 * @throws ERR_SK_INVALID_ARGUMENT naming the first bad row and entry.
 * @example
 * ```ts
 * checkPermutation('permutation', new Int32Array([1, 0, 2]), 1, 3) // ok
 * ```
 */
export function checkPermutation(name: string, perm: unknown, rows: number, len: number): Int32Array {
  if (!is.int32Array(perm)) throw invalidArgument(name, 'an Int32Array', perm)
  if (lengthOf(perm) !== rows * len)
    throw shapeError(`${name}.length`, `${rows * len} (${rows} rows of ${len})`, lengthOf(perm))
  const seen = new Uint8Array(len)
  for (let r = 0; r < rows; r++) {
    seen.fill(0)
    for (let j = 0; j < len; j++) {
      const x = perm[r * len + j]!
      if (x < 0 || x >= len || seen[x])
        throw invalidArgument(
          `${name}[${r * len + j}] (row ${r})`,
          `a permutation of 0..${len - 1} in each row (in range, no repeats)`,
          x,
        )
      seen[x] = 1
    }
  }
  return perm
}

/**
 * Parts of the permuted-causal mask. kvPos is [posBatch, posHeads, kvLen]
 * (posHeads key heads, shared by headsQ / posHeads query heads each). Without
 * `keep` the mask has batch posBatch and heads 1 (posHeads 1) or headsQ; with
 * `keep` (0/1 per block, [keepBatch, headsQ, nQBlocks, nKvBlocks]) only kept
 * blocks are classified, and the mask has keepBatch × headsQ rows: one pass
 * for PBS-Attn's selection ANDed with the rule.
 * @example
 * ```ts
 * const p = buildPermutedCausal(perm, 1, 2, 8, 4096, 4096, { q: 128, kv: 128 })
 * ```
 */
export function buildPermutedCausal(
  kvPos: Int32Array,
  posBatch: number,
  posHeads: number,
  headsQ: number,
  qLen: number,
  kvLen: number,
  bs: { q: number; kv: number },
  keep?: { bits: Uint8Array; batch: number },
): MaskParts {
  const group = headsQ / posHeads
  const batch = keep ? keep.batch : posBatch,
    heads = keep || posHeads !== 1 ? headsQ : 1
  const p = emptyParts(batch, heads, qLen, kvLen, bs)
  const nK = p.nKvBlocks,
    nQ = p.nQBlocks,
    off = kvLen - qLen
  // smallest and largest original position per (position row, key block)
  const lo = new Int32Array(posBatch * posHeads * nK),
    hi = new Int32Array(lo.length)
  for (let row = 0; row < posBatch * posHeads; row++)
    for (let kb = 0; kb < nK; kb++) {
      let mn = kvLen,
        mx = -1
      for (let j = kb * bs.kv, end = Math.min(kvLen, j + bs.kv); j < end; j++) {
        const x = kvPos[row * kvLen + j]!
        if (x < mn) mn = x
        if (x > mx) mx = x
      }
      lo[row * nK + kb] = mn
      hi[row * nK + kb] = mx
    }
  for (let b = 0; b < batch; b++)
    for (let h = 0; h < heads; h++) {
      const pr = ((posBatch === 1 ? 0 : b) * posHeads + (posHeads === 1 ? 0 : Math.floor(h / group))) * nK
      for (let qb = 0; qb < nQ; qb++) {
        const r = (b * heads + h) * nQ + qb,
          base = r * nK
        const L0 = qb * bs.q + off,
          L1 = Math.min(qLen, (qb + 1) * bs.q) - 1 + off
        let nf = 0,
          np = 0
        for (let kb = 0; kb < nK; kb++) {
          if ((keep && !keep.bits[base + kb]) || lo[pr + kb]! > L1) continue
          if (hi[pr + kb]! <= L0) p.fullIdx[base + nf++] = kb
          else p.partialIdx[base + np++] = kb
        }
        p.fullNum[r] = nf
        p.partialNum[r] = np
      }
    }
  p.rules = [[{ kind: RuleKind.permutedCausal, kvPos, posBatch, posHeads, posGroup: group }]]
  return p
}
