// BlockMask.permutedCausal on its own, before any kernel uses it: block classes
// against the token definition (query i sees slot j iff permutation[b, g, j] ≤
// i + offset), per batch and key head under GQA, and `keep` equal to
// fromDense(keep).and(permutedCausal(…)).
import { describe, expect, it } from 'vitest'

import * as sk from '../../lib/index.js'
import { expectTightClasses, rng } from '../mask/helpers.js'

function shuffledInSegments(rows: number, len: number, seg: number, seed: number): Int32Array {
  const r = rng(seed),
    p = new Int32Array(rows * len)
  for (let row = 0; row < rows; row++) {
    const a = p.subarray(row * len, (row + 1) * len)
    a.forEach((_, j) => (a[j] = j))
    for (let s0 = 0; s0 + seg <= len; s0 += seg)
      for (let j = seg - 1; j > 0; j--) {
        const t = s0 + Math.floor(r() * (j + 1)),
          x = a[s0 + j]!
        a[s0 + j] = a[t]!
        a[t] = x
      }
  }
  return p
}

describe('BlockMask.permutedCausal', () => {
  for (const [qLen, kvLen] of [
    [200, 200],
    [70, 200],
  ] as const)
    it(`tight classes per (batch, query head), B 2, GQA 4:2, qLen ${qLen}, kvLen ${kvLen}, blocks 32`, () => {
      const perm = shuffledInSegments(4, kvLen, 64, 5)
      const m = sk.BlockMask.permutedCausal({ permutation: perm, dims: [2, 2, kvLen], headsQ: 4, qLen, blockSize: 32 })
      expect([m.batch, m.heads]).toEqual([2, 4])
      expect(m.rule).toBe('permuted causal')
      for (let b = 0; b < 2; b++)
        for (let h = 0; h < 4; h++) {
          const row = (b * 2 + Math.floor(h / 2)) * kvLen,
            want = new Uint8Array(qLen * kvLen)
          for (let i = 0; i < qLen; i++)
            for (let j = 0; j < kvLen; j++) want[i * kvLen + j] = perm[row + j]! <= i + kvLen - qLen ? 1 : 0
          expectTightClasses(m, want, b * 4 + h)
        }
    })

  it('keep is fromDense(keep) AND the rule, in one pass', () => {
    const perm = shuffledInSegments(2, 300, 128, 9),
      r = rng(3)
    const nb = Math.ceil(300 / 64),
      keep = new Uint8Array(2 * 2 * nb * nb).map(() => (r() < 0.5 ? 1 : 0))
    const sizes = { qLen: 300, kvLen: 300, blockSize: 64 }
    const one = sk.BlockMask.permutedCausal({
      permutation: perm,
      dims: [2, 1, 300],
      headsQ: 2,
      qLen: 300,
      blockSize: 64,
      keep,
    })
    const two = sk.BlockMask.fromDense(keep, [2, 2, nb, nb], sizes).and(
      sk.BlockMask.permutedCausal({ permutation: perm, dims: [2, 1, 300], headsQ: 2, qLen: 300, blockSize: 64 }),
    )
    expect(one.fullKvIndices).toEqual(two.fullKvIndices)
    expect(one.partialKvIndices).toEqual(two.partialKvIndices)
    expect(one.fullKvNumBlocks).toEqual(two.fullKvNumBlocks)
    expect(one.partialKvNumBlocks).toEqual(two.partialKvNumBlocks)
  })

  it('bad keep and qLen > kvLen are refused', () => {
    const perm = new Int32Array(64).map((_, i) => i)
    expect(() =>
      sk.BlockMask.permutedCausal({
        permutation: perm,
        dims: [1, 1, 64],
        headsQ: 1,
        qLen: 64,
        blockSize: 16,
        keep: new Uint8Array(3),
      }),
    ).toThrow(expect.objectContaining({ code: 'ERR_SK_INVALID_ARGUMENT' }))
    expect(() =>
      sk.BlockMask.permutedCausal({ permutation: perm, dims: [1, 1, 64], headsQ: 1, qLen: 65, blockSize: 16 }),
    ).toThrow(expect.objectContaining({ code: 'ERR_SK_SHAPE' }))
  })
})
