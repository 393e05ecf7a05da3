// sk.attention against a float64 reference, once per CPU kernel set
// (SPARSEKIT_ISA). Budgets (DESIGN.md, "Testing"): float32 within 1e-5
// relative (max norm); float16 / bfloat16 within 2× the error of the float64
// reference rounded to the type; lse within 1e-5 relative; a row with no
// visible key is exactly 0 with lse -Infinity; no NaN anywhere. (The one
// stress test with scores in the hundreds widens the float32 budget to
// 8 ulps of the largest score: see budgetFor.)
import { afterEach, describe, expect, it } from 'vitest'

import * as sk from '../../lib/index.js'
import { type AttentionCase, kBenchCpuCases, kDTypeCases, kEdgeCases, kHeadDimCases } from '../cases/attention.js'
import {
  checkCase,
  type CheckOptions,
  kF32Budget,
  kLseBudget,
  logicalF64,
  lseErr,
  makeInputs,
  reference,
  runCase,
  transposeSH,
} from '../attention/reference.js'

const made: sk.Tensor[] = []
const keep = <T extends Record<string, sk.Tensor>>(ts: T): T => (made.push(...Object.values(ts)), ts)
afterEach(() => {
  for (const t of made.splice(0)) t.dispose()
})

const check = (c: AttentionCase, opts: CheckOptions = {}) =>
  checkCase(c, keep(makeInputs(c, opts.seed ?? 1, opts.amplitude ?? 1)), opts)

describe('attention vs float64: edge cases', () => {
  for (const c of kEdgeCases) it(c.name, async () => void (await check(c)))
  it('fully masked rows exist in the case that tests them', async () => {
    const c = kEdgeCases.find((x) => x.name.startsWith('fully masked rows'))!
    const { ref } = await check(c)
    expect(ref.empty.some((e) => e === 1)).toBe(true)
  })
  it("large scores (q, k × 6, scale 2; |s| up to ~2000, exp would overflow): finite, within float32's score error", async () => {
    await check({ ...kEdgeCases[5], name: 'large scores' }, { amplitude: 6, scale: 2 })
  })
  it('an explicit scale', async () =>
    void (await check({ ...kEdgeCases[4], name: 'scale 0.05', seqQ: 200, seqKv: 200 }, { scale: 0.05 })))
})

describe('attention vs float64: head dims', () => {
  for (const c of kHeadDimCases) it(c.name, async () => void (await check(c)))
})

describe('attention vs float64: every dtype', () => {
  for (const c of kDTypeCases) it(c.name, async () => void (await check(c)))
})

describe("attention vs float64: the bench suite's CPU rows at S 1024 (every 16th row)", () => {
  for (const c of kBenchCpuCases) it(c.name, async () => void (await check(c, { rowStride: 16 })))
})

