// The float64 attention reference and the checks every attention test uses:
// inputs of a case, decoding any float dtype to float64, the error measure
// (max-norm relative) and the budgets of DESIGN.md ("Testing").
import { expect } from 'vitest'

import * as sk from '../../lib/index.js'
import { type AttentionCase, buildMask, type Visible, visibility } from '../cases/attention.js'
import { maxRelErr } from '../fixtures/max-rel-err.js'
import { bitsOfF32, decodeValue, encodeFloat, FORMATS } from '../numeric/reference.js'

/** fp32 outputs: within this relative (max-norm) error of the float64 reference. */
export const kF32Budget = 1e-5
/** lse (float32 for every dtype): within this relative error of the float64 reference's, at least 1 in scale. */
export const kLseBudget = 1e-5

/** float64 values of a CPU tensor, whatever its float dtype. */
export function toF64(t: sk.Tensor): Float64Array {
  const data = t.data
  if (t.type === 'float32') return Float64Array.from(data as Float32Array)
  if (t.type !== 'float16' && t.type !== 'bfloat16') throw new Error(`toF64: ${t.type}`)
  const f = FORMATS[t.type]
  return Float64Array.from(data as Uint16Array, (b) => decodeValue(f, b))
}

/** A float64 value rounded to `type` (through float32, ties to even) and back. */
export function roundTo(type: sk.DType, x: number): number {
  if (type === 'float32') return Math.fround(x)
  if (type !== 'float16' && type !== 'bfloat16') throw new Error(`roundTo: ${type}`)
  return decodeValue(FORMATS[type], encodeFloat(type, bitsOfF32(x), true))
}

/** [B, S, H, D] data (any array) as [B, H, S, D], or the reverse with `inverse`. */
export function transposeSH<T extends { length: number; [i: number]: number }>(
  src: T,
  b: number,
  s: number,
  h: number,
  d: number,
  make: (n: number) => T,
  inverse = false,
): T {
  const out = make(src.length)
  for (let bi = 0; bi < b; ++bi)
    for (let si = 0; si < s; ++si)
      for (let hi = 0; hi < h; ++hi) {
        const bshd = ((bi * s + si) * h + hi) * d
        const bhsd = ((bi * h + hi) * s + si) * d
        for (let x = 0; x < d; ++x) {
          if (inverse) out[bshd + x] = src[bhsd + x]
          else out[bhsd + x] = src[bshd + x]
        }
      }
  return out
}

/** q, k, v of a case as tensors in the case's layout and type; seeded, on the CPU. */
export function makeInputs(c: AttentionCase, seed = 1, amplitude = 1): { q: sk.Tensor; k: sk.Tensor; v: sk.Tensor } {
  const dims = (h: number, s: number) => (c.layout === 'bshd' ? [c.batch, s, h, c.headDim] : [c.batch, h, s, c.headDim])
  const make = (h: number, s: number, sd: number) => {
    if (amplitude === 1) return sk.randn(dims(h, s), { type: c.type, seed: sd })
    const f = sk.randn(dims(h, s), { seed: sd })
    const a = f.data as Float32Array
    for (let i = 0; i < a.length; ++i) a[i] *= amplitude
    if (c.type === 'float32') return f
    return sk.tensor(Array.from(a), [...f.dims], c.type)
  }
  return {
    q: make(c.headsQ, c.seqQ, seed * 3),
    k: make(c.headsKv, c.seqKv, seed * 3 + 1),
    v: make(c.headsKv, c.seqKv, seed * 3 + 2),
  }
}

/** A tensor's values as float64 in [B, H, S, D] order. */
export function logicalF64(t: sk.Tensor, layout: AttentionCase['layout']): Float64Array {
  const v = toF64(t)
  if (layout !== 'bshd') return v
  const [b, s, h, d] = t.dims
  return transposeSH(v, b, s, h, d, (n) => new Float64Array(n))
}

