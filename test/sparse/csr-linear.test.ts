// sk.linear() with a 'csr' SparseWeight, against float64 (budget 1e-5
// relative, max norm).
import { describe, expect, it } from 'vitest'

import * as sk from '../../lib/index.js'
import { sparsifyCsr } from '../../lib/sparse/csr.js'
import { kF32Budget, linearRef, sparseMatrix, tensorOf, uniforms } from './reference.js'
import { maxRelErr } from '../fixtures/max-rel-err.js'

function linear(x: sk.Tensor, w: sk.SparseWeight, bias?: sk.Tensor): Promise<sk.Tensor> {
  return sk.linear(x, w, bias)
}

const randoms = (n: number, seed: number) => Float32Array.from(uniforms(n, seed), (u) => 2 * u - 1)

describe('linear with csr weights (SpMV for one or two rows, SpMM panels above)', () => {
  const shapes = [
    { m: 1, n: 300, k: 257 }, // decode: one row
    { m: 2, n: 33, k: 64 },
    { m: 7, n: 65, k: 129 }, // two K slices
    { m: 64, n: 128, k: 96 },
    { m: 129, n: 31, k: 40 }, // three panels, the last of one row
  ]
  for (const s of shapes)
    for (const sparsity of [0.5, 0.9])
      it(`M ${s.m}, [${s.n}, ${s.k}], ${sparsity * 100}% pruned by magnitude, bias`, async () => {
        const dense = randoms(s.n * s.k, s.n)
        using w = tensorOf(dense, [s.n, s.k])
        using sw = await sparsifyCsr(w, { sparsity })
        using pruned = await sw.toDense()
        const x = randoms(s.m * s.k, 3)
        const bias = randoms(s.n, 4)
        using out = await linear(tensorOf(x, [s.m, s.k]), sw, tensorOf(bias, [s.n]))
        expect(out.dims).toEqual([s.m, s.n])
        const ref = linearRef(x, pruned.data as Float32Array, bias, s.m, s.n, s.k)
        expect(maxRelErr(out.data as Float32Array, ref)).toBeLessThan(kF32Budget)
      })

  it('blocks of 4 from pair/quad-structured pruning give the same answer as blocks of 1', async () => {
    const n = 64
    const k = 80
    const base = sparseMatrix(n / 4, k, 0.8, 6)
    const w = new Float32Array(n * k)
    for (let r = 0; r < n; ++r) for (let c = 0; c < k; ++c) w[r * k + c] = base[(r >> 2) * k + c] * (1 + r / n)
    using a = await sparsifyCsr(tensorOf(w, [n, k]), { blocks: 'auto' })
    using b = await sparsifyCsr(tensorOf(w, [n, k]), { blocks: 1 })
    const x = tensorOf(randoms(10 * k, 9), [10, k])
    using ya = await linear(x, a)
    using yb = await linear(x, b)
    expect(maxRelErr(ya.data as Float32Array, linearRef(x.data as Float32Array, w, null, 10, n, k))).toBeLessThan(
      kF32Budget,
    )
    expect(maxRelErr(ya.data as Float32Array, Float64Array.from(yb.data as Float32Array))).toBeLessThan(kF32Budget)
  })

  it('an all-zero weight gives the bias', async () => {
    using sw = await sparsifyCsr(sk.zeros([5, 7]))
    expect(sw.nnz).toBe(0)
    const bias = randoms(5, 1)
    using out = await linear(tensorOf(randoms(3 * 7, 2), [3, 7]), sw, tensorOf(bias, [5]))
    for (let r = 0; r < 3; ++r)
      expect(Array.from((out.data as Float32Array).subarray(r * 5, r * 5 + 5))).toEqual(Array.from(bias))
  })
})
