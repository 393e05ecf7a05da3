// sk.attention against an implementation written by others: onnxruntime-node's
// com.microsoft MultiHeadAttention (dense, non-causal, float32). ORT's own
// rounding differs from ours, so the budget is 1e-4 relative (max norm), and
// both are also held to the float64 reference's 1e-5.
import { afterEach, describe, expect, it } from 'vitest'

import { mhaModel } from '../../lib/bench/onnx.js'
import * as sk from '../../lib/index.js'
import type { AttentionCase } from '../cases/attention.js'
import { loadOrt } from '../fixtures/ort.js'
import { kF32Budget, logicalF64, makeInputs, reference, rowsRelErr } from './reference.js'

const kOrtBudget = 1e-4

const made: sk.Tensor[] = []
afterEach(() => {
  for (const t of made.splice(0)) t.dispose()
})

const cases: AttentionCase[] = [
  {
    name: 'B 1, H 8, S 256, D 64',
    batch: 1,
    headsQ: 8,
    headsKv: 8,
    seqQ: 256,
    seqKv: 256,
    headDim: 64,
    type: 'float32',
    layout: 'bshd',
  },
  {
    name: 'B 2, H 4, Sq 100 ≠ Skv 333, D 32',
    batch: 2,
    headsQ: 4,
    headsKv: 4,
    seqQ: 100,
    seqKv: 333,
    headDim: 32,
    type: 'float32',
    layout: 'bshd',
  },
  {
    name: 'B 1, H 2, S 257, D 80',
    batch: 1,
    headsQ: 2,
    headsKv: 2,
    seqQ: 257,
    seqKv: 257,
    headDim: 80,
    type: 'float32',
    layout: 'bshd',
  },
  {
    name: 'B 1, H 2, S 129, D 128',
    batch: 1,
    headsQ: 2,
    headsKv: 2,
    seqQ: 129,
    seqKv: 129,
    headDim: 128,
    type: 'float32',
    layout: 'bshd',
  },
]

const ort = await loadOrt()

describe.skipIf(!ort)('attention vs onnxruntime-node MultiHeadAttention (dense, float32)', () => {
  for (const c of cases)
    it(c.name, async () => {
      const { q, k, v } = makeInputs(c, 5)
      made.push(q, k, v)
      const session = await ort!.InferenceSession.create(mhaModel(c.batch, c.seqQ, c.seqKv, c.headsQ, c.headDim))
      const hidden = c.headsQ * c.headDim
      const feed = (t: sk.Tensor, s: number) => new ort!.Tensor('float32', t.data as Float32Array, [c.batch, s, hidden])
      const { output } = await session.run({ query: feed(q, c.seqQ), key: feed(k, c.seqKv), value: feed(v, c.seqKv) })
      await session.release()
      const out = await sk.attention(q, k, v, { layout: 'bshd' })
      made.push(out)
      // Both are [B, S, H·D] = [B, S, H, D]; compare in that order, then both against float64.
      const ours = out.data as Float32Array
      const theirs = output.data as Float32Array
      expect(theirs.length).toBe(ours.length)
      let err = 0
      let norm = 0
      for (let i = 0; i < ours.length; ++i)
        ((err = Math.max(err, Math.abs(ours[i] - theirs[i]))), (norm = Math.max(norm, Math.abs(theirs[i]))))
      expect(err / norm, `vs ORT ${(err / norm).toExponential(2)}`).toBeLessThanOrEqual(kOrtBudget)
      const ref = reference(c, logicalF64(q, 'bshd'), logicalF64(k, 'bshd'), logicalF64(v, 'bshd'))
      expect(rowsRelErr(logicalF64(out, 'bshd'), ref, c.headDim)).toBeLessThanOrEqual(kF32Budget)
      const ortTensor = sk.tensor(theirs, [...out.dims])
      expect(rowsRelErr(logicalF64(ortTensor, 'bshd'), ref, c.headDim), 'ORT itself vs float64').toBeLessThanOrEqual(
        kOrtBudget,
      )
    })
})
