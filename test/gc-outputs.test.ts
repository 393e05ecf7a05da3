// Outputs left to the garbage collector, as most JavaScript code leaves them,
// must cost in steady state what disposed outputs cost (issue 21: within
// 1.25×). The one timing test of the suite: a ratio of medians over
// alternating blocks in one process, retried, generous in calls; skipped
// where timings mean nothing (sanitizer builds, emulation).
import { describe, expect, it } from 'vitest'

import * as sk from '../lib/index.js'
import { sparsifyCsr } from '../lib/sparse/csr.js'

const skipReason = process.env.SK_SANITIZER
  ? `timings under ${process.env.SK_SANITIZER} mean nothing`
  : process.env.SK_QEMU
    ? 'timings under emulation mean nothing'
    : ''

const kMaxRatio = 1.25
const kBlocks = 8 // per mode, alternating
const kCallsPerBlock = 40
const kTries = 3

const median = (a: number[]) => {
  const s = [...a].sort((x, y) => x - y)
  return s[s.length >> 1]
}

/** Median time per call with outputs kept ÷ with outputs disposed, after enough kept calls for several GCs. */
async function keptOverDisposed(op: () => Promise<sk.Tensor>, warmCalls: number): Promise<number> {
  for (let i = 0; i < warmCalls; ++i) await op()
  const kept: number[] = []
  const disposed: number[] = []
  for (let b = 0; b < 2 * kBlocks; ++b)
    for (let i = 0; i < kCallsPerBlock; ++i) {
      const t0 = performance.now()
      const y = await op()
      const ms = performance.now() - t0
      if (b % 2 === 0) kept.push(ms)
      else {
        disposed.push(ms)
        y.dispose()
      }
    }
  return median(kept) / median(disposed)
}

async function expectSteadyState(op: () => Promise<sk.Tensor>, warmCalls: number): Promise<void> {
  const ratios: number[] = []
  for (let t = 0; t < kTries; ++t) {
    ratios.push(await keptOverDisposed(op, warmCalls))
    if (ratios[t] <= kMaxRatio) break
  }
  expect(
    Math.min(...ratios),
    `kept ÷ disposed per try: ${ratios.map((r) => r.toFixed(2)).join(', ')}`,
  ).toBeLessThanOrEqual(kMaxRatio)
}

describe.skipIf(skipReason !== '')(
  `outputs left to the GC cost what disposed ones do in steady state${skipReason ? ` (skipped: ${skipReason})` : ''}`,
  () => {
    it('conv1x1 512→512 14×14, CSR 90 % (400 KB outputs, freed-block cache sizes)', async () => {
      using x = sk.randn([1, 512, 14, 14], { seed: 1 })
      using dense = sk.randn([512, 512], { seed: 2 })
      using w = await sparsifyCsr(dense, { sparsity: 0.9 })
      await expectSteadyState(() => sk.conv1x1(x, w, null), 600)
    })

    it('linear 4096² M 1, 2:4 bfloat16 weights (16 KB outputs, below the freed-block cache)', async () => {
      using x = sk.randn([1, 4096], { seed: 1 })
      using dense = sk.randn([4096, 4096], { seed: 2 })
      using pruned = await sk.prune(dense, { n: 2, m: 4 })
      using b = await pruned.cast('bfloat16')
      using w = await sk.sparsify(b, { format: '2:4' })
      await expectSteadyState(() => sk.linear(x, w), 300)
    })
  },
)
