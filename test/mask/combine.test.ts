// and / or against the element-wise and / or of the token matrices;
// batch / head broadcast; per-head masks from fromBlocks; fromDense / toDense
// round trips; density.
import { describe, expect, it } from 'vitest'

import { SparsekitError } from '../../lib/errors.js'
import { BlockMask } from '../../lib/mask/index.js'
import { defs, expand, firstDiff, rng, thrown, tokens } from './helpers.js'

function expectCombined(a: BlockMask, b: BlockMask, op: 'and' | 'or'): BlockMask {
  const m = a[op](b)
  const ea = expand(a),
    eb = expand(b),
    em = expand(m)
  expect([m.batch, m.heads]).toEqual([Math.max(a.batch, b.batch), Math.max(a.heads, b.heads)])
  // the (b, h) matrix of a mask, size-1 dims broadcasting
  const at = (x: BlockMask, e: Uint8Array[], bi: number, h: number) =>
    e[(x.batch === 1 ? 0 : bi) * x.heads + (x.heads === 1 ? 0 : h)]!
  for (let bi = 0; bi < m.batch; bi++)
    for (let h = 0; h < m.heads; h++) {
      const x = at(a, ea, bi, h),
        y = at(b, eb, bi, h)
      const want = x.map((v, t) => (op === 'and' ? v & y[t]! : v | y[t]!))
      expect(firstDiff(em[bi * m.heads + h]!, want, m.kvLen), `${op}, (b, h) = (${bi}, ${h})`).toBeNull()
    }
  return m
}

/** Random 0/1 blocks (with probability p of 1). */
function randomDense(
  qLen: number,
  kvLen: number,
  blockSize: number | { q: number; kv: number },
  p: number,
  seed: number,
  dims?: [number, number],
) {
  const q = typeof blockSize === 'number' ? blockSize : blockSize.q,
    kv = typeof blockSize === 'number' ? blockSize : blockSize.kv
  const nQ = Math.ceil(qLen / q),
    nK = Math.ceil(kvLen / kv)
  const [b, h] = dims ?? [1, 1]
  const r = rng(seed)
  const bits = Uint8Array.from({ length: b * h * nQ * nK }, () => (r() < p ? 1 : 0))
  return BlockMask.fromDense(bits, dims ? [b, h, nQ, nK] : [nQ, nK], { qLen, kvLen, blockSize })
}

describe('and / or of rule-based masks', () => {
  const cases: [qLen: number, kvLen: number, bs: number | { q: number; kv: number }][] = [
    [677, 677, 128],
    [300, 700, { q: 32, kv: 64 }],
    [333, 333, 16],
  ]
  it.each(cases)(
    'causal, window, streaming, documents pairwise, both ops: qLen %i, kvLen %i, block %o',
    (qLen, kvLen, blockSize) => {
      const s = { qLen, kvLen, blockSize }
      const masks = [
        BlockMask.causal(s),
        BlockMask.slidingWindow({ ...s, window: 100 }),
        BlockMask.streaming({ ...s, sink: 8, local: 50 }),
        BlockMask.streaming({ ...s, sink: 130, local: 3 }),
        ...(qLen === kvLen
          ? [BlockMask.documents({ prefix: 20, lengths: [100, 57, qLen - 217], query: 40, blockSize })]
          : []),
      ]
      for (const a of masks) for (const b of masks) for (const op of ['and', 'or'] as const) expectCombined(a, b, op)
    },
  )

  it('simplifies rules: window implies causal, the smaller window wins, equal terms merge', () => {
    const s = { qLen: 512, kvLen: 512, blockSize: 64 }
    const causal = BlockMask.causal(s),
      w = BlockMask.slidingWindow({ ...s, window: 100 }),
      w2 = BlockMask.slidingWindow({ ...s, window: 30 })
    expect(causal.and(w).rule).toBe('window(100)')
    expect(causal.or(w).rule).toBe('causal')
    expect(w.and(w2).rule).toBe('window(30)')
    expect(causal.or(causal).rule).toBe('causal')
    const st = BlockMask.streaming({ ...s, sink: 4, local: 64 })
    expect(st.or(w).rule).toBe('streaming(4, 64) or window(100)')
  })

  it('more than 4 OR-ed terms: ERR_SK_UNSUPPORTED', () => {
    const s = { qLen: 512, kvLen: 512, blockSize: 64 }
    let m = BlockMask.streaming({ ...s, sink: 1, local: 10 })
    for (let k = 2; k <= 4; k++) m = m.or(BlockMask.streaming({ ...s, sink: k * 40, local: 10 - k }))
    expect(m.rule.split(' or ')).toHaveLength(4)
    const e = thrown(() => m.or(BlockMask.streaming({ ...s, sink: 300, local: 1 })))
    expect(e).toBeInstanceOf(SparsekitError)
    expect((e as SparsekitError).code).toBe('ERR_SK_UNSUPPORTED')
    expect((e as SparsekitError).message).toMatch(/at most 4 terms/)
  })
})

