// 128K tokens: causal and documents masks build in O(blocks) (1024 × 1024
// blocks of 128), with the expected block counts. No timing assertion; the
// build time is printed.
import { describe, expect, it } from 'vitest'

import { BlockMask } from '../../lib/mask/index.js'

const n = 131072

function timed<T>(what: string, fn: () => T): T {
  const t0 = performance.now()
  const out = fn()
  console.log(`${what}: ${(performance.now() - t0).toFixed(1)} ms`)
  return out
}

const total = (a: Int32Array) => a.reduce((s, x) => s + x, 0)

describe('131072 tokens, block 128', () => {
  it('causal: 1024 diagonal partial blocks, 1024·1023/2 full', () => {
    BlockMask.causal({ qLen: 4096, kvLen: 4096, blockSize: 128 }) // warm-up
    const m = timed('causal 128K / block 128', () => BlockMask.causal({ qLen: n, kvLen: n, blockSize: 128 }))
    expect([m.nQBlocks, m.nKvBlocks]).toEqual([1024, 1024])
    expect(total(m.partialKvNumBlocks)).toBe(1024)
    expect(total(m.fullKvNumBlocks)).toBe((1024 * 1023) / 2)
    expect(m.density).toBe((1024 * 1025) / 2 / 1024 ** 2)
  })

  it('causal, chunked prefill: the last 8192 queries of 131072 keys', () => {
    const m = timed('causal 8K × 128K / block 128', () => BlockMask.causal({ qLen: 8192, kvLen: n, blockSize: 128 }))
    expect(total(m.partialKvNumBlocks)).toBe(64)
    expect(total(m.fullKvNumBlocks)).toBe(64 * 960 + (64 * 63) / 2)
  })

  it('documents: prefix 1024, 126 documents of 1024, query 1024', () => {
    const lengths = new Array(126).fill(1024)
    const m = timed('documents 128K / block 128', () =>
      BlockMask.documents({ prefix: 1024, lengths, query: 1024, blockSize: 128 }),
    )
    expect([m.qLen, m.nQBlocks]).toEqual([n, 1024])
    // each 8-block document row set sees the 8 prefix blocks (full) and its own lower triangle
    // (diagonal partial); the 8 query rows see everything before them (diagonal partial)
    const docRows = 126 * 8,
      perDocFull = 8 * 8 + (8 * 7) / 2
    expect(total(m.partialKvNumBlocks)).toBe(8 + docRows + 8)
    expect(total(m.fullKvNumBlocks)).toBe((8 * 7) / 2 + 126 * perDocFull + (8 * 1016 + (8 * 7) / 2))
  })

  it('documents: unaligned lengths, 500 documents of 250 tokens', () => {
    const lengths = new Array(500).fill(250)
    const m = timed('documents 500 × 250 / block 128', () =>
      BlockMask.documents({ prefix: 300, lengths, query: 700, blockSize: 128 }),
    )
    expect(m.qLen).toBe(300 + 125000 + 700)
    expect(m.density).toBeLessThan(0.03)
  })

  it('and of two 128K masks stays O(blocks)', () => {
    const c = BlockMask.causal({ qLen: n, kvLen: n, blockSize: 128 })
    const s = BlockMask.streaming({ qLen: n, kvLen: n, sink: 128, local: 8192, blockSize: 128 })
    const m = timed('causal ∧ streaming 128K', () => c.and(s))
    expect(m.rule).toBe('streaming(128, 8192)')
    expect(total(m.kvNumBlocks)).toBe(total(s.kvNumBlocks))
  })
})
