// The float64 reference of decode attention over a paged cache, and a model
// of what the cache stores: the appended values rounded to the page type, FP8
// by the page-scale rule of docs/decode.md (a power-of-two scale per page, KV
// head and K / V; codes already in a page re-encoded when an append grows it).
import * as sk from '../../lib/index.js'
import { bitsOfF32, decodeValue, encodeFloat, FORMATS } from '../numeric/reference.js'

/** The cache's view of one append: rows [B][Hkv][T][D] and how many of each sequence's rows it takes. */
export interface Append {
  k: Float32Array
  v: Float32Array
  T: number
  counts: number[]
}

export interface Geometry {
  batch: number
  kvHeads: number
  headDim: number
  pageSize: number
  type: sk.KVCacheType
}

/** The e of a page scale 2^e: the smallest e ≥ -126 with amax ≤ 448 · 2^e. */
export function fp8ScaleExp(amax: number): number {
  let e = -126
  while (amax > 448 * 2 ** e) ++e
  return e
}

const e4m3 = (x: number) => encodeFloat('float8e4m3fn', bitsOfF32(x), true)
const e4m3Value = (code: number) => decodeValue(FORMATS.float8e4m3fn, code)

/**
 * One page of one KV head's K or V, as FP8 codes and a scale exponent: writes
 * of rows at slots [s0, s0 + n) follow the rule, rescaling what is there.
 */
class Fp8Page {
  codes: number[] = []
  e = -1000
  write(rows: number[][]): void {
    let amax = 0
    for (const r of rows) for (const x of r) amax = Math.max(amax, Math.abs(x))
    const want = fp8ScaleExp(amax)
    if (this.codes.length === 0) this.e = want
    else if (want > this.e) {
      const ratio = 2 ** (this.e - want)
      this.codes = this.codes.map((c) => e4m3(Math.fround(e4m3Value(c) * ratio)))
      this.e = want
    }
    for (const r of rows) for (const x of r) this.codes.push(e4m3(Math.fround(x * 2 ** -this.e)))
  }
  values(): number[] {
    return this.codes.map((c) => e4m3Value(c) * 2 ** this.e)
  }
}

/** What the cache holds after these appends: per (b, g) the stored K and V rows as float64, [len][D] flattened. */
export function storedValues(
  geo: Geometry,
  appends: Append[],
): { k: Float64Array[][]; v: Float64Array[][]; lengths: number[] } {
  const { batch: B, kvHeads: H, headDim: D, pageSize: P, type } = geo
  const lengths = new Array<number>(B).fill(0)
  const rows: { k: number[][]; v: number[][] }[][] = Array.from({ length: B }, () =>
    Array.from({ length: H }, () => ({ k: [], v: [] })),
  )
  const pages: { k: Fp8Page; v: Fp8Page }[][][] = Array.from({ length: B }, () => Array.from({ length: H }, () => []))
  const round = (x: number) =>
    type === 'float32'
      ? x
      : type === 'float8e4m3fn'
        ? x
        : decodeValue(FORMATS[type], encodeFloat(type, bitsOfF32(x), true))
  for (const a of appends)
    for (let b = 0; b < B; ++b) {
      for (let g = 0; g < H; ++g) {
        const at = (t: number, src: Float32Array) =>
          Array.from(src.subarray(((b * H + g) * a.T + t) * D, ((b * H + g) * a.T + t + 1) * D))
        for (let done = 0; done < a.counts[b]!;) {
          const pos = lengths[b]! + done,
            s0 = pos % P,
            n = Math.min(P - s0, a.counts[b]! - done)
          const kr = Array.from({ length: n }, (_, t) => at(done + t, a.k)),
            vr = Array.from({ length: n }, (_, t) => at(done + t, a.v))
          if (type === 'float8e4m3fn') {
            const pg = Math.floor(pos / P)
            pages[b]![g]![pg] ??= { k: new Fp8Page(), v: new Fp8Page() }
            pages[b]![g]![pg]!.k.write(kr)
            pages[b]![g]![pg]!.v.write(vr)
          } else {
            rows[b]![g]!.k.push(...kr.map((r) => r.map(round)))
            rows[b]![g]!.v.push(...vr.map((r) => r.map(round)))
          }
          done += n
        }
      }
      lengths[b]! += a.counts[b]!
    }
  const flat = (b: number, g: number, which: 'k' | 'v') => {
    if (type !== 'float8e4m3fn') return Float64Array.from(rows[b]![g]![which].flat())
    return Float64Array.from(pages[b]![g]!.flatMap((p) => p[which].values()))
  }
  return {
    k: Array.from({ length: B }, (_, b) => Array.from({ length: H }, (_, g) => flat(b, g, 'k'))),
    v: Array.from({ length: B }, (_, b) => Array.from({ length: H }, (_, g) => flat(b, g, 'v'))),
    lengths,
  }
}

