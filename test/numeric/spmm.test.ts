// CSR sparse kernels through the addon, once per CPU kernel set
// (SPARSEKIT_ISA): conv1x1 (SpMM over channel-major pixels) and linear with
// many rows (row panels) and one or two rows (SpMV), for blocks of 1, 2 and
// 4 channels, against a float64 reference. Budget (DESIGN.md, "Testing"):
// float32 within 1e-5 relative, max norm; no NaN.
import { afterEach, describe, expect, it } from 'vitest'

import * as sk from '../../lib/index.js'
import { csrLayout, linearCsr, sparsifyCsr } from '../../lib/sparse/csr.js'
import { conv1x1Ref, kF32Budget, linearRef, sparseMatrix, tensorOf, uniforms } from '../sparse/reference.js'
import { maxRelErr } from '../fixtures/max-rel-err.js'

const made: { dispose(): void }[] = []
const keep = <T extends { dispose(): void }>(t: T): T => (made.push(t), t)
afterEach(() => {
  for (const t of made.splice(0)) t.dispose()
})

const randoms = (n: number, seed: number) => Float32Array.from(uniforms(n, seed), (u) => 2 * u - 1)

async function weight(n: number, k: number, sparsity: number, blocks: 1 | 2 | 4, seed: number) {
  const w = sparseMatrix(n, k, sparsity, seed)
  const sw = keep(await sparsifyCsr(keep(tensorOf(w, [n, k])), { blocks }))
  expect(csrLayout(sw).blockSize).toBe(blocks)
  return { w, sw }
}

describe(`csr kernels, kernel set ${process.env.SPARSEKIT_ISA ?? 'default'}`, () => {
  const convShapes = [
    { b: 1, cout: 37, cin: 29, h: 7, w: 7, s: 0.8 }, // 49 pixels: one 32-row tile, then tails
    { b: 2, cout: 64, cin: 48, h: 5, w: 13, s: 0.5 },
    { b: 1, cout: 9, cin: 130, h: 1, w: 1, s: 0.9 }, // one pixel
    { b: 1, cout: 33, cin: 17, h: 16, w: 16, s: 0.95 },
  ]
  for (const blocks of [1, 2, 4] as const)
    for (const c of convShapes)
      it(`conv1x1 blocks ${blocks}: [${c.b}, ${c.cin}, ${c.h}, ${c.w}] → ${c.cout} channels, ${c.s * 100}% sparse, bias, relu6`, async () => {
        const { w, sw } = await weight(c.cout, c.cin, c.s, blocks, c.cout + c.cin)
        const p = c.h * c.w
        const x = randoms(c.b * c.cin * p, 7).map((v) => 4 * v)
        const bias = randoms(c.cout, 8)
        for (const activation of ['none', 'relu6'] as const) {
          const out = keep(
            await sk.conv1x1(keep(tensorOf(x, [c.b, c.cin, c.h, c.w])), sw, keep(tensorOf(bias, [c.cout])), {
              activation,
            }),
          )
          expect(out.dims).toEqual([c.b, c.cout, c.h, c.w])
          const ref = conv1x1Ref(
            x,
            w,
            bias,
            c.b,
            c.cout,
            c.cin,
            p,
            activation === 'relu6' ? 0 : -Infinity,
            activation === 'relu6' ? 6 : Infinity,
          )
          expect(maxRelErr(out.data as Float32Array, ref)).toBeLessThan(kF32Budget)
        }
      })

  const linearShapes = [
    { m: 1, n: 53, k: 70, s: 0.9 }, // SpMV
    { m: 2, n: 17, k: 33, s: 0.7 }, // SpMV, two rows
    { m: 3, n: 40, k: 31, s: 0.5 }, // SpMM, scalar tail rows
    { m: 64, n: 45, k: 66, s: 0.8 }, // one full panel
    { m: 130, n: 19, k: 100, s: 0.9 }, // panels of 64, 64, 2
    { m: 70, n: 21, k: 300, s: 0.8 }, // K in two slices (256, 44), two panels
    { m: 1, n: 6, k: 65536, s: 0.99 }, // SpMV on uint16 columns, up to the last one uint16 holds
    { m: 1, n: 5, k: 65537, s: 0.99 }, // SpMV on int32 columns: K past uint16
  ]
  for (const blocks of [1, 2, 4] as const)
    for (const c of linearShapes)
      it(`linear blocks ${blocks}: M ${c.m}, [${c.n}, ${c.k}], ${c.s * 100}% sparse, with and without bias`, async () => {
        const { w, sw } = await weight(c.n, c.k, c.s, blocks, c.m + c.n)
        const x = randoms(c.m * c.k, 11)
        const bias = randoms(c.n, 12)
        for (const withBias of [true, false]) {
          const out = keep(sk.zeros([c.m, c.n]))
          await linearCsr(keep(tensorOf(x, [c.m, c.k])), sw, withBias ? keep(tensorOf(bias, [c.n])) : null, out)
          expect(
            maxRelErr(out.data as Float32Array, linearRef(x, w, withBias ? bias : null, c.m, c.n, c.k)),
          ).toBeLessThan(kF32Budget)
        }
      })

  it('a fully sparse weight gives the bias (conv) and zeros (linear)', async () => {
    const { sw } = await weight(6, 5, 1, 1, 1)
    const bias = randoms(6, 3)
    const y = keep(await sk.conv1x1(keep(tensorOf(randoms(5 * 9, 2), [1, 5, 3, 3])), sw, keep(tensorOf(bias, [6]))))
    for (let c = 0; c < 6; ++c) for (let q = 0; q < 9; ++q) expect((y.data as Float32Array)[c * 9 + q]).toBe(bias[c])
    const out = keep(sk.zeros([1, 6]))
    ;(out.data as Float32Array).fill(NaN)
    await linearCsr(keep(tensorOf(randoms(5, 4), [1, 5])), sw, null, out)
    expect(Array.from(out.data)).toEqual([0, 0, 0, 0, 0, 0])
  })

  it('a clamp activation {min, max} and ReLU', async () => {
    const { w, sw } = await weight(20, 30, 0.7, 1, 5)
    const x = randoms(30 * 40, 6)
    for (const [act, lo, hi] of [
      [{ min: -0.25, max: 0.5 }, -0.25, 0.5],
      ['relu', 0, Infinity],
    ] as const) {
      const y = keep(await sk.conv1x1(keep(tensorOf(x, [1, 30, 5, 8])), sw, null, { activation: act }))
      expect(maxRelErr(y.data as Float32Array, conv1x1Ref(x, w, null, 1, 20, 30, 40, lo, hi))).toBeLessThan(kF32Budget)
    }
  })
})
