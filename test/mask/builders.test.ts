// Each builder against its token-level definition, over odd lengths, qLen <
// kvLen (chunked prefill, bottom-right), qLen > kvLen, qLen = 1, separate
// query / key block sizes and the extremes 16 and 256: the expanded mask must
// equal the definition per (i, j), and block classes must be tight (full =
// every token kept, absent = none, partial = some but not all).
import { describe, expect, it } from 'vitest'

import { BlockMask, type BlockSize } from '../../lib/mask/index.js'
import { defs, expand, expectTightClasses, firstDiff, tokens, type Def } from './helpers.js'

const sizes: [qLen: number, kvLen: number, blockSize: BlockSize][] = [
  [1000, 1000, 128], // not a multiple of the block
  [1000, 1000, { q: 32, kv: 64 }],
  [300, 1000, 64], // chunked prefill: bottom-right
  [1, 1000, 128], // decode-like single query
  [1, 1, 16],
  [1000, 300, 128], // more queries than keys: early rows see nothing
  [513, 777, { q: 256, kv: 16 }],
  [256, 256, 256],
  [100, 100, 16],
  [640, 640, { q: 128, kv: 32 }],
]
const name = ([q, kv, bs]: (typeof sizes)[number]) =>
  `qLen ${q}, kvLen ${kv}, block ${typeof bs === 'number' ? bs : `${bs.q}/${bs.kv}`}`

function expectMatches(mask: BlockMask, def: Def): void {
  const want = tokens(def, mask.qLen, mask.kvLen)
  const [got] = expand(mask)
  expect(firstDiff(got!, want, mask.kvLen)).toBeNull()
  expectTightClasses(mask, want)
}

describe('BlockMask.causal', () => {
  it.each(sizes)('matches j ≤ i + kvLen − qLen: qLen %i, kvLen %i, block %o', (qLen, kvLen, blockSize) => {
    const mask = BlockMask.causal({ qLen, kvLen, blockSize })
    expect([mask.batch, mask.heads, mask.qLen, mask.kvLen]).toEqual([1, 1, qLen, kvLen])
    expect(mask.rule).toBe('causal')
    expectMatches(mask, defs.causal(qLen, kvLen))
  })

  it('block 128, 1024 tokens: the lower triangle, diagonal partial', () => {
    const m = BlockMask.causal({ qLen: 1024, kvLen: 1024, blockSize: 128 })
    expect([...m.kvNumBlocks]).toEqual([1, 2, 3, 4, 5, 6, 7, 8])
    expect([...m.fullKvNumBlocks]).toEqual([0, 1, 2, 3, 4, 5, 6, 7])
    expect([...m.partialKvNumBlocks]).toEqual([1, 1, 1, 1, 1, 1, 1, 1])
    expect(m.density).toBe(36 / 64)
    expect([...m.kvIndices.subarray(2 * 8, 3 * 8)]).toEqual([0, 1, 2, -1, -1, -1, -1, -1])
  })
})

describe('BlockMask.slidingWindow', () => {
  const windows = [1, 7, 64, 200, 5000]
  for (const s of sizes)
    it(`matches i + off − window < j ≤ i + off: ${name(s)}, windows ${windows.join(' ')}`, () => {
      const [qLen, kvLen, blockSize] = s
      for (const window of windows)
        expectMatches(BlockMask.slidingWindow({ qLen, kvLen, window, blockSize }), defs.window(qLen, kvLen, window))
    })
})

describe('BlockMask.streaming', () => {
  const params: [sink: number, local: number][] = [
    [0, 1],
    [4, 64],
    [100, 37],
    [1000, 10],
    [3, 2000],
    [16, 16],
  ]
  for (const s of sizes)
    it(`matches j ≤ i + off and (j < sink or i + off − j < local): ${name(s)}`, () => {
      const [qLen, kvLen, blockSize] = s
      for (const [sink, local] of params)
        expectMatches(
          BlockMask.streaming({ qLen, kvLen, sink, local, blockSize }),
          defs.streaming(qLen, kvLen, sink, local),
        )
    })
})