/** float64 attention of q [B, Hq, Tq, D] over the stored keys of the listed pages (all when `pages` is null). */
export function decodeReference(
  geo: Geometry,
  q: Float64Array,
  dims: readonly number[],
  stored: { k: Float64Array[][]; v: Float64Array[][]; lengths: number[] },
  opts: { pages?: Int32Array[][] | null; scale?: number } = {},
): { out: Float64Array; lse: Float64Array; maxScore: number } {
  const [B, Hq, Tq, D] = dims as [number, number, number, number]
  const group = Hq / geo.kvHeads,
    P = geo.pageSize
  const scale = opts.scale ?? 1 / Math.sqrt(D)
  const out = new Float64Array(B * Hq * Tq * D),
    lse = new Float64Array(B * Hq * Tq)
  let maxScore = 0
  for (let b = 0; b < B; ++b)
    for (let h = 0; h < Hq; ++h) {
      const g = Math.floor(h / group),
        L = stored.lengths[b]!
      const k = stored.k[b]![g]!,
        v = stored.v[b]![g]!
      const keys: number[] = []
      const listed = opts.pages?.[b]?.[g]
      if (listed) for (const pg of listed) for (let j = pg * P; j < Math.min(L, (pg + 1) * P); ++j) keys.push(j)
      else for (let j = 0; j < L; ++j) keys.push(j)
      for (let i = 0; i < Tq; ++i) {
        const qr = q.subarray(((b * Hq + h) * Tq + i) * D, ((b * Hq + h) * Tq + i + 1) * D)
        const seen = keys.filter((j) => j <= i + L - Tq)
        const s = seen.map((j) => {
          let dot = 0
          for (let d = 0; d < D; ++d) dot += qr[d]! * k[j * D + d]!
          return dot * scale
        })
        const m = Math.max(...s)
        for (const x of s) maxScore = Math.max(maxScore, Math.abs(x))
        let l = 0
        const p = s.map((x) => {
          const e = Math.exp(x - m)
          l += e
          return e
        })
        const row = ((b * Hq + h) * Tq + i) * D
        for (let d = 0; d < D; ++d) {
          let o = 0
          seen.forEach((j, n) => (o += p[n]! * v[j * D + d]!))
          out[row + d] = o / l
        }
        lse[(b * Hq + h) * Tq + i] = m + Math.log(l)
      }
    }
  return { out, lse, maxScore }
}

/**
 * The float32 budget of test/attention/reference.ts: 1e-5, or for scores in
 * the hundreds a few ulps of the largest |score|, which the softmax passes on.
 */
export const budgetFor = (ref: { maxScore: number }): number => Math.max(1e-5, 8 * 2 ** -24 * ref.maxScore)

/** max |got − want| ÷ max |want|; Infinity on any NaN. */
export function relErr(got: ArrayLike<number>, want: ArrayLike<number>): number {
  let err = 0,
    norm = 0
  for (let i = 0; i < want.length; ++i) {
    if (Number.isNaN(got[i])) return Infinity
    err = Math.max(err, Math.abs(got[i]! - want[i]!))
    norm = Math.max(norm, Math.abs(want[i]!))
  }
  return err / norm
}

/** Quest's page bound in float64: Σ over the rows of a KV head of Σ_d max(q·min, q·max) over the page's stored keys. */
export function questBound(
  q: Float64Array,
  dims: readonly number[],
  geo: Geometry,
  k: Float64Array,
  len: number,
  b: number,
  g: number,
  page: number,
): number {
  const [, Hq, Tq, D] = dims as [number, number, number, number]
  const group = Hq / geo.kvHeads,
    P = geo.pageSize
  let bound = 0
  for (let d = 0; d < D; ++d) {
    let lo = Infinity,
      hi = -Infinity
    for (let j = page * P; j < Math.min(len, (page + 1) * P); ++j) {
      lo = Math.min(lo, k[j * D + d]!)
      hi = Math.max(hi, k[j * D + d]!)
    }
    for (let h = g * group; h < (g + 1) * group; ++h)
      for (let i = 0; i < Tq; ++i) {
        const x = q[((b * Hq + h) * Tq + i) * D + d]!
        bound += Math.max(x * lo, x * hi)
      }
  }
  return bound
}

/** Seeded float32 rows (values of N(0, 1) × amplitude). */
export function rows(n: number, seed: number, amplitude = 1): Float32Array {
  const t = sk.randn([n], { seed })
  const a = Float32Array.from(t.data as Float32Array, (x) => x * amplitude)
  t.dispose()
  return a
}
