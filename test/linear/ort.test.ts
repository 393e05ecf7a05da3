// Dense sk.linear against an implementation written by others:
// onnxruntime-node's MatMul with the weight as a constant initializer
// (y = x · wᵀ). ORT sums in its own order, so the budget between the two is
// 1e-5 relative (max norm), and ours is also held to the float64 reference.
// Skips under qemu, where onnxruntime-node cannot load (test/fixtures/ort.ts).
import { afterEach, describe, expect, it } from 'vitest'

import { matmulModel } from '../../lib/bench/onnx.js'
import * as sk from '../../lib/index.js'
import { kLinearBudget, linearRef } from '../cases/linear.js'
import { maxRelErr } from '../fixtures/max-rel-err.js'
import { loadOrt } from '../fixtures/ort.js'

const made: { dispose(): void }[] = []
const keep = <T extends { dispose(): void }>(t: T): T => (made.push(t), t)
afterEach(() => {
  for (const t of made.splice(0)) t.dispose()
})

const ort = await loadOrt()

describe.skipIf(!ort)('dense linear vs onnxruntime-node MatMul (constant weights)', () => {
  for (const [m, k, n] of [
    [1, 512, 300],
    [3, 100, 37],
    [16, 256, 129],
    [128, 300, 70],
  ])
    it(`M ${m}, K ${k}, N ${n}`, async () => {
      const w = keep(sk.randn([n, k], { seed: 1 }))
      const x = keep(sk.randn([m, k], { seed: 2 }))
      const wd = w.data as Float32Array
      const wt = new Float32Array(k * n)
      for (let j = 0; j < n; ++j) for (let t = 0; t < k; ++t) wt[t * n + j] = wd[j * k + t]
      const session = await ort!.InferenceSession.create(matmulModel(m, k, n, wt))
      const { y } = await session.run({ x: new ort!.Tensor('float32', x.data as Float32Array, [m, k]) })
      await session.release()
      const out = keep(await sk.linear(x, w))
      const theirs = y.data as Float32Array
      expect(y.dims).toEqual([m, n])
      expect(maxRelErr(out.data as Float32Array, Float64Array.from(theirs))).toBeLessThan(kLinearBudget)
      expect(maxRelErr(out.data as Float32Array, linearRef(x, w, null))).toBeLessThan(kLinearBudget)
    })
})
