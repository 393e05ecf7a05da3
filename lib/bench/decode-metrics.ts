/**
 * Accuracy references of the `decode` bench suite: the values an FP8 cache
 * stores for a prompt appended at once (docs/decode.md's scale rule: per page,
 * KV head and K / V, the smallest power of two 2^e with max |x| ≤ 448 · 2^e),
 * and float64 decode attention over any such values. The suite compares the
 * FP8 pages' error with the error this float64 math on the dequantised values
 * has (the issue's rule: at most 2×).
 * @internal
 * @module
 */
import { tensor } from '../create.js'
import type { Tensor } from '../tensor.js'

/** The smallest e ≥ -126 with amax ≤ 448 · 2^e (csrc/core/decode.h's fp8_scale_exp). */
export function fp8ScaleExp(amax: number): number {
  let e = amax > 448 * 2 ** -126 ? Math.ceil(Math.log2(amax / 448)) : -126
  while (e > -126 && amax <= 448 * 2 ** (e - 1)) --e // log2 may round either way: settle exactly
  while (amax > 448 * 2 ** e) ++e
  return e
}

/**
 * x [H, L, D] float32 (one sequence's keys or values) as an FP8 cache of
 * `page`-token pages appended at once stores them, dequantised (the e4m3fn
 * rounding is sparsekit's own cast, which the cast tests hold to the reference bit for bit).
 */
export async function fp8Stored(
  x: Float32Array,
  heads: number,
  len: number,
  dims: number,
  page: number,
): Promise<Float32Array> {
  const scaled = new Float32Array(x.length),
    exps: number[] = []
  for (let h = 0; h < heads; ++h)
    for (let p0 = 0; p0 < len; p0 += page) {
      const from = (h * len + p0) * dims,
        to = (h * len + Math.min(len, p0 + page)) * dims
      let amax = 0
      for (let i = from; i < to; ++i) amax = Math.max(amax, Math.abs(x[i]!))
      const e = fp8ScaleExp(amax)
      exps.push(e)
      for (let i = from; i < to; ++i) scaled[i] = x[i]! * 2 ** -e
    }
  const t = tensor(scaled, [x.length])
  const codes = await t.cast('float8e4m3fn')
  const back = await codes.cast('float32')
  const out = Float32Array.from(back.data as Float32Array)
  for (const u of [t, codes, back]) u.dispose()
  let n = 0
  for (let h = 0; h < heads; ++h)
    for (let p0 = 0; p0 < len; p0 += page) {
      const s = 2 ** exps[n++]!
      for (let i = (h * len + p0) * dims; i < (h * len + Math.min(len, p0 + page)) * dims; ++i) out[i]! *= s
    }
  return out
}

/** float64 attention of one query per head q [Hq, D] over k, v [Hkv, L, D] (GQA), as a float32 tensor [1, Hq, 1, D]. */
export function decodeF64(
  q: Float32Array,
  k: Float32Array,
  v: Float32Array,
  headsQ: number,
  headsKv: number,
  len: number,
  dims: number,
): Tensor {
  const out = new Float32Array(headsQ * dims),
    s = new Float64Array(len),
    o = new Float64Array(dims),
    scale = 1 / Math.sqrt(dims)
  for (let h = 0; h < headsQ; ++h) {
    const base = Math.floor(h / (headsQ / headsKv)) * len * dims
    let m = -Infinity,
      l = 0
    for (let j = 0; j < len; ++j) {
      let dot = 0
      for (let d = 0; d < dims; ++d) dot += q[h * dims + d]! * k[base + j * dims + d]!
      s[j] = dot * scale
      if (s[j]! > m) m = s[j]!
    }
    o.fill(0)
    for (let j = 0; j < len; ++j) {
      const p = Math.exp(s[j]! - m)
      l += p
      for (let d = 0; d < dims; ++d) o[d]! += p * v[base + j * dims + d]!
    }
    for (let d = 0; d < dims; ++d) out[h * dims + d] = o[d]! / l
  }
  return tensor(out, [1, headsQ, 1, dims])
}
