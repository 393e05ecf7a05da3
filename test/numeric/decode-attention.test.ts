// decodeAttention over a paged KVCache, against float64 attention over the
// values the cache stores (test/decode/reference.ts models the page types and
// the FP8 scale rule). Runs once per kernel set (SPARSEKIT_ISA).
// Budget: float32 outputs within 1e-5 (max-norm relative; for scores in the
// hundreds, a few ulps of the largest) of that reference for every page type,
// since the pages' rounding is in the reference; the LSE alike; FP8 pages within 2× the error of the float64 math on the
// dequantised values, against float32 pages (the rule).
import { afterEach, describe, expect, it } from 'vitest'

import * as sk from '../../lib/index.js'
import {
  type Append,
  budgetFor,
  decodeReference,
  type Geometry,
  questBound,
  relErr,
  rows,
  storedValues,
} from '../decode/reference.js'

const made: { dispose(): void }[] = []
const keep = <T extends { dispose(): void }>(x: T): T => (made.push(x), x)
afterEach(() => {
  for (const x of made.splice(0)) x.dispose()
})

let seedCounter = 1
function makeAppend(geo: Geometry, T: number, counts?: number[], amplitude = 1): Append {
  const n = geo.batch * geo.kvHeads * T * geo.headDim
  return {
    k: rows(n, seedCounter++, amplitude),
    v: rows(n, seedCounter++),
    T,
    counts: counts ?? new Array(geo.batch).fill(T),
  }
}

async function build(geo: Geometry, appends: Append[]): Promise<sk.KVCache> {
  const cache = keep(await sk.KVCache.create(geo))
  for (const a of appends) {
    const dims = [geo.batch, geo.kvHeads, a.T, geo.headDim]
    const k = keep(sk.tensor(a.k, dims)),
      v = keep(sk.tensor(a.v, dims))
    await cache.append(k, v, { lengths: a.counts })
  }
  return cache
}

function queries(
  B: number,
  Hq: number,
  Tq: number,
  D: number,
  amplitude = 1,
): { q: sk.Tensor; q64: Float64Array; dims: number[] } {
  const dims = [B, Hq, Tq, D]
  const data = rows(B * Hq * Tq * D, seedCounter++, amplitude)
  return { q: keep(sk.tensor(data, dims)), q64: Float64Array.from(data), dims }
}

async function check(geo: Geometry, appends: Append[], Hq: number, Tq: number, options: sk.DecodeOptions = {}) {
  const cache = await build(geo, appends)
  const { q, q64, dims } = queries(geo.batch, Hq, Tq, geo.headDim)
  const r = await sk.decodeAttention(q, cache, { ...options, returnLse: true, returnPages: true })
  ;(keep(r.out), keep(r.lse!))
  const stored = storedValues(geo, appends)
  const selective = (options.select !== undefined && options.select !== 'dense') || options.streamingHeads !== undefined
  const ref = decodeReference(geo, q64, dims, stored, { pages: selective ? r.pages : null, scale: options.scale })
  const err = relErr(r.out.data as Float32Array, ref.out),
    budget = budgetFor(ref)
  expect(err, `output error ${err.toExponential(2)}, budget ${budget.toExponential(2)}`).toBeLessThanOrEqual(budget)
  const lse = r.lse!.data as Float32Array
  for (let i = 0; i < lse.length; ++i)
    expect(Math.abs(lse[i]! - ref.lse[i]!)).toBeLessThanOrEqual(budget * Math.max(1, Math.abs(ref.lse[i]!)))
  return { cache, r, q64, dims, stored }
}

const kTypes: sk.KVCacheType[] = ['float32', 'float16', 'bfloat16', 'float8e4m3fn']