describe('and / or with block-level masks', () => {
  it('random fromDense masks with causal / streaming / documents, either order, either op', () => {
    const s = { qLen: 700, kvLen: 700, blockSize: { q: 64, kv: 32 } }
    const rules = [
      BlockMask.causal(s),
      BlockMask.streaming({ ...s, sink: 40, local: 90 }),
      BlockMask.documents({ prefix: 30, lengths: [300, 300], query: 70, blockSize: s.blockSize }),
    ]
    for (let seed = 1; seed <= 6; seed++) {
      const d = randomDense(700, 700, s.blockSize, 0.5, seed)
      for (const r of rules)
        for (const op of ['and', 'or'] as const) (expectCombined(r, d, op), expectCombined(d, r, op))
    }
  })

  it('rule masks combined with block masks, then with rule masks: exact, or ERR_SK_UNSUPPORTED, never wrong', () => {
    const s = { qLen: 512, kvLen: 512, blockSize: 32 }
    const causal = BlockMask.causal(s),
      stream = BlockMask.streaming({ ...s, sink: 16, local: 64 })
    let exact = 0,
      refused = 0
    for (let seed = 1; seed <= 10; seed++) {
      const d = randomDense(512, 512, 32, seed % 2 ? 0.3 : 0.8, seed)
      for (const [first, second] of [
        ['and', 'or'],
        ['or', 'and'],
        ['and', 'and'],
        ['or', 'or'],
      ] as const) {
        const mid = causal[first](d)
        const e = thrown(() => expectCombined(mid, stream, second))
        if (e === undefined) exact++
        else {
          expect(e).toBeInstanceOf(SparsekitError)
          expect((e as SparsekitError).code).toBe('ERR_SK_UNSUPPORTED')
          expect((e as SparsekitError).message).toMatch(/Combine the rule-based masks/)
          refused++
        }
      }
    }
    expect(exact).toBeGreaterThan(0)
    // (causal ∧ D) ∨ streaming needs causal's rule to drop D's absent blocks: refused
    expect(thrown(() => causal.and(randomDense(512, 512, 32, 0.5, 3)).or(stream))).toBeInstanceOf(SparsekitError)
    // (causal ∨ D) ∧ streaming: D's full blocks are not all causal, but streaming implies causal: exact
    expectCombined(causal.or(randomDense(512, 512, 32, 0.5, 3)), stream, 'and')
    console.log(`rule ∘ block ∘ rule combinations: ${exact} exact, ${refused} refused`)
  })

  it('the recommended order works: (causal ∨ streaming) ∧ D', () => {
    const s = { qLen: 512, kvLen: 512, blockSize: 32 }
    const r = BlockMask.causal(s).or(BlockMask.streaming({ ...s, sink: 16, local: 64 }))
    for (let seed = 1; seed <= 4; seed++) expectCombined(r, randomDense(512, 512, 32, 0.4, seed), 'and')
  })
})

