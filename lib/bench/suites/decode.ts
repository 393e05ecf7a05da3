/**
 * `decode` suite: one decode step on the CPU (float32 queries, B 1, Hq 32,
 * Hkv 8, D 128) over a paged KVCache at contexts of 4K to 128K tokens (quick:
 * 4K and 8K), on the synthetic generator of lib/bench/prefill-gen.ts (sinks,
 * a local window, a slash line, heavy hitters in hot segments; seeded, its
 * defaults) with queries of the last position:
 *
 * - the bandwidth yardstick: a streaming read of as many bytes as each page
 *   type's K and V (`stream read …`); dense rows count those bytes, so their
 *   ratio is the share of that bandwidth they reach;
 * - onnxruntime-node's com.microsoft GroupQueryAttention with a float32 past
 *   (the same process and thread count, intra-op spinning off);
 * - dense decode over float32, bfloat16 (pages of 16 and 64) and FP8 pages;
 * - Quest at budgets of 1/8 and 1/16 of the context (bfloat16 pages of 16
 *   and 64) and streaming heads at 50 % (sink 128, recent 256), each against
 *   the dense row of its page type and size.
 *
 * Accuracy columns, measured once per context: `err`, the relative L2 error
 * against dense decode over float32 pages; `mass`, the share of the true
 * softmax mass (over the same pages' keys) the keys read hold; `f64err`, on
 * FP8 rows, the error of float64 attention over the dequantised FP8 values.
 * The targets at 32K are judged on the timed rows (summary).
 * @internal
 * @module
 */
import { loadavg } from 'node:os'

import { KVCache, type KVCacheType } from '../../decode/cache.js'
import { numThreads } from '../../device.js'
import { decodeAttention, type DecodeOptions } from '../../ops/decode.js'
import { cpuBinding } from '../../native.js'
import type { Tensor } from '../../tensor.js'
import { decodeF64, fp8Stored } from '../decode-metrics.js'
import {
  type BenchCase,
  type BenchRow,
  type BenchSuite,
  fillNoise,
  lastLevelCacheBytes,
  rotationSets,
  type SuiteContext,
} from '../harness.js'
import { gqaDecodeModel, loadOrt, type Ort, ortCase } from '../onnx.js'
import { generatePrefill } from '../prefill-gen.js'
import { recall, relativeError } from '../prefill-metrics.js'

const kHq = 32,
  kHkv = 8,
  kD = 128,
  kSeed = 11,
  kTargetLen = 32768

interface Pages {
  label: string
  type: KVCacheType
  pageSize: number
  bytes: number
}
const pagesOf = (type: KVCacheType, pageSize: number, label: string): Pages => ({
  label,
  type,
  pageSize,
  bytes: { float32: 4, float16: 2, bfloat16: 2, float8e4m3fn: 1 }[type],
})
const kF32 = pagesOf('float32', 16, 'f32'),
  kBf16 = pagesOf('bfloat16', 16, 'bf16'),
  kBf16p64 = pagesOf('bfloat16', 64, 'bf16 p64'),
  kFp8 = pagesOf('float8e4m3fn', 16, 'fp8')

/** Copies whose total exceeds the caches; one when a copy alone is far past the last-level cache. */
const setsFor = (bytes: number) => (bytes >= Math.max(64 << 20, 4 * lastLevelCacheBytes()) ? 1 : rotationSets(bytes))

/** One context's inputs, caches and references, made on first use and shared by its rows. */
class Context {
  q!: Tensor
  k!: Tensor
  v!: Tensor
  #caches = new Map<Pages, KVCache[]>()
  #ready: Promise<void> | null = null
  dense = new Map<Pages, { out: Tensor; lse: Tensor }>()
  constructor(readonly len: number) {}
  kvBytes = (p: Pages) => 2 * kHkv * this.len * kD * p.bytes

