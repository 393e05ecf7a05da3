// sk.linear against a float64 reference, once per CPU kernel set
// (SPARSEKIT_ISA): dense and 2:4 weights of every dtype, M in {1, 3, 16, 128}
// (gemv and every edge of the register tiles), K and N off the tiles, with
// and without bias, batched x. Budget: float32 output within 1e-5 relative
// (max norm) of the float64 math on the exact same inputs (narrow weights
// are decoded exactly by both), DESIGN.md "Testing".
import { afterEach, describe, expect, it } from 'vitest'

import * as sk from '../../lib/index.js'
import { kLinearBudget, kRows, kShapes, kWeightTypes, linearRef, prunedWeight } from '../cases/linear.js'
import { maxRelErr } from '../fixtures/max-rel-err.js'

const made: { dispose(): void }[] = []
const keep = <T extends { dispose(): void }>(t: T): T => (made.push(t), t)
afterEach(() => {
  for (const t of made.splice(0)) t.dispose()
})

describe(`linear vs float64 (kernels: ${JSON.stringify(sk.devices()[0])})`, () => {
  for (const type of kWeightTypes)
    for (const { k, n } of kShapes)
      for (const m of kRows)
        it(`${type} weights, M ${m}, K ${k}, N ${n}: dense and 2:4, with bias`, async () => {
          const w = keep(await prunedWeight(n, k, type, 11 + m))
          const x = keep(sk.randn([m, k], { seed: 3 + k }))
          const bias = keep(sk.randn([n], { seed: 5 }))
          const ref = linearRef(x, w, bias)
          const dense = keep(await sk.linear(x, w, bias))
          expect(dense.dims).toEqual([m, n])
          expect(maxRelErr(dense.data as Float32Array, ref)).toBeLessThan(kLinearBudget)
          const sw = keep(await sk.sparsify(w, { format: '2:4' }))
          const sparse = keep(await sk.linear(x, sw, bias))
          expect(maxRelErr(sparse.data as Float32Array, ref)).toBeLessThan(kLinearBudget)
        })
})

describe('linear: shapes around the kernels', () => {
  it('dense weights that are not pruned (every product counts), K 777 not a multiple of anything, M 7', async () => {
    const w = keep(sk.randn([45, 777], { seed: 1 }))
    const x = keep(sk.randn([7, 777], { seed: 2 }))
    const out = keep(await sk.linear(x, w))
    expect(maxRelErr(out.data as Float32Array, linearRef(x, w, null))).toBeLessThan(kLinearBudget)
  })
  it('batched x [2, 3, K] flattens to 6 rows; out [2, 3, N]', async () => {
    const w = keep(await prunedWeight(19, 64, 'float32', 4))
    const x = keep(sk.randn([2, 3, 64], { seed: 9 }))
    const sw = keep(await sk.sparsify(w, { format: '2:4' }))
    for (const weight of [w, sw]) {
      const out = keep(await sk.linear(x, weight))
      expect(out.dims).toEqual([2, 3, 19])
      expect(maxRelErr(out.data as Float32Array, linearRef(x, w, null))).toBeLessThan(kLinearBudget)
    }
  })
  it('one row as a 1-D x [K] gives out [N]', async () => {
    const w = keep(await prunedWeight(33, 40, 'bfloat16', 4))
    const x = keep(sk.randn([40], { seed: 9 }))
    const out = keep(await sk.linear(x, keep(await sk.sparsify(w, { format: '2:4' }))))
    expect(out.dims).toEqual([33])
    expect(maxRelErr(out.data as Float32Array, linearRef(x, w, null))).toBeLessThan(kLinearBudget)
  })
  it('large M (300 rows: two row blocks of the dense driver, ten of the 2:4 one) and N 260 (three dense tasks)', async () => {
    const w = keep(await prunedWeight(260, 96, 'float16', 8))
    const x = keep(sk.randn([300, 96], { seed: 10 }))
    const ref = linearRef(x, w, null)
    expect(maxRelErr(keep(await sk.linear(x, w)).data as Float32Array, ref)).toBeLessThan(kLinearBudget)
    const sw = keep(await sk.sparsify(w, { format: '2:4' }))
    expect(maxRelErr(keep(await sk.linear(x, sw)).data as Float32Array, ref)).toBeLessThan(kLinearBudget)
  })
  it('2:4 rows by the SpMM path (panels of 8 / 32 / 64 / 128 rows by ISA): padded last panels and the rest on the row kernels', async () => {
    // M 50: a 3/4-full panel of 64 (padded), 6 panels of 8 + 2 rows, 32 + 18 rows; M 120: a padded 2nd panel of 64 and
    // a padded panel of 128; M 200: 3 panels of 64 + 8 rows, 128 + 72 rows; M 48, 64: exactly 3/4 and one panel
    for (const type of ['float32', 'bfloat16'] as const) {
      const w = keep(await prunedWeight(37, 300, type, 12))
      const sw = keep(await sk.sparsify(w, { format: '2:4' }))
      const bias = keep(sk.randn([37], { seed: 6 }))
      for (const m of [48, 50, 64, 120, 200]) {
        const x = keep(sk.randn([m, 300], { seed: m }))
        const out = keep(await sk.linear(x, sw, bias))
        expect(maxRelErr(out.data as Float32Array, linearRef(x, w, bias)), `${type} M ${m}`).toBeLessThan(kLinearBudget)
      }
    }
  })
  it('empty: M 0 → [0, N]; N 0 → [M, 0]; K 0 → the bias alone', async () => {
    const w = keep(sk.randn([5, 8], { seed: 1 }))
    expect(keep(await sk.linear(keep(sk.zeros([0, 8])), w)).dims).toEqual([0, 5])
    expect(keep(await sk.linear(keep(sk.randn([3, 8], { seed: 2 })), keep(sk.zeros([0, 8])))).dims).toEqual([3, 0])
    const bias = keep(sk.tensor(new Float32Array([1, 2, 3])))
    for (const w0 of [keep(sk.zeros([3, 0])), keep(await sk.sparsify(keep(sk.zeros([3, 0])), { format: '2:4' }))])
      for (const m of [2, 64]) {
        // 64: the 2:4 SpMM path on AVX2 (the row kernels below 48 rows)
        const out = keep(await sk.linear(keep(sk.zeros([m, 0])), w0, bias))
        expect(Array.from(out.data as Float32Array)).toEqual(Array.from({ length: 3 * m }, (_, i) => (i % 3) + 1))
      }
  })
})
