// The vertical-slash plan (csrc/cpu/prefill/vslash.cc) against the plain-JS
// definition in vslash-reference.ts: exact layouts and blocks, on the lines
// of generated heads (heavy columns, slash lines, sinks, near-uniform heads:
// every branch of the greedy), with GQA, batch 2, lengths that are not whole
// blocks, small budgets and threshold 1; its invariants; then the addon's
// refusals of bad arguments.
import { afterEach, describe, expect, it } from 'vitest'

import { generatePrefill, type PrefillPattern } from '../../lib/bench/prefill-gen.js'
import * as sk from '../../lib/index.js'
import { cpuBinding, type VslashPlanArgs } from '../../lib/native.js'
import { blockScores, checkQkv } from '../../lib/prefill/native.js'
import { thrownCode } from '../fixtures/expect-errors.js'
import { type PlanArgs, refVslashPlan } from './vslash-reference.js'

const made: sk.Tensor[] = []
afterEach(() => {
  for (const t of made.splice(0)) t.dispose()
})

/** The lines [B, Hq, 2, S] of a generated case, and the plan's sizes. */
async function lines(pattern: PrefillPattern, o: { B: number; Hq: number; Hkv: number; S: number; queries: number }) {
  const x = await generatePrefill({ pattern, batch: o.B, heads: o.Hq, kvHeads: o.Hkv, seq: o.S, headDim: 32, seed: 3 })
  made.push(x.q, x.k, x.v)
  return blockScores(x.q, x.k, checkQkv(x.q, x.k), {
    method: 4,
    block: o.queries,
    stride: 1,
    segmentBlocks: 0,
    keyCount: o.S,
    causal: true,
  })
}

async function nativePlan(scores: Float32Array, a: PlanArgs) {
  const nb = Math.ceil(a.S / a.block)
  const out = {
    indices: new Int32Array(a.B * a.Hkv * a.S),
    bits: new Uint8Array(a.B * a.Hq * nb * nb),
    coverage: new Float32Array(a.B * a.Hq),
  }
  const args: VslashPlanArgs = {
    batch: a.B,
    headsQ: a.Hq,
    headsKv: a.Hkv,
    seq: a.S,
    block: a.block,
    queries: a.queries,
    threshold: a.threshold,
    budget: a.budget,
  }
  await cpuBinding().vslashPlan(scores, out.indices, out.bits, out.coverage, args)
  return out
}

describe('vertical-slash plan: native = definition', () => {
  const cases: [PrefillPattern, PlanArgs][] = [
    ['isolated', { B: 2, Hq: 4, Hkv: 2, S: 1500, block: 64, queries: 64, threshold: 0.998, budget: 700 }],
    ['mixed', { B: 1, Hq: 4, Hkv: 2, S: 1300, block: 32, queries: 48, threshold: 0.99, budget: 400 }],
    ['clustered', { B: 1, Hq: 2, Hkv: 1, S: 2100, block: 64, queries: 128, threshold: 0.95, budget: 5000 }],
    ['mixed', { B: 1, Hq: 4, Hkv: 1, S: 999, block: 16, queries: 16, threshold: 0.9, budget: 40 }],
    ['isolated', { B: 1, Hq: 2, Hkv: 2, S: 700, block: 64, queries: 64, threshold: 1, budget: 8192 }],
    ['isolated', { B: 1, Hq: 2, Hkv: 1, S: 90, block: 64, queries: 64, threshold: 0.998, budget: 8192 }], // shorter than two blocks
  ]
  for (const [pattern, a] of cases)
    it(`${pattern}: B ${a.B}, GQA ${a.Hq}:${a.Hkv}, S ${a.S}, block ${a.block}, ${a.queries} queries, threshold ${a.threshold}, budget ${a.budget}`, async () => {
      const s = await lines(pattern, { ...a })
      const got = await nativePlan(s, a),
        want = refVslashPlan(s, a)
      expect(Array.from(got.indices)).toEqual(Array.from(want.indices))
      expect(Array.from(got.bits)).toEqual(Array.from(want.bits))
      for (let i = 0; i < want.coverage.length; i++) expect(got.coverage[i]).toBeCloseTo(want.coverage[i]!, 5)
    })

  it('invariants: each layout row a bijection, sink first, columns in position order, the diagonal band always, cost within the budget', async () => {
    const a: PlanArgs = { B: 1, Hq: 4, Hkv: 2, S: 1500, block: 64, queries: 64, threshold: 0.998, budget: 600 }
    const s = await lines('mixed', a),
      got = await nativePlan(s, a),
      nb = Math.ceil(a.S / a.block)
    for (let r = 0; r < a.Hkv; r++) {
      const row = Array.from(got.indices.subarray(r * a.S, (r + 1) * a.S))
      expect([...row].sort((x, y) => x - y)).toEqual(Array.from({ length: a.S }, (_, j) => j))
      expect(row[0]).toBe(0)
      const cols = row.findIndex((j, t) => t > 0 && j < row[t - 1]!) // where the columns end and the other keys restart
      expect(cols % a.block).toBe(0)
    }
    for (let h = 0; h < a.Hq; h++)
      for (let qb = 0; qb < nb; qb++) {
        const r = got.bits.subarray((h * nb + qb) * nb, (h * nb + qb + 1) * nb)
        expect(r[0]).toBe(1) // the block holding the sink
        const kept = r.reduce((x, y) => x + y, 0)
        expect(kept * a.block).toBeLessThanOrEqual(a.budget + 8 * a.block) // budget keys plus the sink, diagonal and rounding blocks
      }
  })
})

