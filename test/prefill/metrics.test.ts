// The prefill suite's quality measures (lib/bench/prefill-metrics.ts) on
// hand-computed cases: recall from LSEs, and the token-level oracle bound.
import { describe, expect, it } from 'vitest'

import { oracleRecall, recall } from '../../lib/bench/prefill-metrics.js'
import * as sk from '../../lib/index.js'

const t = (values: number[], dims: number[]) => sk.tensor(Float32Array.from(values), dims)

describe('prefill metrics', () => {
  it('recall is exp(lse_sparse − lse_dense) per row, capped at 1, averaged over every rowStep-th row; -Infinity counts 0', () => {
    using dense = t([0, 1, 2, 3], [1, 1, 4])
    using sparse = t([0, 1 - Math.LN2, -Infinity, 3.5], [1, 1, 4])
    expect(recall(sparse, dense)).toBeCloseTo((1 + 0.5 + 0 + 1) / 4, 6)
    expect(recall(sparse, dense, 2)).toBeCloseTo((1 + 0) / 2, 6) // rows 0 and 2
  })

  it('oracleRecall keeps the top ceil(fraction · visible) keys of each causal row, GQA rows reading their key head', () => {
    // D 1, q = 1: row i's scores are k[0..i]; exp(k) = 1, 2, 5.
    using k = t([0, Math.log(2), Math.log(5)], [1, 1, 3, 1])
    using q = t([1, 1, 1, 1, 1, 1], [1, 2, 3, 1]) // two query heads share the key head
    const rows = [1, 2 / 3, 7 / 8] // keep 1 of 1, 1 of 2 (the 2), 2 of 3 (5 and 2)
    const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length
    expect(oracleRecall(q, k, 0.34, 1)).toBeCloseTo(mean([...rows, ...rows]), 6)
    expect(oracleRecall(q, k, 0.34, 2)).toBeCloseTo(mean([rows[0]!, rows[2]!, rows[1]!]), 6) // flat rows 0, 2, 4
    expect(oracleRecall(q, k, 1, 1)).toBeCloseTo(1, 12)
  })
})
