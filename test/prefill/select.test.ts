// Block selection and PBS-Attn's segment order (csrc/cpu/prefill/select.cc)
// against the plain-JS definitions in select-reference.ts: exact 0/1 masks
// and exact orders, on random scores with many ties (quantized to eighths so
// equal scores are common), every rule, causal and not, GQA sink rows; then
// the addon's refusals of bad arguments.
import { describe, expect, it } from 'vitest'

import { cpuBinding } from '../../lib/native.js'
import { segmentOrder, selectByThreshold, selectPermuted, selectTopK } from '../../lib/prefill/select.js'
import { rng } from '../mask/helpers.js'
import { refSegmentOrder, refSelectByThreshold, refSelectPermuted, refSelectTopK } from './select-reference.js'

/** rows × nb scores in [0, 1), steps of 1/8 (ties everywhere); each row normalised like a softmax. */
function tiedScores(rows: number, nb: number, seed: number): Float32Array {
  const r = rng(seed),
    s = new Float32Array(rows * nb)
  for (let row = 0; row < rows; row++) {
    let sum = 0
    for (let kb = 0; kb < nb; kb++) sum += s[row * nb + kb] = Math.floor(r() * 8) / 8
    for (let kb = 0; kb < nb; kb++) s[row * nb + kb] = sum > 0 ? s[row * nb + kb]! / sum : 0
  }
  return s
}

describe('block selection: native = definition', () => {
  const nb = 13,
    B = 2,
    Hq = 4,
    rows = B * Hq * nb
  for (const causal of [true, false])
    for (const threshold of [0.3, 0.8, 0.95, 1]) {
      it(`threshold ${threshold}${causal ? ', causal' : ''}`, async () => {
        const s = tiedScores(rows, nb, 1 + threshold * 100)
        expect(Array.from(await selectByThreshold(s, rows, nb, threshold, causal))).toEqual(
          Array.from(refSelectByThreshold(s, rows, nb, threshold, causal)),
        )
      })
    }
  for (const causal of [true, false])
    for (const budget of [1, 2, 5, 40])
      it(`top-k ${budget}${causal ? ', causal' : ''}`, async () => {
        const s = tiedScores(rows, nb, 7 + budget)
        expect(Array.from(await selectTopK(s, rows, nb, budget, causal))).toEqual(
          Array.from(refSelectTopK(s, rows, nb, budget, causal)),
        )
      })
  for (const [segBlocks, group] of [
    [2, 2],
    [3, 1],
    [1, 4],
  ] as const)
    for (const threshold of [0.5, 0.9, 1])
      it(`PBS permuted: segments of ${segBlocks} blocks, GQA group ${group}, threshold ${threshold}`, async () => {
        const s = tiedScores(rows, nb, 3 + segBlocks + group)
        const r = rng(segBlocks * 10 + group),
          sink = Int32Array.from({ length: (B * Hq) / group }, () => Math.floor(r() * nb))
        const got = await selectPermuted(s, rows, nb, segBlocks, threshold, sink, Hq, group)
        expect(Array.from(got)).toEqual(
          Array.from(refSelectPermuted(s, rows, nb, segBlocks, threshold, sink, Hq, group)),
        )
      })
})

describe('segment order: native = definition', () => {
  for (const [Hq, Hkv, S, seg] of [
    [4, 2, 600, 256],
    [2, 2, 512, 128],
    [3, 1, 100, 256],
    [1, 1, 70, 16],
  ] as const)
    it(`Hq ${Hq}, Hkv ${Hkv}, S ${S}, segment ${seg} (ties in every segment)`, async () => {
      const B = 2,
        keyCount = Math.floor(S / seg) * seg,
        r = rng(S + seg)
      const imp = Float32Array.from({ length: B * Hq * S }, () => Math.floor(r() * 6) / 64)
      const got = await segmentOrder(imp, { batch: B, headsQ: Hq, headsKv: Hkv, seq: S, keyCount, segment: seg })
      expect(Array.from(got)).toEqual(Array.from(refSegmentOrder(imp, B, Hq, Hkv, S, keyCount, seg)))
    })
})