/** What the reference computes for the rows it was asked for. */
export interface Reference {
  out: Float64Array // [B, Hq, Sq, D]; rows not checked are 0
  lse: Float64Array // [B, Hq, Sq]; -Infinity for a row with no visible key
  checked: Uint8Array // [B, Hq, Sq]: 1 where computed
  empty: Uint8Array // [B, Hq, Sq]: 1 where no key is visible
  maxScore: number // max |scale · q·k| over the checked rows' visible keys
}

/**
 * Attention in float64 from the definition (softmax with the max subtracted),
 * on rows (b, h, i) with i % rowStride == 0 or i == Sq - 1.
 */
export function reference(
  c: AttentionCase,
  q: Float64Array,
  k: Float64Array,
  v: Float64Array,
  opts: { scale?: number; rowStride?: number; visible?: Visible } = {},
): Reference {
  const { batch: B, headsQ: Hq, headsKv: Hkv, seqQ: Sq, seqKv: Skv, headDim: D } = c
  const scale = opts.scale ?? 1 / Math.sqrt(D)
  const stride = opts.rowStride ?? 1
  const visible = opts.visible ?? visibility(c)
  const out = new Float64Array(B * Hq * Sq * D)
  const lse = new Float64Array(B * Hq * Sq).fill(-Infinity)
  const checked = new Uint8Array(B * Hq * Sq)
  const empty = new Uint8Array(B * Hq * Sq)
  const s = new Float64Array(Skv)
  const keys = new Int32Array(Skv)
  let maxScore = 0
  for (let b = 0; b < B; ++b)
    for (let h = 0; h < Hq; ++h) {
      const g = Math.floor(h / (Hq / Hkv))
      const kvBase = (b * Hkv + g) * Skv * D
      for (let i = 0; i < Sq; ++i) {
        if (i % stride !== 0 && i !== Sq - 1) continue
        const row = (b * Hq + h) * Sq + i
        checked[row] = 1
        const qo = row * D
        let n = 0
        let m = -Infinity
        for (let j = 0; j < Skv; ++j) {
          if (!visible(h, i, j)) continue
          let dot = 0
          const ko = kvBase + j * D
          for (let x = 0; x < D; ++x) dot += q[qo + x] * k[ko + x]
          s[n] = dot * scale
          keys[n++] = j
          if (s[n - 1] > m) m = s[n - 1]
          maxScore = Math.max(maxScore, Math.abs(s[n - 1]))
        }
        if (n === 0) {
          empty[row] = 1
          continue
        }
        let sum = 0
        for (let t = 0; t < n; ++t) sum += s[t] = Math.exp(s[t] - m)
        for (let t = 0; t < n; ++t) {
          const p = s[t] / sum
          const vo = kvBase + keys[t] * D
          for (let x = 0; x < D; ++x) out[qo + x] += p * v[vo + x]
        }
        lse[row] = m + Math.log(sum)
      }
    }
  return { out, lse, checked, empty, maxScore }
}

/** {@link maxRelErr} of attention rows of D values, over the rows the reference checked. */
export const rowsRelErr = (out: ArrayLike<number>, ref: Reference, D: number): number =>
  maxRelErr(out, ref.out, (x) => Boolean(ref.checked[Math.floor(x / D)]))

/**
 * The budget of a dtype: 1e-5 for float32; for 16-bit types twice the error
 * of the float64 reference itself rounded to the type (FlashAttention's rule).
 */
export function budgetFor(type: sk.DType, ref: Reference, D: number): number {
  // Scores far from O(10) (stress tests only): a float32 score is off by a few
  // ulps of |s|, an absolute error the softmax passes on to the weights.
  if (type === 'float32') return Math.max(kF32Budget, 8 * 2 ** -24 * ref.maxScore)
  const rounded = ref.out.map((x) => roundTo(type, x))
  return 2 * rowsRelErr(rounded, ref, D)
}

/** The lse budget: 1e-5, widened like float32 outputs for scores in the hundreds (see {@link budgetFor}). */
export const lseBudgetFor = (ref: Reference): number => Math.max(kLseBudget, 8 * 2 ** -24 * ref.maxScore)

