// Linear problems shared by the numeric tests and their float64 reference.
import * as sk from '../../lib/index.js'
import { toF64 } from '../attention/reference.js'

/** fp32 outputs within this relative error (max norm) of the float64 reference (DESIGN.md, Testing). */
export const kLinearBudget = 1e-5

export const kWeightTypes = ['float32', 'float16', 'bfloat16'] as const
export type WeightType = (typeof kWeightTypes)[number]

/** M in {1, 3, 16, 128} (gemv, below / at / above every register tile), K and N off every tile (K a multiple of 4 for 2:4). */
export const kRows = [1, 3, 16, 128] as const
export const kShapes: readonly { k: number; n: number }[] = [
  { k: 300, n: 37 }, // 2:4: a partial last panel (N % 8 == 5) and an odd number of groups (75)
  { k: 4, n: 1 },
  { k: 1028, n: 70 }, // crosses the K blocks (256 dense, 128 groups for 2:4) with a ragged end
]

/** A 2:4-pruned weight [n, k] of `type` (randn, then prune 2:4). */
export async function prunedWeight(n: number, k: number, type: WeightType, seed: number): Promise<sk.Tensor> {
  using w = sk.randn([n, k], { type, seed })
  return sk.prune(w, { n: 2, m: 4 })
}

/** out = x·wᵀ + bias in float64 from the exact values of each tensor. */
export function linearRef(x: sk.Tensor, w: sk.Tensor, bias: sk.Tensor | null): Float64Array {
  const xs = toF64(x)
  const ws = toF64(w)
  const bs = bias ? toF64(bias) : null
  const [n, k] = w.dims
  const m = k === 0 ? 0 : xs.length / k
  const out = new Float64Array(m * n)
  for (let i = 0; i < m; ++i)
    for (let j = 0; j < n; ++j) {
      let s = bs ? bs[j] : 0
      for (let t = 0; t < k; ++t) s += xs[i * k + t] * ws[j * k + t]
      out[i * n + j] = s
    }
  return out
}
