/**
 * Magnitude pruning for `sparsify(w, { sparsity })`: zeroes the smallest
 * |w| entries of the whole matrix.
 * @internal
 * @module
 */

/**
 * The magnitude of the `rank`-th smallest |v| (0-based) among `mags`, by
 * quickselect (average O(n)); reorders `mags`.
 */
function select(mags: Float32Array, rank: number): number {
  let lo = 0
  let hi = mags.length - 1
  while (lo < hi) {
    // median of three as the pivot keeps sorted and reversed inputs O(n)
    const mid = (lo + hi) >>> 1
    const a = mags[lo]
    const b = mags[mid]
    const c = mags[hi]
    const pivot = a < b ? (b < c ? b : a < c ? c : a) : a < c ? a : b < c ? c : b
    let i = lo
    let j = hi
    while (i <= j) {
      while (mags[i] < pivot) ++i
      while (mags[j] > pivot) --j
      if (i <= j) {
        const t = mags[i]
        mags[i] = mags[j]
        mags[j] = t
        ++i
        --j
      }
    }
    if (rank <= j) hi = j
    else if (rank >= i) lo = i
    else return mags[rank]
  }
  return mags[rank]
}

/**
 * A copy of `w` with its `round(sparsity · length)` smallest-magnitude entries
 * set to 0 (zeros already there count; ties at the threshold are zeroed in
 * index order; NaN is never pruned). `sparsity` is in [0, 1).
 */
export function pruneByMagnitude(w: Float32Array, sparsity: number): Float32Array {
  const out = Float32Array.from(w)
  const count = Math.round(sparsity * w.length)
  if (count === 0) return out
  const mags = new Float32Array(w.length)
  for (let i = 0; i < w.length; ++i) {
    const m = Math.abs(w[i])
    mags[i] = m === m ? m : Infinity // NaN sorts above every number
  }
  const threshold = select(mags, count - 1)
  let left = count
  for (let i = 0; i < out.length; ++i) if (Math.abs(out[i]) < threshold) (out[i] = 0), --left
  for (let i = 0; i < out.length && left > 0; ++i) if (Math.abs(out[i]) === threshold) (out[i] = 0), --left
  return out
}