describe(`decodeAttention (SPARSEKIT_ISA=${process.env.SPARSEKIT_ISA ?? 'auto'})`, () => {
  it('the decode kernel is the forced ISA one', () => {
    const kernels =
      sk.devices()[0]!.kind === 'cpu' ? (sk.devices()[0] as { kernels: Record<string, string> }).kernels : {}
    if (process.env.SPARSEKIT_ISA) expect(kernels.decode).toBe(`sk_f32_decode_ukernel__${process.env.SPARSEKIT_ISA}`)
  })

  for (const type of kTypes)
    it(`dense, ${type} pages: GQA 4:1, length 150 (not a multiple of the page), pages of 16 and 64`, async () => {
      for (const pageSize of [16, 64]) {
        const geo: Geometry = { batch: 1, kvHeads: 2, headDim: 64, pageSize, type }
        const { r } = await check(geo, [makeAppend(geo, 150)], 8, 1)
        expect(r.pages![0]![0]!.length).toBe(Math.ceil(150 / pageSize))
      }
    })

  it('head dims 16, 80 and 256; page sizes 32, 48 and 128', async () => {
    for (const [headDim, pageSize] of [
      [16, 32],
      [80, 48],
      [256, 128],
    ] as const) {
      const geo: Geometry = { batch: 1, kvHeads: 1, headDim, pageSize, type: 'bfloat16' }
      await check(geo, [makeAppend(geo, 300)], 3, 1)
    }
  })

  it('Tq 1 … 8: bottom-right causal among the queries; MQA (one KV head for 5 query heads)', async () => {
    const geo: Geometry = { batch: 1, kvHeads: 1, headDim: 32, pageSize: 16, type: 'float32' }
    for (const Tq of [1, 2, 5, 8]) await check(geo, [makeAppend(geo, 41)], 5, Tq)
    await check(geo, [makeAppend(geo, 8)], 5, 8) // the queries are the whole sequence
  })

  it('a ragged batch appended in several calls; q of float16 and bfloat16 gives that type back', async () => {
    const geo: Geometry = { batch: 3, kvHeads: 2, headDim: 32, pageSize: 16, type: 'float16' }
    const appends = [makeAppend(geo, 40, [37, 1, 20]), makeAppend(geo, 17, [1, 17, 0]), makeAppend(geo, 1)]
    await check(geo, appends, 4, 1)
    const cache = await build(geo, appends)
    expect(cache.lengths).toEqual([39, 19, 21])
    for (const qt of ['float16', 'bfloat16'] as const) {
      const q = keep(sk.randn([3, 4, 2, 32], { type: qt, seed: 5 }))
      const out = keep(await sk.decodeAttention(q, cache))
      expect(out.type).toBe(qt)
      expect(out.dims).toEqual([3, 4, 2, 32])
    }
  })

  for (const type of kTypes)
    it(`${type}: appending in chunks gives what one append gives`, async () => {
      const geo: Geometry = { batch: 2, kvHeads: 2, headDim: 32, pageSize: 16, type }
      const all = makeAppend(geo, 90, [90, 77])
      // The same rows in chunks [from, to) of each sequence, appended in turn.
      const chunks = (
        [
          [0, 1],
          [1, 6],
          [6, 22],
          [22, 23],
          [23, 55],
          [55, 90],
        ] as const
      ).map(([from, to]): Append => {
        const part = (src: Float32Array) => {
          const out = new Float32Array(4 * (to - from) * 32)
          for (let bg = 0; bg < 4; ++bg)
            out.set(src.subarray((bg * 90 + from) * 32, (bg * 90 + to) * 32), bg * (to - from) * 32)
          return out
        }
        return {
          k: part(all.k),
          v: part(all.v),
          T: to - from,
          counts: [to - from, Math.max(0, Math.min(to, 77) - from)],
        }
      })
      const once = await build(geo, [all]),
        chunked = await build(geo, chunks)
      expect(chunked.lengths).toEqual(once.lengths)
      const { q, q64, dims } = queries(2, 4, 1, 32)
      const a = keep(await sk.decodeAttention(q, once)),
        b = keep(await sk.decodeAttention(q, chunked))
      if (type !== 'float8e4m3fn') {
        expect(Array.from(b.data as Float32Array)).toEqual(Array.from(a.data as Float32Array))
        return
      }
      // FP8 re-encodes a page's codes when an append grows its scale: the same values but for those
      // below e4m3's normal range (rounded twice); each cache matches the model of its own appends.
      const ref = decodeReference(geo, q64, dims, storedValues(geo, chunks))
      expect(relErr(b.data as Float32Array, ref.out)).toBeLessThanOrEqual(budgetFor(ref))
      expect(relErr(b.data as Float32Array, a.data as Float32Array)).toBeLessThan(1e-4)
    })

  it('FP8: a page whose scale grows as tokens arrive re-encodes its codes (the model of the rule matches)', async () => {
    const geo: Geometry = { batch: 1, kvHeads: 1, headDim: 32, pageSize: 32, type: 'float8e4m3fn' }
    // Small values first, then each append a larger one: the page's scale grows four times.
    const appends = [
      makeAppend(geo, 5, undefined, 1e-3),
      makeAppend(geo, 3, undefined, 0.5),
      makeAppend(geo, 1, undefined, 30),
      makeAppend(geo, 7, undefined, 1e3),
      makeAppend(geo, 1, undefined, 4e4),
    ]
    await check(geo, appends, 2, 1)
    await check(geo, appends, 2, 4)
  })

  it('FP8 pages: error against float32 pages at most 2× that of float64 on the dequantised values', async () => {
    const base: Geometry = { batch: 1, kvHeads: 2, headDim: 128, pageSize: 16, type: 'float32' }
    const a = makeAppend(base, 700)
    const { q, q64, dims } = queries(1, 8, 1, 128, 2)
    const exact = decodeReference(base, q64, dims, storedValues(base, [a]))
    const geo = { ...base, type: 'float8e4m3fn' as const }
    const math = relErr(decodeReference(geo, q64, dims, storedValues(geo, [a])).out, exact.out)
    const out = keep(await sk.decodeAttention(q, await build(geo, [a])))
    const got = relErr(out.data as Float32Array, exact.out)
    expect(
      got,
      `fp8 pages ${got.toExponential(2)}, float64 math on the dequantised values ${math.toExponential(2)}`,
    ).toBeLessThanOrEqual(2 * math)
  })

  // Two ways through the CPU driver: short selections of several pairs run one task per pair, scoring and
  // selecting in the same pass; one pair of 25 pages (more than half of a thread's share) is split into tasks.
  const questCases = [
    { what: 'a task per pair', batch: 2, kvHeads: 2, lengths: [400, 333], budget: 100 },
    { what: 'split into tasks', batch: 1, kvHeads: 1, lengths: [800], budget: 400 },
  ]
  for (const c of questCases)
    for (const type of ['bfloat16', 'float8e4m3fn'] as const)
      it(`Quest, ${type}, ${c.what}: the float64 bounds' pages (sink, recent, top), output over them`, async () => {
        const geo: Geometry = { batch: c.batch, kvHeads: c.kvHeads, headDim: 64, pageSize: 16, type }
        const appends = [makeAppend(geo, c.lengths[0]!, c.lengths)]
        const select = { method: 'quest' as const, budget: c.budget, sink: 20, recent: 16 }
        const { r, q64, dims, stored } = await check(geo, appends, 4 * c.kvHeads, 2, { select })
        for (let b = 0; b < c.batch; ++b)
          for (let g = 0; g < c.kvHeads; ++g) {
            const L = stored.lengths[b]!,
              n = Math.ceil(L / 16)
            const pages = Array.from(r.pages![b]![g]!)
            const recentBegin = Math.floor((L - Math.max(16, 2)) / 16) // the pages of the last max(recent, Tq) tokens
            // sink 20 tokens → pages 0, 1
            const forced = [0, 1, ...Array.from({ length: n - recentBegin }, (_, i) => recentBegin + i)]
            for (const p of forced) expect(pages, `b ${b} g ${g}`).toContain(p)
            expect(pages.length).toBe(Math.max(Math.floor(c.budget / 16), forced.length))
            const bound = (p: number) => questBound(q64, dims, geo, stored.k[b]![g]!, L, b, g, p)
            const picked = pages.filter((p) => !forced.includes(p)).map(bound)
            const left = Array.from({ length: n }, (_, p) => p)
              .filter((p) => !pages.includes(p))
              .map(bound)
            const tol = 1e-4 * Math.max(...[...picked, ...left].map(Math.abs))
            expect(Math.min(...picked)).toBeGreaterThanOrEqual(Math.max(...left) - tol)
          }
      })

  it('Quest: pages of equal bounds go to the lower page, NaN bounds first', async () => {
    for (const [kvHeads, T, budget] of [
      [2, 400, 96],
      [1, 800, 400],
    ] as const) {
      const geo: Geometry = { batch: 1, kvHeads, headDim: 32, pageSize: 16, type: 'float32' }
      const a = makeAppend(geo, T)
      a.k.fill(0) // every bound 0 …
      for (let g = 0; g < kvHeads; ++g) a.k[(g * T + 16 * 9) * 32] = NaN // … but page 9's, NaN
      const cache = await build(geo, [a])
      const { q } = queries(1, 2 * kvHeads, 1, 32)
      const r = await sk.decodeAttention(q, cache, {
        select: { method: 'quest', budget, sink: 16, recent: 16 },
        returnPages: true,
      })
      keep(r.out)
      const n = T / 16,
        top = budget / 16 - 2
      const rest = Array.from({ length: n }, (_, i) => i).filter((p) => p !== 0 && p !== 9)
      const want = [0, 9, ...rest.slice(0, top - 1)].sort((x, y) => x - y)
      for (let g = 0; g < kvHeads; ++g) expect(Array.from(r.pages![0]![g]!)).toEqual([...want, n - 1])
    }
  })

  it('Quest always selects the page of a needle key whose logit dominates', async () => {
    const geo: Geometry = { batch: 1, kvHeads: 2, headDim: 64, pageSize: 16, type: 'float8e4m3fn' }
    const a = makeAppend(geo, 640)
    const { q, q64, dims } = queries(1, 4, 1, 64)
    const needles = [333, 97] // one per KV head, in pages 20 and 6
    for (let g = 0; g < 2; ++g)
      for (let d = 0; d < 64; ++d) {
        let dir = 0
        for (let h = 2 * g; h < 2 * g + 2; ++h) dir += q64[h * 64 + d]!
        a.k[(g * 640 + needles[g]!) * 64 + d] = 3 * dir
      }
    const cache = await build(geo, [a])
    const r = await sk.decodeAttention(q, cache, {
      select: { method: 'quest', budget: 64, sink: 16, recent: 16 },
      returnPages: true,
    })
    keep(r.out)
    for (let g = 0; g < 2; ++g) expect(Array.from(r.pages![0]![g]!)).toContain(Math.floor(needles[g]! / 16))
    const ref = decodeReference(geo, q64, dims, storedValues(geo, [a]), { pages: r.pages })
    expect(relErr(r.out.data as Float32Array, ref.out)).toBeLessThanOrEqual(budgetFor(ref))
  })

  it('Quest reuse: a selection serves `reuse` calls, its recent pages following the length', async () => {
    const geo: Geometry = { batch: 1, kvHeads: 1, headDim: 32, pageSize: 16, type: 'float32' }
    const cache = await build(geo, [makeAppend(geo, 300)])
    const select = { method: 'quest' as const, budget: 64, sink: 16, recent: 16, reuse: 3 }
    const picks: number[][] = []
    for (let step = 0; step < 4; ++step) {
      const { q } = queries(1, 2, 1, 32)
      const r = await sk.decodeAttention(q, cache, { select, returnPages: true })
      keep(r.out)
      picks.push(Array.from(r.pages![0]![0]!))
      const one = makeAppend(geo, 16)
      await cache.append(keep(sk.tensor(one.k, [1, 1, 16, 32])), keep(sk.tensor(one.v, [1, 1, 16, 32])))
    }
    // The top pages: neither the sink page nor the recent ones (those of the last 16 tokens) at length L.
    const top = (p: number[], L: number) => p.filter((x) => x !== 0 && x < Math.floor((L - 16) / 16))
    expect(top(picks[0]!, 300).length).toBe(1)
    expect(top(picks[1]!, 316)).toEqual(top(picks[0]!, 300)) // reused, with the new recent pages
    expect(top(picks[2]!, 332)).toEqual(top(picks[0]!, 300))
    expect(picks[1]).toEqual(expect.arrayContaining([18, 19]))
    expect(picks[3]).toContain(21) // the fourth call selects afresh
  })

  it('streaming heads read their sink and recent pages only; the others stay dense or Quest', async () => {
    const geo: Geometry = { batch: 1, kvHeads: 4, headDim: 32, pageSize: 16, type: 'bfloat16' }
    const appends = [makeAppend(geo, 500)]
    const { r } = await check(geo, appends, 8, 1, { streamingHeads: { heads: [1, 0, 1, 0], sink: 20, recent: 40 } })
    const n = Math.ceil(500 / 16)
    expect(Array.from(r.pages![0]![0]!)).toEqual([0, 1, 28, 29, 30, 31]) // sink 20 → pages 0, 1; recent tokens 460 … 499 → pages 28 … 31
    expect(r.pages![0]![1]!.length).toBe(n)
    const quest = await check(geo, appends, 8, 1, {
      streamingHeads: [0, 1, 0, 1],
      select: { method: 'quest', budget: 128 },
    })
    const range = (a: number, b: number) => Array.from({ length: b - a }, (_, i) => a + i)
    expect(Array.from(quest.r.pages![0]![1]!)).toEqual([...range(0, 8), ...range(15, n)]) // LServe's default: sink 128, recent 256 tokens (244 … 499)
    expect(quest.r.pages![0]![0]!.length).toBe(8)
  })

  it('FP8 pages with large scales (≥ 2⁷) in some groups: read through float16 there, the same answers', async () => {
    // decode_task reads a group with Widen::e4m3_2m120 when its page scales × 2^120 stay finite, and
    // through float16 otherwise: groups of either kind, and one that mixes pages of both, in one task.
    const geo: Geometry = { batch: 1, kvHeads: 2, headDim: 64, pageSize: 16, type: 'float8e4m3fn' }
    const T = 300
    const a = makeAppend(geo, T)
    const big = (x: Float32Array, h: number, t0: number, t1: number) => {
      for (let t = t0; t < t1; ++t) for (let d = 0; d < geo.headDim; ++d) x[(h * T + t) * geo.headDim + d]! *= 3e4
    }
    ;(big(a.k, 0, 40, 70), big(a.v, 0, 40, 70), big(a.v, 1, 150, 300))
    const cache = await build(geo, [a])
    const { q, q64, dims } = queries(1, 4, 1, 64, 1e-4)
    const out = keep(await sk.decodeAttention(q, cache))
    const ref = decodeReference(geo, q64, dims, storedValues(geo, [a]), {})
    expect(relErr(out.data as Float32Array, ref.out)).toBeLessThanOrEqual(budgetFor(ref))
  })

  it('large logits (amplitude 40, scale 0.5): no NaN, within float32 rounding of scores in the thousands', async () => {
    const geo: Geometry = { batch: 1, kvHeads: 1, headDim: 64, pageSize: 16, type: 'float8e4m3fn' }
    const a = makeAppend(geo, 100, undefined, 40)
    const cache = await build(geo, [a])
    const { q, q64, dims } = queries(1, 2, 3, 64, 40)
    const out = keep(await sk.decodeAttention(q, cache, { scale: 0.5 }))
    const ref = decodeReference(geo, q64, dims, storedValues(geo, [a]), { scale: 0.5 })
    expect(ref.maxScore).toBeGreaterThan(1000)
    expect(relErr(out.data as Float32Array, ref.out)).toBeLessThanOrEqual(budgetFor(ref))
  })
})