  ready(): Promise<void> {
    this.#ready ??= (async () => {
      const g = await generatePrefill({
        heads: kHq,
        kvHeads: kHkv,
        seq: this.len,
        headDim: kD,
        seed: kSeed,
        lastQueries: 1,
      })
      Object.assign(this, g)
      for (const p of [kF32, kBf16, kBf16p64, kFp8]) {
        const r = await decodeAttention(this.q, (await this.caches(p))[0]!, { returnLse: true })
        this.dense.set(p, r as { out: Tensor; lse: Tensor })
      }
    })()
    return this.#ready
  }

  async caches(p: Pages): Promise<KVCache[]> {
    if (!this.#caches.has(p)) {
      const list: KVCache[] = []
      for (let i = setsFor(this.kvBytes(p)); i > 0; --i) {
        const c = await KVCache.create({ batch: 1, kvHeads: kHkv, headDim: kD, pageSize: p.pageSize, type: p.type })
        await c.append(this.k, this.v)
        list.push(c)
      }
      this.#caches.set(p, list)
    }
    return this.#caches.get(p)!
  }

  /** err, and mass against the same pages' dense decode, of one call. */
  async accuracy(p: Pages, options: DecodeOptions): Promise<Record<string, number>> {
    const r = (await decodeAttention(this.q, (await this.caches(p))[0]!, { ...options, returnLse: true })) as {
      out: Tensor
      lse: Tensor
    }
    try {
      return { err: relativeError(r.out, this.dense.get(kF32)!.out), mass: recall(r.lse, this.dense.get(p)!.lse) }
    } finally {
      r.out.dispose()
      r.lse.dispose()
    }
  }

  /** The error of float64 attention over what an FP8 cache stores, against dense float32 pages. */
  async fp8MathError(): Promise<number> {
    const [q, k, v] = [this.q, this.k, this.v].map((t) => t.data as Float32Array) as [
      Float32Array,
      Float32Array,
      Float32Array,
    ]
    const f64 = decodeF64(
      q,
      await fp8Stored(k, kHkv, this.len, kD, 16),
      await fp8Stored(v, kHkv, this.len, kD, 16),
      kHq,
      kHkv,
      this.len,
      kD,
    )
    try {
      return relativeError(f64, this.dense.get(kF32)!.out)
    } finally {
      f64.dispose()
    }
  }

  dispose(): void {
    for (const list of this.#caches.values()) for (const c of list) c.dispose()
    for (const r of this.dense.values()) (r.out.dispose(), r.lse.dispose())
    for (const t of [this.q, this.k, this.v]) t?.dispose()
    this.#caches.clear()
    this.dense.clear()
    this.#ready = null
  }
}

function streamCase(ctx: Context, p: Pages): BenchCase {
  let sets: Float64Array[] = []
  return {
    name: `stream read ${p.label} L=${ctx.len}`,
    bytes: ctx.kvBytes(p),
    setup() {
      sets = Array.from({ length: setsFor(ctx.kvBytes(p)) }, (_, i) => {
        const a = new Float64Array(ctx.kvBytes(p) / 8)
        fillNoise(new Uint32Array(a.buffer), i + 1)
        return a
      })
    },
    run: (i) => cpuBinding().streamRead(sets[i % sets.length]!, sets[0]!.length),
    teardown: () => void (sets = []),
  }
}

function decodeCase(
  ctx: Context,
  name: string,
  p: Pages,
  options: DecodeOptions,
  baseline: string,
  withBytes: boolean,
): BenchCase {
  let caches: KVCache[] = []
  const c: BenchCase = {
    name,
    baseline,
    bytes: withBytes ? ctx.kvBytes(p) : undefined,
    async setup() {
      await ctx.ready()
      caches = await ctx.caches(p)
      if (options.select !== undefined || options.streamingHeads !== undefined) c.extra = await ctx.accuracy(p, options)
      else if (p !== kF32) c.extra = { err: relativeError(ctx.dense.get(p)!.out, ctx.dense.get(kF32)!.out) }
      if (p === kFp8) c.extra = { ...c.extra, f64err: await ctx.fp8MathError() }
    },
    run: async (i) => ((await decodeAttention(ctx.q, caches[i % caches.length]!, options)) as Tensor).dispose(),
  }
  return c
}

function ortGqaCase(ctx: Context, ort: Ort): BenchCase {
  const L = ctx.len
  const c = ortCase(`ORT GQA f32 L=${L}`, undefined, ort, async () => {
    await ctx.ready()
    // The generated keys and values are the past; one more token is the new one (L + 1 keys in all).
    const past = (t: Tensor, i: number) =>
      new ort.Tensor('float32', i === 0 ? (t.data as Float32Array) : Float32Array.from(t.data as Float32Array), [
        1,
        kHkv,
        L,
        kD,
      ])
    const token = new ort.Tensor('float32', new Float32Array(kHkv * kD).fill(0.1), [1, 1, kHkv * kD])
    const feeds = Array.from({ length: setsFor(ctx.kvBytes(kF32)) }, (_, i) => ({
      query: new ort.Tensor('float32', ctx.q.data as Float32Array, [1, 1, kHq * kD]),
      key: token,
      value: token,
      past_key: past(ctx.k, i),
      past_value: past(ctx.v, i),
      seqlens_k: new ort.Tensor('int32', new Int32Array([L]), [1]),
      total_sequence_length: new ort.Tensor('int32', new Int32Array([L + 1]), []),
    }))
    return { model: gqaDecodeModel(1, L, kHq, kHkv, kD), feeds }
  })
  return { ...c, bytes: ctx.kvBytes(kF32), baseline: `stream read f32 L=${L}` }
}

