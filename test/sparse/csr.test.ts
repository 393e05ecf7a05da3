// The 'csr' format on its own: analysis and block choice (XNNPACK's 90% fill
// rule), exact round trips through toDense, magnitude pruning, the packed
// arrays' layout, options (NaN sparsity, forced blocks) and disposal.
import { describe, expect, it } from 'vitest'

import * as sk from '../../lib/index.js'
import { csrLayout, sparsifyCsr } from '../../lib/sparse/csr.js'
import { pruneByMagnitude } from '../../lib/sparse/prune.js'
import { sparseMatrix, tensorOf } from './reference.js'

async function roundTrip(w: Float32Array, n: number, k: number, options?: Parameters<typeof sparsifyCsr>[1]) {
  using t = tensorOf(w, [n, k])
  const sw = await sparsifyCsr(t, options)
  const dense = await sw.toDense()
  const back = Float32Array.from(dense.data as Float32Array)
  dense.dispose()
  return { sw, back }
}

describe('csr: round trips (toDense is exact)', () => {
  for (const [n, k, s] of [
    [1, 1, 0],
    [7, 13, 0.5],
    [33, 65, 0.9],
    [64, 64, 0.0],
    [5, 3, 1.0],
    [0, 4, 0],
    [4, 0, 0],
  ] as const)
    for (const blocks of [1, 2, 4, 'auto'] as const)
      it(`[${n}, ${k}] sparsity ${s}, blocks ${blocks}`, async () => {
        const w = sparseMatrix(n, k, s, 3 + n)
        const { sw, back } = await roundTrip(w, n, k, { blocks })
        expect(back).toEqual(w)
        expect(sw.nnz).toBe(w.filter((v) => v !== 0).length)
        expect(sw.dims).toEqual([n, k])
        expect(sw.format).toBe('csr')
        if (blocks !== 'auto') expect(csrLayout(sw).blockSize).toBe(blocks)
        sw.dispose()
      })

  it('-0 is not stored and comes back as +0; NaN and ±Infinity are stored', async () => {
    const w = Float32Array.from([-0, 1, NaN, 0, -Infinity, 2])
    const { sw, back } = await roundTrip(w, 2, 3)
    expect(sw.nnz).toBe(4)
    expect(Array.from(back)).toEqual([0, 1, NaN, 0, -Infinity, 2])
    expect(Object.is(back[0], 0)).toBe(true)
    sw.dispose()
  })
})

describe('csr: analysis and block choice', () => {
  it('random 70% sparsity packs blocks of 1 (fill of 2- and 4-blocks well under 90%)', async () => {
    const { sw } = await roundTrip(sparseMatrix(64, 128, 0.7, 1), 64, 128)
    const l = csrLayout(sw)
    expect(l.blockSize).toBe(1)
    expect(l.fill[2]).toBeLessThan(0.9)
    expect(l.fill[4]).toBeLessThan(l.fill[2])
    expect(l.blocks).toBe(sw.nnz)
    sw.dispose()
  })

  it('rows pruned in pairs pack blocks of 2; in quads, blocks of 4', async () => {
    for (const group of [2, 4]) {
      const n = 32
      const k = 48
      const base = sparseMatrix(n / group, k, 0.8, 9)
      const w = new Float32Array(n * k)
      for (let r = 0; r < n; ++r)
        for (let c = 0; c < k; ++c) {
          const v = base[Math.floor(r / group) * k + c]
          w[r * k + c] = v === 0 ? 0 : v + r // same pattern within a group, other values
        }
      const { sw, back } = await roundTrip(w, n, k)
      const l = csrLayout(sw)
      expect(l.blockSize).toBe(group)
      expect(l.fill[group as 2 | 4]).toBe(1)
      expect(back).toEqual(w)
      sw.dispose()
    }
  })

  it('90% fill is the threshold: 9 of 10 entries of each 2-block non-zero picks 2', async () => {
    // 2 rows × 10 columns: 10 blocks, 18 non-zeros → fill 0.9
    const w = new Float32Array(20).fill(1)
    w[3] = 0
    w[17] = 0
    const { sw } = await roundTrip(w, 2, 10)
    expect(csrLayout(sw).fill[2]).toBeCloseTo(0.9, 12)
    expect(csrLayout(sw).blockSize).toBe(2)
    sw.dispose()
    w[5] = 0 // 17 of 20 (same blocks), under 90%
    const again = await roundTrip(w, 2, 10)
    expect(csrLayout(again.sw).blockSize).toBe(1)
    again.sw.dispose()
  })

  it('the packed arrays follow docs/formats.md (blocks of 2, one remainder channel)', async () => {
    // 3 × 4: rows 0-1 a group of 2, row 2 a remainder channel
    const w = Float32Array.from([1, 0, 0, 2, /**/ 3, 0, 0, 0, /**/ 0, 0, 5, 0])
    using t = tensorOf(w, [3, 4])
    using sw = await sparsifyCsr(t, { blocks: 2 })
    const { nnzmap, cols, values } = sw._parts().tensors
    expect(Array.from(nnzmap.data)).toEqual([2, 1])
    expect(Array.from(cols.data)).toEqual([0, 3, 2])
    expect(Array.from(values.data)).toEqual([1, 3, 2, 0, 5])
    expect(sw.bytes).toBe(4 * (2 + 3 + 5))
  })
})

