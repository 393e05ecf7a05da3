// Float64 references and inputs shared by the CSR tests: a dense matrix with a
// chosen fraction of zeros, out = x·wᵀ + b in float64, conv1x1 in float64, and
// the max-norm relative error the budgets are stated in.
import * as sk from '../../lib/index.js'

/** xorshift32 uniforms in [0, 1): the same matrices on every machine. */
export function uniforms(n: number, seed: number): Float64Array {
  const out = new Float64Array(n)
  let s = seed >>> 0 || 1
  for (let i = 0; i < n; ++i) {
    s ^= s << 13
    s >>>= 0
    s ^= s >>> 17
    s ^= s << 5
    s >>>= 0
    out[i] = s / 2 ** 32
  }
  return out
}

/** [n, k] values in (-1, 1) with about `sparsity` of them exactly 0. */
export function sparseMatrix(n: number, k: number, sparsity: number, seed: number): Float32Array {
  const u = uniforms(2 * n * k, seed)
  const w = new Float32Array(n * k)
  for (let i = 0; i < w.length; ++i) w[i] = u[2 * i] < sparsity ? 0 : 2 * u[2 * i + 1] - 1
  return w
}

/** out [m, n] = x [m, k] · w [n, k]ᵀ + bias, in float64. */
export function linearRef(
  x: Float32Array,
  w: Float32Array,
  bias: Float32Array | null,
  m: number,
  n: number,
  k: number,
): Float64Array {
  const out = new Float64Array(m * n)
  for (let r = 0; r < m; ++r)
    for (let c = 0; c < n; ++c) {
      let s = bias ? bias[c] : 0
      for (let j = 0; j < k; ++j) s += x[r * k + j] * w[c * k + j]
      out[r * n + c] = s
    }
  return out
}

/** out [b, n, p] = clamp(w [n, k] · x [b, k, p] + bias), in float64. */
export function conv1x1Ref(
  x: Float32Array,
  w: Float32Array,
  bias: Float32Array | null,
  b: number,
  n: number,
  k: number,
  p: number,
  lo = -Infinity,
  hi = Infinity,
): Float64Array {
  const out = new Float64Array(b * n * p)
  for (let i = 0; i < b; ++i)
    for (let c = 0; c < n; ++c) {
      const row = out.subarray((i * n + c) * p, (i * n + c + 1) * p)
      row.fill(bias ? bias[c] : 0)
      for (let j = 0; j < k; ++j) {
        const wv = w[c * k + j]
        if (wv === 0) continue
        const xs = (i * k + j) * p
        for (let q = 0; q < p; ++q) row[q] += wv * x[xs + q]
      }
      for (let q = 0; q < p; ++q) row[q] = Math.min(Math.max(row[q], lo), hi)
    }
  return out
}

/** The fp32 budget of DESIGN.md: 1e-5 relative, max norm, against float64. */
export const kF32Budget = 1e-5

export const tensorOf = (data: Float32Array, dims: number[]) => sk.tensor(data, dims, 'float32')