function casesAt(ctx: SuiteContext, L: number, ort: Ort | string): BenchCase[] {
  const c = new Context(L)
  const dense = (p: Pages) => `dense ${p.label} L=${L}`
  const quest = (p: Pages, f: number) =>
    decodeCase(c, `quest 1/${f} ${p.label} L=${L}`, p, { select: { method: 'quest', budget: L / f } }, dense(p), false)
  const cases: BenchCase[] = [
    streamCase(c, kF32),
    ...(typeof ort === 'string' ? [] : [ortGqaCase(c, ort)]),
    decodeCase(c, dense(kF32), kF32, {}, `stream read f32 L=${L}`, true),
    streamCase(c, kBf16),
    decodeCase(c, dense(kBf16), kBf16, {}, `stream read bf16 L=${L}`, true),
    decodeCase(c, dense(kBf16p64), kBf16p64, {}, `stream read bf16 L=${L}`, true),
    quest(kBf16, 8),
    quest(kBf16, 16),
    quest(kBf16p64, 8),
    quest(kBf16p64, 16),
    decodeCase(
      c,
      `streaming 50% bf16 L=${L}`,
      kBf16,
      { streamingHeads: [1, 0, 1, 0, 1, 0, 1, 0] },
      dense(kBf16),
      false,
    ),
    streamCase(c, kFp8),
    decodeCase(c, dense(kFp8), kFp8, {}, `stream read fp8 L=${L}`, true),
  ]
  const last = cases[cases.length - 1]!,
    own = last.teardown
  last.teardown = async () => {
    await own?.()
    c.dispose()
  }
  ctx.defer(() => c.dispose())
  return cases
}

/** The targets at 32K, on the timed rows (medians over the whole budget) and the accuracy columns. */
function targetNotes(rows: readonly BenchRow[]): string[] {
  const L = kTargetLen,
    row = (name: string) => rows.find((r) => r.name === `${name} L=${L}`)
  const ort = row('ORT GQA f32')
  const notes: string[] = []
  const met = (ok: boolean) => (ok ? 'met' : 'NOT met')
  for (const [label, speedup] of [
    ['f32', 2],
    ['bf16', 3.5],
    ['fp8', 6],
  ] as const) {
    const d = row(`dense ${label}`)
    if (!d?.ratio) continue
    const vsOrt = ort ? ort.medianMs / d.medianMs : NaN
    notes.push(
      `target L ${L}, dense ${label}: ≥ 70 % of the streaming read: ${(100 * d.ratio).toFixed(0)} % ${met(d.ratio >= 0.7)}; ` +
        `≥ ${speedup}× ORT GQA f32: ${Number.isNaN(vsOrt) ? 'no ORT row' : `${vsOrt.toFixed(2)}× ${met(vsOrt >= speedup)}`}`,
    )
  }
  for (const [label, speedup] of [
    ['bf16', 6],
    ['bf16 p64', 8],
  ] as const) {
    const q = row(`quest 1/16 ${label}`)
    if (!q?.ratio || !q.extra) continue
    notes.push(
      `target L ${L}, quest 1/16 ${label}: ≥ ${speedup}× dense: ${q.ratio.toFixed(2)}× ${met(q.ratio >= speedup)}; ` +
        `mass ≥ 0.95: ${q.extra.mass!.toFixed(4)} ${met(q.extra.mass! >= 0.95)}; error ≤ 2e-2: ${q.extra.err!.toExponential(2)} ${met(q.extra.err! <= 2e-2)}`,
    )
  }
  const f = row('dense fp8')?.extra
  if (f?.err !== undefined && f.f64err !== undefined)
    notes.push(
      `target L ${L}, fp8 pages: error ≤ 2× float64 on the dequantised values: ${f.err.toExponential(2)} vs ${f.f64err.toExponential(2)} ` +
        `(${(f.err / f.f64err).toFixed(2)}×) ${met(f.err <= 2 * f.f64err)}`,
    )
  return notes
}

/** The decode suite; see the module comment. */
export const decodeSuite: BenchSuite = {
  name: 'decode',
  description:
    `One decode step over a paged KV cache, float32 queries, B 1, Hq ${kHq}, Hkv ${kHkv}, D ${kD}, on the synthetic generator ` +
    '(seed 11): dense over float32 / bfloat16 / FP8 pages, Quest 1/8 and 1/16, streaming heads at 50 %, vs ORT GroupQueryAttention ' +
    'and a streaming read of the same bytes',
  bytesMeaning: 'the K and V bytes of the pages (dense rows, ORT: its float32 past) or of the read',
  devices: ['cpu'],
  skipReason: 'the decode suite measures the CPU kernels; the CUDA ones are checked by the GPU kit',
  rounds: 4,
  async cases(ctx) {
    const ort = await loadOrt()
    ctx.note(
      typeof ort === 'string'
        ? ort
        : `ORT GQA = com.microsoft GroupQueryAttention, float32 past of L tokens + 1 new, ${numThreads()} intra-op threads, spinning off`,
    )
    ctx.note(
      'rows of one context and page type are set up together and timed in 4 alternating rounds; quest / streaming rows: ratio = speedup over dense of the same pages',
    )
    // Dense decode is bound by the FMAs of both cores as much as by memory: a
    // process sharing the cores slows it more than the streaming read, so the
    // ratios only mean something on a quiet machine.
    ctx.note(
      `load average when the suite started: ${loadavg()[0]!.toFixed(2)} (1 min), ${loadavg()[1]!.toFixed(2)} (5 min)`,
    )
    ctx.note(
      'err: relative L2 error against dense float32 pages; mass: share of the softmax mass over the same pages held by the keys read; f64err: float64 attention over the dequantised FP8 values',
    )
    return (ctx.quick ? [4096, 8192] : [4096, 8192, kTargetLen, 131072]).flatMap((L) => casesAt(ctx, L, ort))
  },
  summary: targetNotes,
}