describe('csr: pruning by magnitude', () => {
  it('zeroes exactly round(s·N·K) of the smallest magnitudes, for each sparsity', async () => {
    const n = 40
    const k = 50
    const w = sparseMatrix(n, k, 0, 5)
    for (const s of [0.5, 0.7, 0.8, 0.9, 0.95]) {
      using t = tensorOf(w, [n, k])
      using sw = await sparsifyCsr(t, { sparsity: s })
      expect(sw.nnz).toBe(n * k - Math.round(s * n * k))
      using dense = await sw.toDense()
      const kept = (dense.data as Float32Array).filter((v) => v !== 0).map(Math.abs)
      const dropped = w.filter((v, i) => (dense.data as Float32Array)[i] === 0 && v !== 0).map(Math.abs)
      expect(Math.min(...kept)).toBeGreaterThanOrEqual(Math.max(...dropped))
      for (let i = 0; i < w.length; ++i)
        if ((dense.data as Float32Array)[i] !== 0) expect((dense.data as Float32Array)[i]).toBe(w[i])
    }
  })

  it('existing zeros count, ties break in index order, NaN is never pruned', async () => {
    const prune = async (w: number[], sparsity: number) =>
      Array.from(await pruneByMagnitude(Float32Array.from(w), 1, w.length, sparsity))
    expect(await prune([0, 3, -1, 2], 0.5)).toEqual([0, 3, 0, 2])
    expect(await prune([1, -1, 1, 5], 0.5)).toEqual([0, 0, 1, 5])
    expect(await prune([NaN, 1, 2, 3], 0.75)).toEqual([NaN, 0, 0, 0])
    expect(await prune([-0, 4, -4, 1, 4, 2], 0.66)).toEqual([0, 0, -4, 0, 4, 0]) // 4 of 6: -0 counts as a zero; of the three 4s the lowest index goes
  })

  it('the input tensor is left unchanged', async () => {
    const w = sparseMatrix(8, 8, 0, 2)
    using t = tensorOf(Float32Array.from(w), [8, 8])
    using sw = await sparsifyCsr(t, { sparsity: 0.9 })
    expect(t.data).toEqual(w)
    expect(sw.nnz).toBe(64 - 58)
  })
})

describe('csr: options and lifecycle', () => {
  it.each([NaN, -0.1, 1, 1.5, Infinity, '0.5', null])('sparsity %s → ERR_SK_INVALID_ARGUMENT, thrown at once', (s) => {
    using t = tensorOf(new Float32Array(4), [2, 2])
    expect(() => sparsifyCsr(t, { sparsity: s as number })).toThrow(
      expect.objectContaining({ code: 'ERR_SK_INVALID_ARGUMENT', message: expect.stringMatching(/options\.sparsity/) }),
    )
  })
  it.each([3, 8, 0, 'all'])('blocks %s → ERR_SK_INVALID_ARGUMENT, thrown at once', (b) => {
    using t = tensorOf(new Float32Array(4), [2, 2])
    expect(() => sparsifyCsr(t, { blocks: b as 1 })).toThrow(
      expect.objectContaining({ code: 'ERR_SK_INVALID_ARGUMENT' }),
    )
  })
  it('an unknown option → ERR_SK_INVALID_ARGUMENT, thrown at once', () => {
    using t = tensorOf(new Float32Array(4), [2, 2])
    expect(() => sparsifyCsr(t, { density: 0.5 } as never)).toThrow(
      expect.objectContaining({ code: 'ERR_SK_INVALID_ARGUMENT' }),
    )
  })
  it('dispose frees the arrays; later uses throw ERR_SK_DISPOSED', async () => {
    using t = tensorOf(sparseMatrix(4, 4, 0.5, 1), [4, 4])
    const sw = await sparsifyCsr(t)
    const values = sw._parts().tensors.values
    sw.dispose()
    sw.dispose()
    expect(values.location).toBe('none')
    expect(() => csrLayout(sw)).toThrow(expect.objectContaining({ code: 'ERR_SK_DISPOSED' }))
    expect(() => sw.toDense()).toThrow(expect.objectContaining({ code: 'ERR_SK_DISPOSED' }))
  })
  it('sparsity 0 keeps every non-zero of w', async () => {
    const w = sparseMatrix(9, 11, 0.3, 4)
    const { sw } = await roundTrip(w, 9, 11, { sparsity: 0 })
    expect(sw.nnz).toBe(w.filter((v) => v !== 0).length)
    sw.dispose()
  })
  it('density is nnz / (N·K)', async () => {
    const { sw } = await roundTrip(sparseMatrix(10, 10, 0, 1), 10, 10, { sparsity: 0.9 })
    expect(sw.density).toBeCloseTo(0.1, 12)
    sw.dispose()
  })
  void sk
})