describe('BlockMask.documents', () => {
  const layouts: [prefix: number, lengths: number[], query: number][] = [
    [0, [1000], 0],
    [37, [100, 0, 250, 1, 300], 50],
    [0, Array.from({ length: 40 }, () => 16), 0], // block-aligned documents
    [5, Array.from({ length: 60 }, (_, k) => 1 + ((k * 7) % 13)), 9], // several documents per block
    [0, [], 100], // only the query segment
    [128, [128, 128, 128], 128],
    [300, [], 0], // only the prefix
    [1, [1], 1],
  ]
  const blocks: BlockSize[] = [16, 128, { q: 32, kv: 64 }, { q: 256, kv: 16 }]
  for (const [prefix, lengths, query] of layouts)
    it(`matches prefix / same document / query segment, causal: prefix ${prefix}, ${lengths.length} documents, query ${query}`, () => {
      for (const blockSize of blocks) {
        const mask = BlockMask.documents({ prefix, lengths, query, blockSize })
        const n = prefix + lengths.reduce((s, x) => s + x, 0) + query
        expect([mask.qLen, mask.kvLen]).toEqual([n, n])
        expectMatches(mask, defs.documents(prefix, lengths, query))
      }
    })

  it('prefix and query default to 0', () => {
    const a = BlockMask.documents({ lengths: [100, 200], blockSize: 64 })
    expectMatches(a, defs.documents(0, [100, 200], 0))
  })

  it('native rule: causal and documents with segment ids −1 prefix, document index, −2 query', () => {
    const n = BlockMask.documents({ prefix: 2, lengths: [3, 1], query: 2, blockSize: 16 })._native()
    expect(n.rules).toHaveLength(1)
    expect(n.rules[0]!.map((r) => r.kind)).toEqual([1, 4])
    expect([...n.rules[0]![1]!.qSeg!]).toEqual([-1, -1, 0, 0, 0, 1, -2, -2])
    expect([...n.rules[0]![1]!.kvSeg!]).toEqual([-1, -1, 0, 0, 0, 1, -2, -2])
  })
})

describe('index arrays', () => {
  it.each(sizes)(
    'kvNumBlocks [B,H,nQB] and kvIndices [B,H,nQB,nKB]: sorted, −1 padded, full ∪ partial: qLen %i, kvLen %i, %o',
    (qLen, kvLen, blockSize) => {
      const m = BlockMask.streaming({ qLen, kvLen, sink: 20, local: 100, blockSize })
      const nQ = Math.ceil(qLen / m.qBlock),
        nK = Math.ceil(kvLen / m.kvBlock)
      expect([m.nQBlocks, m.nKvBlocks]).toEqual([nQ, nK])
      for (const a of [m.kvNumBlocks, m.fullKvNumBlocks, m.partialKvNumBlocks])
        (expect(a).toBeInstanceOf(Int32Array), expect(a.length).toBe(nQ))
      for (const a of [m.kvIndices, m.fullKvIndices, m.partialKvIndices])
        (expect(a).toBeInstanceOf(Int32Array), expect(a.length).toBe(nQ * nK))
      const num = m.kvNumBlocks,
        idx = m.kvIndices,
        fNum = m.fullKvNumBlocks,
        fIdx = m.fullKvIndices,
        pNum = m.partialKvNumBlocks,
        pIdx = m.partialKvIndices
      for (let r = 0; r < nQ; r++) {
        expect(num[r]).toBe(fNum[r]! + pNum[r]!)
        const row = [...idx.subarray(r * nK, (r + 1) * nK)]
        const used = row.slice(0, num[r])
        expect(used).toEqual([...used].sort((x, y) => x - y))
        expect(new Set(used).size).toBe(used.length)
        expect(row.slice(num[r]).every((v) => v === -1)).toBe(true)
        const union = [...fIdx.subarray(r * nK, r * nK + fNum[r]!), ...pIdx.subarray(r * nK, r * nK + pNum[r]!)].sort(
          (x, y) => x - y,
        )
        expect(used).toEqual(union)
      }
    },
  )

  it('accessors return copies: writing one does not change the mask', () => {
    const m = BlockMask.causal({ qLen: 256, kvLen: 256, blockSize: 128 })
    m.fullKvIndices.fill(7)
    m.partialKvNumBlocks.fill(9)
    expect([...m.kvIndices]).toEqual([0, -1, 0, 1])
  })
})
