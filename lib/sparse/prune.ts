/**
 * Magnitude pruning for `sparsify(w, { format: 'csr', sparsity })`: zeroes the
 * smallest |w| entries of the whole matrix, on the executor (a selection over
 * N·K entries is kernel work, not JS-thread work).
 * @internal
 * @module
 */
import { allocating, callNative } from '../errors.js'
import { cpuBinding } from '../native.js'

/**
 * A copy of `w` ([n, k] float32) with its `round(sparsity · n · k)`
 * smallest-magnitude entries set to 0 (zeros already there count; ties at the
 * threshold are zeroed in index order; NaN is never pruned). `sparsity` is in [0, 1).
 */
export async function pruneByMagnitude(w: Float32Array, n: number, k: number, sparsity: number): Promise<Float32Array> {
  const out = allocating(`a pruned copy of ${n * k} weights`, () => new Float32Array(n * k))
  await callNative(() => cpuBinding().spmmPrune(w, n, k, out, Math.round(sparsity * n * k)))
  return out
}
