// Token-level oracles for block masks, written from the definitions in the
// issue and csrc/core/mask_rules.h, independent of lib/mask: a mask is
// expanded to a boolean matrix per (batch, head) from its full / partial
// lists and its native rules, and compared with the definition per (i, j).
import { expect } from 'vitest'

import type { BlockMask } from '../../lib/mask/index.js'
import type { NativeMaskRule } from '../../lib/native.js'

/** visible(i, j) for one (batch, head). */
export type Def = (i: number, j: number) => boolean

export const defs = {
  causal:
    (qLen: number, kvLen: number): Def =>
    (i, j) =>
      j <= i + kvLen - qLen,
  window:
    (qLen: number, kvLen: number, w: number): Def =>
    (i, j) => {
      const l = i + kvLen - qLen
      return l - w < j && j <= l
    },
  streaming:
    (qLen: number, kvLen: number, sink: number, local: number): Def =>
    (i, j) => {
      const l = i + kvLen - qLen
      return j <= l && (j < sink || l - j < local)
    },
  /** Positions: the prefix, then each document, then the query segment. */
  documents: (prefix: number, lengths: number[], query: number): Def => {
    const n = prefix + lengths.reduce((s, x) => s + x, 0) + query
    const qStart = n - query
    const docOf = (t: number) => {
      let at = prefix
      for (let d = 0; d < lengths.length; d++) {
        if (t < at + lengths[d]!) return d
        at += lengths[d]!
      }
      return -1
    }
    return (i, j) => j <= i && (j < prefix || i >= qStart || (i >= prefix && j < qStart && docOf(i) === docOf(j)))
  },
}

/** Rule semantics from mask_rules.h (offset = kvLen − qLen). */
function ruleKeeps(r: NativeMaskRule, i: number, j: number, off: number): boolean {
  const l = i + off
  if (r.kind === 1) return j <= l
  if (r.kind === 2) return j <= l && j > l - r.window!
  if (r.kind === 3) return j <= l && (j < r.sink! || l - j < r.local!)
  if (r.kind === 4) {
    const qs = r.qSeg![i]!,
      ks = r.kvSeg![j]!
    return ks === -1 || qs === -2 || qs === ks
  }
  throw new Error(`unknown rule kind ${r.kind}`)
}

const expanded = new WeakMap<BlockMask, Uint8Array[]>()

/** Token matrices [batch·heads][qLen·kvLen] as the kernels would see the mask (cached: masks are immutable). */
export function expand(mask: BlockMask): Uint8Array[] {
  const seen = expanded.get(mask)
  if (seen) return seen
  const n = mask._native()
  const { qLen, kvLen } = mask
  const off = kvLen - qLen
  const keep = (i: number, j: number) =>
    n.rules.length === 0 || n.rules.some((term) => term.every((r) => ruleKeeps(r, i, j, off)))
  const out: Uint8Array[] = []
  for (let bh = 0; bh < n.batch * n.heads; bh++) {
    const m = new Uint8Array(qLen * kvLen)
    for (let qb = 0; qb < n.nQBlocks; qb++) {
      const row = bh * n.nQBlocks + qb
      const lists: [Int32Array, Int32Array, boolean][] = [
        [n.fullNum, n.fullIdx, true],
        [n.partialNum, n.partialIdx, false],
      ]
      for (const [num, idx, full] of lists) {
        let prev = -1
        for (let e = 0; e < num[row]!; e++) {
          const kb = idx[row * n.nKvBlocks + e]!
          expect(kb, 'indices increase and stay in range').toBeGreaterThan(prev)
          expect(kb).toBeLessThan(n.nKvBlocks)
          prev = kb
          for (let i = qb * n.qBlock; i < Math.min((qb + 1) * n.qBlock, qLen); i++)
            for (let j = kb * n.kvBlock; j < Math.min((kb + 1) * n.kvBlock, kvLen); j++)
              if (full || keep(i, j)) m[i * kvLen + j] = 1
        }
      }
    }
    out.push(m)
  }
  expanded.set(mask, out)
  return out
}

/** The definition as a token matrix. */
export function tokens(def: Def, qLen: number, kvLen: number): Uint8Array {
  const m = new Uint8Array(qLen * kvLen)
  for (let i = 0; i < qLen; i++) for (let j = 0; j < kvLen; j++) m[i * kvLen + j] = def(i, j) ? 1 : 0
  return m
}

/** First (i, j) where two token matrices differ, or null. */
export function firstDiff(a: Uint8Array, b: Uint8Array, kvLen: number): string | null {
  for (let t = 0; t < a.length; t++)
    if (a[t] !== b[t]) return `(i ${Math.floor(t / kvLen)}, j ${t % kvLen}): got ${a[t]}, want ${b[t]}`
  return null
}

/**
 * Checks the block classes against the definition's tokens, tightly: a full
 * block keeps every token, an absent one none, a partial one some but not all.
 */
export function expectTightClasses(mask: BlockMask, want: Uint8Array, bh = 0): void {
  const { qLen, kvLen, qBlock, kvBlock, nQBlocks, nKvBlocks } = mask
  const dense = mask.toDense().bits
  const full = mask.fullKvIndices,
    fullNum = mask.fullKvNumBlocks
  for (let qb = 0; qb < nQBlocks; qb++) {
    const row = bh * nQBlocks + qb
    const isFull = new Set(full.subarray(row * nKvBlocks, row * nKvBlocks + fullNum[row]!))
    for (let kb = 0; kb < nKvBlocks; kb++) {
      let kept = 0,
        area = 0
      for (let i = qb * qBlock; i < Math.min((qb + 1) * qBlock, qLen); i++)
        for (let j = kb * kvBlock; j < Math.min((kb + 1) * kvBlock, kvLen); j++)
          ((kept += want[i * kvLen + j]!), area++)
      const cls = dense[row * nKvBlocks + kb] === 0 ? 'absent' : isFull.has(kb) ? 'full' : 'partial'
      const truth = kept === 0 ? 'absent' : kept === area ? 'full' : 'partial'
      expect(cls, `block (${qb}, ${kb}) keeps ${kept} of ${area} tokens`).toBe(truth)
    }
  }
}

/** A small deterministic generator (xorshift32). */
export function rng(seed: number): () => number {
  let s = seed >>> 0 || 1
  return () => {
    s ^= s << 13
    s >>>= 0
    s ^= s >>> 17
    s ^= s << 5
    s >>>= 0
    return s / 2 ** 32
  }
}

/** Runs fn and returns what it threw. */
export function thrown(fn: () => unknown): unknown {
  try {
    fn()
  } catch (e) {
    return e
  }
  return undefined
}