describe('vslashPlan refuses bad arguments with codes (the addon checks what memory depends on)', () => {
  const args = (o: Partial<VslashPlanArgs> = {}): VslashPlanArgs => ({
    batch: 1,
    headsQ: 2,
    headsKv: 1,
    seq: 100,
    block: 32,
    queries: 32,
    threshold: 0.9,
    budget: 64,
    ...o,
  })
  const call = (
    o: Partial<VslashPlanArgs> = {},
    n: Partial<Record<'scores' | 'indices' | 'bits' | 'coverage', number>> = {},
  ) => {
    const a = args(o),
      nb = Math.ceil(a.seq / a.block)
    return thrownCode(() =>
      cpuBinding().vslashPlan(
        new Float32Array(n.scores ?? a.batch * a.headsQ * 2 * a.seq),
        new Int32Array(n.indices ?? a.batch * a.headsKv * a.seq),
        new Uint8Array(n.bits ?? a.batch * a.headsQ * nb * nb),
        new Float32Array(n.coverage ?? a.batch * a.headsQ),
        a,
      ),
    )
  }

  it('short arrays, bad numbers, heads that do not divide', () => {
    expect(call()).toBe('returned')
    expect(call({}, { scores: 399 })).toBe('ERR_SK_SHAPE')
    expect(call({}, { indices: 99 })).toBe('ERR_SK_SHAPE')
    expect(call({}, { bits: 17 })).toBe('ERR_SK_SHAPE')
    expect(call({}, { coverage: 1 })).toBe('ERR_SK_SHAPE')
    expect(call({ headsKv: 3, headsQ: 4 })).toBe('ERR_SK_SHAPE')
    expect(call({ block: 8 })).toBe('ERR_SK_INVALID_ARGUMENT')
    expect(call({ queries: 0 })).toBe('ERR_SK_INVALID_ARGUMENT')
    expect(call({ threshold: 0 })).toBe('ERR_SK_INVALID_ARGUMENT')
    expect(call({ threshold: Number.NaN })).toBe('ERR_SK_INVALID_ARGUMENT')
    expect(call({ budget: 0 })).toBe('ERR_SK_INVALID_ARGUMENT')
    expect(call({ seq: 0 })).toBe('ERR_SK_SHAPE')
    expect(call({ batch: 2 ** 31 }, { scores: 1, indices: 1, bits: 1, coverage: 1 })).toBe('ERR_SK_SHAPE')
    expect(call({ batch: 2 ** 30, seq: 2 ** 30 }, { scores: 1, indices: 1, bits: 1, coverage: 1 })).toBe('ERR_SK_SHAPE') // overflows, never wraps
    expect(
      thrownCode(() =>
        cpuBinding().vslashPlan(
          new Float32Array(400),
          new Float32Array(100) as unknown as Int32Array,
          new Uint8Array(16),
          new Float32Array(2),
          args(),
        ),
      ),
    ).toBe('ERR_SK_INVALID_ARGUMENT')
    expect(
      thrownCode(() =>
        cpuBinding().vslashPlan(
          new Float32Array(400),
          new Int32Array(100),
          new Uint8Array(16),
          new Float32Array(2),
          null as unknown as VslashPlanArgs,
        ),
      ),
    ).toBe('ERR_SK_INVALID_ARGUMENT')
  })

  it('NaN scores plan without a crash: NaN keys are never columns', async () => {
    const a: PlanArgs = { B: 1, Hq: 1, Hkv: 1, S: 300, block: 32, queries: 32, threshold: 0.9, budget: 200 }
    const s = new Float32Array(600).fill(Number.NaN)
    const got = await nativePlan(s, a)
    expect(Array.from(got.indices)).toEqual(Array.from(refVslashPlan(s, a).indices))
  })
})