/** Worst |lse − ref| ÷ max(1, |ref|) over checked rows that see a key; NaN-safe. */
export function lseErr(lse: Float32Array, ref: Reference): number {
  let worst = 0
  for (let row = 0; row < ref.checked.length; ++row) {
    if (!ref.checked[row] || ref.empty[row]) continue
    const e = Math.abs(lse[row] - ref.lse[row]) / Math.max(1, Math.abs(ref.lse[row]))
    if (!(e <= worst)) worst = Number.isNaN(e) ? Infinity : e
  }
  return worst
}

/** Runs a case through sk.attention on `device` and returns float64 [B, Hq, Sq, D] output and lse. */
export async function runCase(
  c: AttentionCase,
  inputs: { q: sk.Tensor; k: sk.Tensor; v: sk.Tensor },
  opts: { scale?: number; device?: sk.DeviceName } = {},
): Promise<{ out: Float64Array; lse: Float32Array }> {
  const device = opts.device ?? 'cpu'
  const onDevice = async (t: sk.Tensor) => (device === 'cpu' ? t : await t.to(device))
  const [q, k, v] = [await onDevice(inputs.q), await onDevice(inputs.k), await onDevice(inputs.v)]
  const mask = buildMask(c)
  try {
    const r = await sk.attention(q, k, v, {
      causal: c.causal,
      mask,
      scale: opts.scale,
      layout: c.layout,
      returnLse: true,
    })
    const out = device === 'cpu' ? r.out : await r.out.to('cpu')
    const lse = new Float32Array(await r.lse.getData(true))
    const values = logicalF64(out, c.layout)
    for (const t of [out, r.out, r.lse]) t.dispose()
    return { out: values, lse }
  } finally {
    if (device !== 'cpu') for (const t of [q, k, v]) t.dispose()
  }
}

/** Whether any value is NaN. */
export const hasNaN = (a: ArrayLike<number>): boolean => Array.prototype.some.call(a, (x: number) => Number.isNaN(x))

/** What {@link checkCase} may vary. */
export interface CheckOptions {
  rowStride?: number
  scale?: number
  amplitude?: number
  seed?: number
  device?: sk.DeviceName
}

/**
 * Runs a case on `device` and holds it to its budget on the sampled rows:
 * no NaN, output and lse within budget, rows with no visible key exactly 0
 * with lse -Infinity. Returns the reference and the results for further checks.
 */
export async function checkCase(
  c: AttentionCase,
  inputs: { q: sk.Tensor; k: sk.Tensor; v: sk.Tensor },
  opts: CheckOptions = {},
) {
  const ref = reference(
    c,
    logicalF64(inputs.q, c.layout),
    logicalF64(inputs.k, c.layout),
    logicalF64(inputs.v, c.layout),
    opts,
  )
  const { out, lse } = await runCase(c, inputs, { scale: opts.scale, device: opts.device })
  const err = rowsRelErr(out, ref, c.headDim)
  const budget = budgetFor(c.type, ref, c.headDim)
  expect(hasNaN(out), `${c.name}: NaN in out`).toBe(false)
  expect(hasNaN(lse), `${c.name}: NaN in lse`).toBe(false)
  expect(
    err,
    `${c.name}: max-norm relative error ${err.toExponential(2)} vs budget ${budget.toExponential(2)}`,
  ).toBeLessThanOrEqual(budget)
  expect(lseErr(lse, ref), `${c.name}: lse error`).toBeLessThanOrEqual(lseBudgetFor(ref))
  for (let row = 0; row < ref.empty.length; ++row) {
    if (!ref.empty[row]) continue
    expect(lse[row], `${c.name}: lse of empty row ${row}`).toBe(-Infinity)
    for (let x = row * c.headDim; x < (row + 1) * c.headDim; ++x)
      if (out[x] !== 0) expect.fail(`${c.name}: empty row ${row} has ${out[x]} at ${x % c.headDim}`)
  }
  return { ref, out, lse }
}
