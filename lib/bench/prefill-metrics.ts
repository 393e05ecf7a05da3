/**
 * Quality measures of a sparse prefill against dense causal attention, used by
 * the `prefill` bench suite and the tests.
 * @internal
 * @module
 */
import type { Tensor } from '../tensor.js'

/**
 * Recall: the share of each row's true softmax mass (over its causally visible
 * keys) that the sparse attention's visible keys cover, averaged over rows.
 * With lse the natural-log sum of exp(scores) over each computation's visible
 * keys, that share is exp(lse_sparse − lse_dense) (the sparse set is a subset).
 * @example
 * ```ts
 * recall(sparse.lse, dense.lse) // 0.97
 * ```
 */
export function recall(lseSparse: Tensor, lseDense: Tensor): number {
  const a = lseSparse.data as Float32Array, b = lseDense.data as Float32Array
  let sum = 0
  for (let i = 0; i < a.length; i++) sum += a[i] === -Infinity ? 0 : Math.min(1, Math.exp(a[i]! - b[i]!))
  return a.length ? sum / a.length : 1
}

/**
 * Relative error ‖out − ref‖₂ / ‖ref‖₂ over all elements (float32 tensors).
 * @example
 * ```ts
 * relativeError(out, dense) // 3e-3
 * ```
 */
export function relativeError(out: Tensor, ref: Tensor): number {
  const a = out.data as Float32Array, b = ref.data as Float32Array
  let num = 0, den = 0
  for (let i = 0; i < a.length; i++) {
    num += (a[i]! - b[i]!) ** 2
    den += b[i]! ** 2
  }
  return Math.sqrt(num / (den || 1))
}
