/**
 * Quality measures of a sparse prefill against dense causal attention, used by
 * the `prefill` bench suite and the tests.
 * @internal
 * @module
 */
import type { Tensor } from '../tensor.js'

/**
 * Recall: the share of each row's true softmax mass (over its causally visible
 * keys) that the sparse attention's visible keys cover, averaged over rows
 * (every `rowStep`-th flat row; default all).
 * With lse the natural-log sum of exp(scores) over each computation's visible
 * keys, that share is exp(lse_sparse − lse_dense) (the sparse set is a subset).
 * @example
 * ```ts
 * recall(sparse.lse, dense.lse) // 0.97
 * ```
 */
export function recall(lseSparse: Tensor, lseDense: Tensor, rowStep = 1): number {
  const a = lseSparse.data as Float32Array,
    b = lseDense.data as Float32Array
  let sum = 0,
    n = 0
  for (let i = 0; i < a.length; i += rowStep, n++) sum += a[i] === -Infinity ? 0 : Math.min(1, Math.exp(a[i]! - b[i]!))
  return n ? sum / n : 1
}

/**
 * The most recall any selection of `fraction` of each row's causal keys can
 * reach: per row, the share of its true softmax mass in its top
 * ceil(fraction · visible) keys (float64), averaged over the rows of
 * q [B, Hq, S, D] whose flat index is a multiple of `rowStep` (the rows
 * {@link recall} with the same step averages). Token by token, it bounds every
 * block selection of that density, permuted or not. k is [B, Hkv, S, D].
 * @example
 * ```ts
 * oracleRecall(q, k, 0.42, 97) // 0.9995
 * ```
 */
export function oracleRecall(q: Tensor, k: Tensor, fraction: number, rowStep: number): number {
  const [B, Hq, S, D] = q.dims as [number, number, number, number],
    Hkv = k.dims[1]!
  const qd = q.data as Float32Array,
    kd = k.data as Float32Array,
    scale = 1 / Math.sqrt(D)
  const p = new Float64Array(S)
  let sum = 0,
    n = 0
  for (let r = 0; r < B * Hq * S; r += rowStep, n++) {
    const i = r % S,
      bh = Math.floor(r / S),
      b = Math.floor(bh / Hq),
      h = bh % Hq
    const kBase = (b * Hkv + Math.floor(h / (Hq / Hkv))) * S * D,
      qRow = r * D
    let max = -Infinity
    for (let j = 0; j <= i; j++) {
      let dot = 0
      for (let e = 0; e < D; e++) dot += qd[qRow + e]! * kd[kBase + j * D + e]!
      p[j] = dot * scale
      if (p[j]! > max) max = p[j]!
    }
    let total = 0
    for (let j = 0; j <= i; j++) total += p[j] = Math.exp(p[j]! - max)
    const row = p.subarray(0, i + 1).sort()
    let top = 0
    for (let t = 0, keep = Math.ceil(fraction * (i + 1)); t < keep; t++) top += row[i - t]!
    sum += top / total
  }
  return n ? sum / n : 1
}

/**
 * Relative error per query head: ‖out − ref‖₂ / ‖ref‖₂ over each head's
 * elements (float32 [B, H, S, D] tensors; a head's batches pooled).
 * @example
 * ```ts
 * headErrors(out, dense) // [3e-3, 4e-3, 1e-3, 0.4]
 * ```
 */
export function headErrors(out: Tensor, ref: Tensor): number[] {
  const [B, H] = ref.dims as [number, number],
    per = ref.size / (B * H)
  const a = out.data as Float32Array,
    b = ref.data as Float32Array
  const num = new Float64Array(H),
    den = new Float64Array(H)
  for (let i = 0; i < a.length; i++) {
    const h = Math.floor(i / per) % H
    num[h] += (a[i]! - b[i]!) ** 2
    den[h] += b[i]! ** 2
  }
  return Array.from(num, (n, h) => Math.sqrt(n / (den[h] || 1)))
}

/**
 * Relative error ‖out − ref‖₂ / ‖ref‖₂ over all elements (float32 tensors).
 * @example
 * ```ts
 * relativeError(out, dense) // 3e-3
 * ```
 */
export function relativeError(out: Tensor, ref: Tensor): number {
  const a = out.data as Float32Array,
    b = ref.data as Float32Array
  let num = 0,
    den = 0
  for (let i = 0; i < a.length; i++) {
    num += (a[i]! - b[i]!) ** 2
    den += b[i]! ** 2
  }
  return Math.sqrt(num / (den || 1))
}