describe('selectBlocks / segmentOrder refuse bad arguments with codes (the addon checks what memory depends on)', () => {
  const b = () => cpuBinding()
  const code = async (f: () => Promise<void>) => {
    try {
      await f()
    } catch (e) {
      return (e as { code?: string }).code
    }
    return 'none'
  }
  const s = new Float32Array(24),
    bits = new Uint8Array(24) // 6 rows of 4 blocks
  const s96 = new Float32Array(96),
    bits96 = new Uint8Array(96) // 3 batches × 2 heads × 4 query blocks, of 4 blocks
  const pbs = { rule: 3 as const, rows: 24, nb: 4, threshold: 0.9, segmentBlocks: 2, headsQ: 2, group: 1 }
  it('short arrays, wrong types, bad rules and numbers', async () => {
    expect(
      await code(async () =>
        b().selectBlocks(new Float32Array(23), null, bits, { rule: 1, rows: 6, nb: 4, threshold: 0.9, causal: true }),
      ),
    ).toBe('ERR_SK_SHAPE')
    expect(
      await code(async () =>
        b().selectBlocks(s, null, new Uint8Array(20), { rule: 1, rows: 6, nb: 4, threshold: 0.9, causal: true }),
      ),
    ).toBe('ERR_SK_SHAPE')
    expect(
      await code(async () =>
        b().selectBlocks(s, null, new Int8Array(24) as never, {
          rule: 1,
          rows: 6,
          nb: 4,
          threshold: 0.9,
          causal: true,
        }),
      ),
    ).toBe('ERR_SK_INVALID_ARGUMENT')
    expect(await code(async () => b().selectBlocks(s, null, bits, { rule: 4 as never, rows: 6, nb: 4 }))).toBe(
      'ERR_SK_INVALID_ARGUMENT',
    )
    expect(
      await code(async () =>
        b().selectBlocks(s, null, bits, { rule: 1, rows: 6, nb: 4, threshold: Number.NaN, causal: true }),
      ),
    ).toBe('ERR_SK_INVALID_ARGUMENT')
    expect(
      await code(async () =>
        b().selectBlocks(s, null, bits, { rule: 1, rows: 6, nb: 4, threshold: 1.5, causal: true }),
      ),
    ).toBe('ERR_SK_INVALID_ARGUMENT')
    expect(
      await code(async () => b().selectBlocks(s, null, bits, { rule: 2, rows: 6, nb: 4, budget: 0, causal: true })),
    ).toBe('ERR_SK_INVALID_ARGUMENT')
    expect(
      await code(async () =>
        b().selectBlocks(s, null, bits, { rule: 1, rows: 2 ** 31, nb: 2 ** 31 - 1, threshold: 0.9, causal: true }),
      ),
    ).toBe('ERR_SK_SHAPE')
  })
  it('PBS sink blocks: wrong count or out of range; rows that are not batch · heads · nb', async () => {
    expect(await code(async () => b().selectBlocks(s96, new Int32Array(2), bits96, pbs))).toBe('ERR_SK_SHAPE') // 3 batches × 2 heads
    expect(await code(async () => b().selectBlocks(s96, Int32Array.of(0, 1, 4, 0, 0, 0), bits96, pbs))).toBe(
      'ERR_SK_INVALID_ARGUMENT',
    )
    expect(await code(async () => b().selectBlocks(s96, Int32Array.of(0, -1, 0, 0, 0, 0), bits96, pbs))).toBe(
      'ERR_SK_INVALID_ARGUMENT',
    )
    expect(await code(async () => b().selectBlocks(s96, null, bits96, pbs))).toBe('ERR_SK_INVALID_ARGUMENT')
    expect(await code(async () => b().selectBlocks(s96, new Int32Array(6), bits96, { ...pbs, rows: 20 }))).toBe(
      'ERR_SK_SHAPE',
    )
    expect(await code(async () => b().selectBlocks(s96, new Int32Array(6), bits96, { ...pbs, group: 3 }))).toBe(
      'ERR_SK_SHAPE',
    )
    expect(await code(async () => b().selectBlocks(s, new Int32Array(6), bits, pbs))).toBe('ERR_SK_SHAPE') // 24 scores for 96
    await b().selectBlocks(s96, Int32Array.of(0, 1, 3, 0, 2, 1), bits96, pbs) // and a valid call runs
  })
  it('segment order: short arrays, a key count that is not whole segments or past the length, heads that do not divide', async () => {
    const imp = new Float32Array(2 * 64),
      idx = new Int32Array(2 * 64)
    const d = { batch: 1, headsQ: 2, headsKv: 2, seq: 64, keyCount: 64, segment: 16 }
    expect(await code(async () => b().segmentOrder(new Float32Array(100), idx, d))).toBe('ERR_SK_SHAPE')
    expect(await code(async () => b().segmentOrder(imp, new Int32Array(100), d))).toBe('ERR_SK_SHAPE')
    expect(await code(async () => b().segmentOrder(imp, idx, { ...d, keyCount: 40 }))).toBe('ERR_SK_INVALID_ARGUMENT')
    expect(await code(async () => b().segmentOrder(imp, idx, { ...d, keyCount: 80 }))).toBe('ERR_SK_INVALID_ARGUMENT')
    expect(await code(async () => b().segmentOrder(imp, idx, { ...d, headsKv: 3 }))).toBe('ERR_SK_SHAPE')
    await b().segmentOrder(imp, idx, d)
    expect(Array.from(idx.subarray(0, 16)).sort((x, y) => x - y)).toEqual(Array.from({ length: 16 }, (_, j) => j))
  })
})