describe('broadcast and per-head masks', () => {
  const s = { qLen: 600, kvLen: 600, blockSize: 64 }

  it('fromBlocks per head: head 0 dense, head 1 block-diagonal, head 2 nothing', () => {
    const m = BlockMask.fromBlocks((b, h, qb, kb) => h === 0 || (h === 1 && qb === kb), { ...s, batch: 1, heads: 3 })
    expect([m.batch, m.heads]).toEqual([1, 3])
    const [h0, h1, h2] = expand(m)
    expect(h0!.every((v) => v === 1)).toBe(true)
    expect(
      firstDiff(
        h1!,
        tokens((i, j) => Math.floor(i / 64) === Math.floor(j / 64), 600, 600),
        600,
      ),
    ).toBeNull()
    expect(h2!.every((v) => v === 0)).toBe(true)
    expect([...m.kvNumBlocks.subarray(10, 20)]).toEqual([1, 1, 1, 1, 1, 1, 1, 1, 1, 1])
    expect(m.density).toBeCloseTo((100 + 10) / 300, 12)
  })

  it('heads 1 with heads 3 broadcasts to 3; batch 2 with batch 1 to 2', () => {
    const perHead = BlockMask.fromBlocks((b, h, qb, kb) => (qb + kb + h + b) % 3 !== 0, { ...s, batch: 2, heads: 3 })
    const causal = BlockMask.causal(s)
    for (const op of ['and', 'or'] as const) {
      const m = expectCombined(causal, perHead, op)
      expect([m.batch, m.heads]).toEqual([2, 3])
      expectCombined(perHead, causal, op)
    }
    const batchOnly = BlockMask.fromBlocks((b, h, qb, kb) => b === 0 || kb === 0, { ...s, batch: 2, heads: 1 })
    const headsOnly = BlockMask.fromBlocks((b, h, qb, kb) => h === 1 || kb <= qb, { ...s, batch: 1, heads: 3 })
    const m = expectCombined(batchOnly, headsOnly, 'and')
    expect([m.batch, m.heads]).toEqual([2, 3])
  })

  it('batch 2 with batch 3: ERR_SK_SHAPE', () => {
    const a = BlockMask.fromBlocks(() => true, { ...s, batch: 2 }),
      b = BlockMask.fromBlocks(() => true, { ...s, batch: 3 })
    const e = thrown(() => a.and(b)) as SparsekitError
    expect(e).toBeInstanceOf(SparsekitError)
    expect(e.code).toBe('ERR_SK_SHAPE')
  })
})

describe('fromDense / toDense', () => {
  it('round trips bits and dims, [nQB, nKB] and [B, H, nQB, nKB]', () => {
    const a = randomDense(1000, 777, { q: 128, kv: 16 }, 0.3, 7)
    const { bits, dims } = a.toDense()
    expect(dims).toEqual([1, 1, 8, 49])
    const b = BlockMask.fromDense(bits, dims, { qLen: 1000, kvLen: 777, blockSize: { q: 128, kv: 16 } })
    expect(b.toDense()).toEqual({ bits, dims })
    expect(a.kvIndices).toEqual(b.kvIndices)
    const c = randomDense(300, 300, 32, 0.6, 9, [2, 3])
    const back = c.toDense()
    expect(back.dims).toEqual([2, 3, 10, 10])
    expect(BlockMask.fromDense(back.bits, back.dims, { qLen: 300, kvLen: 300, blockSize: 32 }).toDense()).toEqual(back)
  })

  it('fromDense keeps every token of a kept block, no rule; toDense of a causal mask marks full and partial blocks', () => {
    const d = BlockMask.fromDense(new Uint8Array([1, 0, 0, 1]), [2, 2], { qLen: 200, kvLen: 200, blockSize: 128 })
    expect(d.rule).toBe('none')
    expect(d._native().rules).toEqual([])
    expect(
      firstDiff(
        expand(d)[0]!,
        tokens((i, j) => i < 128 === j < 128, 200, 200),
        200,
      ),
    ).toBeNull()
    const c = BlockMask.causal({ qLen: 1024, kvLen: 1024, blockSize: 256 })
    expect([...c.toDense().bits]).toEqual([1, 0, 0, 0, 1, 1, 0, 0, 1, 1, 1, 0, 1, 1, 1, 1])
  })

  it('density: full and partial blocks over all blocks', () => {
    expect(BlockMask.fromDense(new Uint8Array(6).fill(1), [2, 3], { qLen: 32, kvLen: 48, blockSize: 16 }).density).toBe(
      1,
    )
    expect(BlockMask.fromDense(new Uint8Array(6), [2, 3], { qLen: 32, kvLen: 48, blockSize: 16 }).density).toBe(0)
    expect(BlockMask.slidingWindow({ qLen: 4096, kvLen: 4096, window: 1, blockSize: 128 }).density).toBe(32 / 1024)
    const docs = BlockMask.documents({ lengths: [128, 128, 128, 128], blockSize: 128 })
    expect(docs.density).toBe(4 / 16)
    expect(docs.fullKvNumBlocks.every((n) => n === 0)).toBe(true) // the diagonal is cut by causality
  })
})