describe('attention: layouts, lse and chunking', () => {
  const c: AttentionCase = {
    name: 'gqa',
    batch: 2,
    headsQ: 4,
    headsKv: 2,
    seqQ: 150,
    seqKv: 150,
    headDim: 64,
    type: 'float32',
  }

  it('bshd layout equals bhsd, bit for bit', async () => {
    for (const type of ['float32', 'bfloat16'] as const) {
      const x = { ...c, type, causal: true }
      const bhsd = keep(makeInputs(x))
      const bits = (t: sk.Tensor, h: number) => {
        const data = t.data as Float32Array | Uint16Array
        const ctor = data.constructor as new (n: number) => Float32Array | Uint16Array
        return sk.tensor(
          transposeSH(data, x.batch, t.dims[2], h, x.headDim, (n) => new ctor(n), true),
          [x.batch, t.dims[2], h, x.headDim],
          type,
        )
      }
      const bshd = keep({ q: bits(bhsd.q, x.headsQ), k: bits(bhsd.k, x.headsKv), v: bits(bhsd.v, x.headsKv) })
      const a = await runCase(x, bhsd)
      const b = await runCase({ ...x, layout: 'bshd' }, bshd)
      expect(b.out).toEqual(a.out)
      expect(b.lse).toEqual(a.lse)
    }
  })

  it('bshd output has dims [B, Sq, Hq, D]', async () => {
    const x: AttentionCase = { ...c, layout: 'bshd', seqQ: 20, seqKv: 30 }
    const { q, k, v } = keep(makeInputs(x))
    const out = await sk.attention(q, k, v, { layout: 'bshd' })
    made.push(out)
    expect(out.dims).toEqual([2, 20, 4, 64])
  })

  it("without returnLse it resolves to a tensor with q's dims, type and device", async () => {
    const { q, k, v } = keep(makeInputs({ ...c, type: 'float16' }))
    const out = await sk.attention(q, k, v)
    made.push(out)
    expect(out).toBeInstanceOf(sk.Tensor)
    expect([out.dims, out.type, out.device]).toEqual([q.dims, 'float16', 'cpu'])
  })

  it('returnLse: float32 [B, Hq, Sq] natural-log sum-exp', async () => {
    const { q, k, v } = keep(makeInputs(c))
    const r = await sk.attention(q, k, v, { returnLse: true })
    made.push(r.out, r.lse)
    expect([r.lse.type, r.lse.dims]).toEqual(['float32', [2, 4, 150]])
    const ref = reference(c, logicalF64(q, undefined), logicalF64(k, undefined), logicalF64(v, undefined))
    expect(lseErr(r.lse.data as Float32Array, ref)).toBeLessThanOrEqual(kLseBudget)
  })

  it('merging two key chunks through lse equals the full result', async () => {
    const x = { ...c, seqKv: 300 }
    const { q, k, v } = keep(makeInputs(x))
    const full = await sk.attention(q, k, v, { returnLse: true })
    made.push(full.out, full.lse)
    const split = 123
    const slice = (t: sk.Tensor, from: number, to: number) => {
      const [B, H, , D] = t.dims
      const src = t.data as Float32Array
      const dst = new Float32Array(B * H * (to - from) * D)
      for (let bh = 0; bh < B * H; ++bh)
        dst.set(src.subarray((bh * x.seqKv + from) * D, (bh * x.seqKv + to) * D), bh * (to - from) * D)
      return keep({ t: sk.tensor(dst, [B, H, to - from, D]) }).t
    }
    const a = await sk.attention(q, slice(k, 0, split), slice(v, 0, split), { returnLse: true })
    const b = await sk.attention(q, slice(k, split, 300), slice(v, split, 300), { returnLse: true })
    made.push(a.out, a.lse, b.out, b.lse)
    const [la, lb, oa, ob] = [a.lse.data, b.lse.data, a.out.data, b.out.data] as Float32Array[]
    const D = x.headDim
    const merged = new Float64Array(oa.length)
    const lse = new Float64Array(la.length)
    for (let row = 0; row < la.length; ++row) {
      const m = Math.max(la[row], lb[row])
      const wa = Math.exp(la[row] - m)
      const wb = Math.exp(lb[row] - m)
      lse[row] = m + Math.log(wa + wb)
      for (let d = 0; d < D; ++d) merged[row * D + d] = (wa * oa[row * D + d] + wb * ob[row * D + d]) / (wa + wb)
    }
    const fo = full.out.data as Float32Array
    const fl = full.lse.data as Float32Array
    let err = 0
    let norm = 0
    for (let i = 0; i < fo.length; ++i)
      ((err = Math.max(err, Math.abs(merged[i] - fo[i]))), (norm = Math.max(norm, Math.abs(fo[i]))))
    expect(err / norm).toBeLessThanOrEqual(kF32Budget)
    for (let row = 0; row < fl.length; ++row)
      expect(Math.abs(lse[row] - fl[row])).toBeLessThanOrEqual(kLseBudget * Math.max(1, Math.abs(fl[row])))
  })

  it('chunked prefill: the last Sq queries with causal equal those rows of the full causal result', async () => {
    const x = { ...c, batch: 1, causal: true, seqQ: 300, seqKv: 300 }
    const { q, k, v } = keep(makeInputs(x))
    const full = await sk.attention(q, k, v, { causal: true })
    made.push(full)
    const tail = 77
    const [B, H, S, D] = q.dims
    const qd = q.data as Float32Array
    const qt = new Float32Array(B * H * tail * D)
    for (let h = 0; h < H; ++h) qt.set(qd.subarray((h * S + S - tail) * D, (h * S + S) * D), h * tail * D)
    const chunk = await sk.attention(keep({ t: sk.tensor(qt, [B, H, tail, D]) }).t, k, v, { causal: true })
    made.push(chunk)
    const fo = full.data as Float32Array
    const co = chunk.data as Float32Array
    let err = 0
    let norm = 0
    for (let h = 0; h < H; ++h)
      for (let i = 0; i < tail * D; ++i) {
        const f = fo[(h * S + S - tail) * D + i]
        err = Math.max(err, Math.abs(co[h * tail * D + i] - f))
        norm = Math.max(norm, Math.abs(f))
      }
    expect(err / norm).toBeLessThanOrEqual(kF32Budget)
  })
})

describe('attention: empty sizes', () => {
  it('Skv = 0: every row outputs 0 and lse -Infinity', async () => {
    const q = sk.randn([1, 2, 5, 32])
    const k = sk.zeros([1, 2, 0, 32])
    const v = sk.zeros([1, 2, 0, 32])
    made.push(q, k, v)
    const r = await sk.attention(q, k, v, { returnLse: true })
    made.push(r.out, r.lse)
    expect([...(r.out.data as Float32Array)].every((x) => x === 0)).toBe(true)
    expect([...(r.lse.data as Float32Array)].every((x) => x === -Infinity)).toBe(true)
  })
  it('Sq = 0 and batch 0: empty outputs of the right dims', async () => {
    for (const [qd, kd] of [
      [
        [1, 2, 0, 32],
        [1, 2, 7, 32],
      ],
      [
        [0, 2, 5, 32],
        [0, 1, 7, 32],
      ],
    ]) {
      const q = sk.zeros(qd)
      const k = sk.zeros(kd)
      made.push(q, k)
      const r = await sk.attention(q, k, k, { returnLse: true })
      made.push(r.out, r.lse)
      expect([r.out.dims, r.lse.dims]).toEqual([qd, qd.slice(0, 3)])
    }
  })
})
