/**
 * and / or of two masks' parts, block by block, O(blocks).
 * @internal
 * @module
 */
import { shapeError, SparsekitError } from '../errors.js'
import { emptyParts, type MaskParts } from './builders.js'
import { andRules, orRules, rulesImply, type RuleSet } from './rules.js'

/** Row offsets of mask m for the result's (b, h), broadcasting size-1 batch / heads. */
const rowOf = (m: MaskParts, b: number, h: number) =>
  ((m.batch === 1 ? 0 : b) * m.heads + (m.heads === 1 ? 0 : h)) * m.nQBlocks

function broadcast(name: string, a: number, b: number): number {
  if (a === b || b === 1) return a
  if (a === 1) return b
  throw shapeError(name, `the same size as this mask's (${a}), or 1`, b)
}

function sum(a: Int32Array): number {
  let s = 0
  for (let i = 0; i < a.length; i++) s += a[i]!
  return s
}

const inexact = (op: string, which: string, what: string) =>
  new SparsekitError(
    'ERR_SK_UNSUPPORTED',
    `mask.${op}(): the ${which} mask's token rule is not exact on its ${what} blocks (it was combined with a ` +
      `fromDense / fromBlocks mask), so it cannot be combined with another mask that has partial blocks there. ` +
      `Combine the rule-based masks (causal, slidingWindow, streaming, documents) with each other first, then ` +
      `with the block-level masks.`,
  )

/**
 * The and / or of two masks, block by block, O(blocks). The result's single
 * token rule must give each partial block the right tokens, so the rule of a
 * mask that is full (and) / absent (or) where the other is partial must keep
 * all (and) / none (or) of that block: builders guarantee it (the flags), and a
 * mask without partial blocks contributes no rule at all.
 * @throws ERR_SK_SHAPE for different lengths / block sizes or batch / heads that do not
 *   broadcast; ERR_SK_UNSUPPORTED when the rules would exceed 4 × 4 or cannot be made exact.
 * @example
 * ```ts
 * const parts = combine(buildCausal(n, n, bs), buildWindow(n, n, 512, bs), 'and')
 * ```
 */
export function combine(pa: MaskParts, pb: MaskParts, op: 'and' | 'or'): MaskParts {
  for (const k of ['qLen', 'kvLen', 'qBlock', 'kvBlock'] as const)
    if (pa[k] !== pb[k]) throw shapeError(`mask.${op}: ${k}`, `the same ${k} as this mask (${pa[k]})`, pb[k])
  const batch = broadcast(`mask.${op}: batch`, pa.batch, pb.batch),
    heads = broadcast(`mask.${op}: heads`, pa.heads, pb.heads)
  const aHas = sum(pa.partialNum) > 0,
    bHas = sum(pb.partialNum) > 0
  const isAnd = op === 'and'
  let rules: RuleSet | null = null
  if (aHas && bHas) rules = isAnd ? andRules(pa.rules!, pb.rules!) : orRules(pa.rules!, pb.rules!)
  else if (aHas || bHas) rules = aHas ? pa.rules : pb.rules
  const p = emptyParts(batch, heads, pa.qLen, pa.kvLen, { q: pa.qBlock, kv: pa.kvBlock })
  const nK = p.nKvBlocks,
    sa = new Uint8Array(nK),
    sb = new Uint8Array(nK)
  let aFull = false,
    aAbsent = false,
    bFull = false,
    bAbsent = false
  // A block partial in one mask and full (and) / absent (or) in the other gets
  // the combined rule, which must reduce to the first mask's rule there: the
  // other's rule must keep all (and) / none (or) of it, unless the rules imply
  // each other so that it cannot matter (causal ∧ window is the window).
  const need = isAnd ? 2 : 0
  const guard = (mine: MaskParts, other: MaskParts, otherHas: boolean) =>
    otherHas &&
    !(isAnd ? other.ruleKeepsFull : other.ruleDropsAbsent) &&
    !(isAnd ? rulesImply(mine.rules!, other.rules!) : rulesImply(other.rules!, mine.rules!))
  const checkA = aHas && guard(pa, pb, bHas),
    checkB = bHas && guard(pb, pa, aHas)
  let bad: SparsekitError | null = null
  for (let bi = 0; bi < batch; bi++)
    for (let h = 0; h < heads; h++) {
      const ra = rowOf(pa, bi, h),
        rb = rowOf(pb, bi, h),
        ro = (bi * heads + h) * p.nQBlocks
      for (let qb = 0; qb < p.nQBlocks; qb++) {
        scatter(pa, ra + qb, sa)
        scatter(pb, rb + qb, sb)
        const base = (ro + qb) * nK
        let nf = 0,
          np = 0
        for (let kb = 0; kb < nK; kb++) {
          const x = sa[kb]!,
            y = sb[kb]!
          aFull ||= x === 2
          aAbsent ||= x === 0
          bFull ||= y === 2
          bAbsent ||= y === 0
          if (checkA && x === 1 && y === need) bad ??= inexact(op, 'second', isAnd ? 'full' : 'absent')
          if (checkB && y === 1 && x === need) bad ??= inexact(op, 'first', isAnd ? 'full' : 'absent')
          const z = isAnd ? (x === 0 || y === 0 ? 0 : x === 2 && y === 2 ? 2 : 1) : Math.max(x, y)
          if (z === 2) p.fullIdx[base + nf++] = kb
          else if (z === 1) p.partialIdx[base + np++] = kb
        }
        p.fullNum[ro + qb] = nf
        p.partialNum[ro + qb] = np
      }
    }
  if (bad) throw bad
  if (sum(p.partialNum) === 0) return p // no partial blocks: no rule
  p.rules = rules
  // Which guarantees survive: a mask contributing no rule keeps them only if it has no blocks of that kind.
  const keeps = (has: boolean, flag: boolean, none: boolean) => (has ? flag : none)
  if (isAnd) {
    p.ruleKeepsFull = (!aHas || pa.ruleKeepsFull) && (!bHas || pb.ruleKeepsFull)
    p.ruleDropsAbsent = keeps(aHas, pa.ruleDropsAbsent, !aAbsent) && keeps(bHas, pb.ruleDropsAbsent, !bAbsent)
  } else {
    p.ruleDropsAbsent = (!aHas || pa.ruleDropsAbsent) && (!bHas || pb.ruleDropsAbsent)
    p.ruleKeepsFull = keeps(aHas, pa.ruleKeepsFull, !aFull) && keeps(bHas, pb.ruleKeepsFull, !bFull)
  }
  return p
}

/** Row `row` of p as states per key block: 0 absent, 1 partial, 2 full. */
function scatter(p: MaskParts, row: number, out: Uint8Array): void {
  out.fill(0)
  const base = row * p.nKvBlocks
  for (let f = 0; f < p.fullNum[row]!; f++) out[p.fullIdx[base + f]!] = 2
  for (let q = 0; q < p.partialNum[row]!; q++) out[p.partialIdx[base + q]!] = 1
}