describe('checkFor (the attention op calls it)', () => {
  const m = BlockMask.fromBlocks(() => true, { batch: 1, heads: 4, qLen: 100, kvLen: 300, blockSize: 64 })
  it('accepts matching lengths and broadcasts batch', () => {
    expect(() => m.checkFor(100, 300, 7, 4)).not.toThrow()
  })
  it.each([
    [300, 100, 1, 4, /qLen 300 and kvLen 100.*qLen 100 and kvLen 300/],
    [100, 301, 1, 4, /kvLen 301/],
    [100, 300, 1, 8, /query heads of q \(8\)/],
  ])('seqQ %i, seqKv %i, batch %i, headsQ %i: ERR_SK_SHAPE', (sq, skv, b, h, msg) => {
    const e = thrown(() => m.checkFor(sq, skv, b, h)) as SparsekitError
    expect(e).toBeInstanceOf(SparsekitError)
    expect(e.code).toBe('ERR_SK_SHAPE')
    expect(e.message).toMatch(msg)
  })
})

describe('random chains of and / or', () => {
  it('200 chains of up to 3 ops over rule and block masks: each step exact or ERR_SK_UNSUPPORTED', () => {
    const r = rng(2024)
    const n = 200,
      bs = { q: 32, kv: 16 },
      s = { qLen: n, kvLen: n, blockSize: bs }
    const pick = <T>(xs: T[]) => xs[Math.floor(r() * xs.length)]!
    const makers: (() => BlockMask)[] = [
      () => BlockMask.causal(s),
      () => BlockMask.slidingWindow({ ...s, window: 1 + Math.floor(r() * 80) }),
      () => BlockMask.streaming({ ...s, sink: Math.floor(r() * 40), local: 1 + Math.floor(r() * 60) }),
      () => BlockMask.documents({ prefix: 17, lengths: [50, 33, 60], query: 40, blockSize: bs }),
      () => randomDense(n, n, bs, r(), Math.floor(r() * 1e6)),
      () => BlockMask.fromBlocks((b, h, qb, kb) => (qb * 7 + kb * 3 + h) % 4 !== 0, { ...s, heads: 2 }),
    ]
    let steps = 0,
      refused = 0
    for (let c = 0; c < 200; c++) {
      let m = pick(makers)()
      for (let k = 1 + Math.floor(r() * 3); k > 0; k--) {
        const op = pick(['and', 'or'] as const),
          other = pick(makers)()
        const e = thrown(() => (m = expectCombined(m, other, op)))
        if (e === undefined) steps++
        else {
          expect((e as SparsekitError).code, String(e)).toBe('ERR_SK_UNSUPPORTED')
          refused++
          break
        }
      }
    }
    console.log(`random chains: ${steps} exact steps, ${refused} refused`)
    expect(steps).toBeGreaterThan(refused)
  })
})
