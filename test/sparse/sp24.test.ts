// The 2:4 format on the CPU: prune's choice (magnitude, ties to the lower
// index, n:m in general), the pattern check naming the first offending row
// and group, the exact layout of values and codes in panels of 8 rows
// (docs/formats.md), exact round trips for every dtype and partial panels,
// n:m forms accepted as 2:4, and corrupted codes refused, in padding rows too
// (never a crash, never a wrong answer).
import { afterEach, describe, expect, it } from 'vitest'

import * as sk from '../../lib/index.js'
import { prunedWeight } from '../cases/linear.js'

const made: { dispose(): void }[] = []
const keep = <T extends { dispose(): void }>(t: T): T => (made.push(t), t)
afterEach(() => {
  for (const t of made.splice(0)) t.dispose()
})

const f32 = (values: number[], dims: number[]) => keep(sk.tensor(Float32Array.from(values), dims))
/** `count` zeros: the padding lanes of a panel. */
const zeros = (count: number): number[] => Array<number>(count).fill(0)

describe('prune', () => {
  it('keeps the 2 largest magnitudes of each group of 4; ties go to the lower index', async () => {
    const w = f32([1, -3, 2, 0.5, /* ties */ 1, 1, 1, 1, /* -0 and 0 */ 0, -0, 0, 0, /* signs */ -5, 4, -4, 3], [2, 8])
    const p = keep(await sk.prune(w, { n: 2, m: 4 }))
    expect(Array.from(p.data as Float32Array)).toEqual([0, -3, 2, 0, 1, 1, 0, 0, 0, -0, 0, 0, -5, 4, 0, 0]) // bits kept: the -0 stays -0
  })
  it('n:m in general: 1:4, 2:8, 3:6 along K', async () => {
    const w = f32([1, 2, 3, 4, 5, 6, 7, 8, -9, 1, 1, 9, 0, 0, 0, 0, 0, 0], [1, 18])
    expect(
      Array.from(
        keep(await sk.prune(keep(sk.tensor(new Float32Array([4, 1, 2, 3, 1, -8, 2, 3]), [2, 4])), { n: 1, m: 4 }))
          .data as Float32Array,
      ),
    ).toEqual([4, 0, 0, 0, 0, -8, 0, 0])
    expect(
      Array.from(
        keep(await sk.prune(keep(sk.tensor(new Float32Array([1, 2, 3, 4, 5, 6, 7, 8]), [1, 8])), { n: 2, m: 8 }))
          .data as Float32Array,
      ),
    ).toEqual([0, 0, 0, 0, 0, 0, 7, 8])
    expect(Array.from(keep(await sk.prune(w, { n: 3, m: 6 })).data as Float32Array)).toEqual([
      0, 0, 0, 4, 5, 6, 0, 8, -9, 0, 0, 9, 0, 0, 0, 0, 0, 0,
    ])
  })
  it('float16 and bfloat16: the same choice as float32 on the same values, bits kept', async () => {
    const w32 = keep(sk.randn([8, 64], { seed: 3 }))
    const ref = keep(await sk.prune(w32, { n: 2, m: 4 }))
    for (const type of ['float16', 'bfloat16'] as const) {
      const w = keep(await w32.cast(type))
      const p = keep(await sk.prune(w, { n: 2, m: 4 }))
      const src = w.data as Uint16Array
      const got = p.data as Uint16Array
      const want = ref.data as Float32Array
      for (let i = 0; i < want.length; ++i) {
        // rounding can only create ties, never reorder distinct magnitudes; where it does not tie, the choice is float32's
        if (want[i] !== 0) expect(got[i] === src[i] || got[i] === 0).toBe(true)
        else if (got[i] !== 0) expect(got[i]).toBe(src[i])
      }
      const nonZero = Array.from(got).filter((b) => (b & 0x7fff) !== 0).length
      expect(nonZero).toBeLessThanOrEqual(w.size / 2)
    }
  })
})

describe('sparsify 2:4: layout (panels of 8 rows, docs/formats.md)', () => {
  it('values [P, K/4, 2, 8] (slot 0 the lower K index), codes i0 | i1 << 2 in a little-endian word per panel and group; padding rows 0x4 and 0', async () => {
    const w = f32(
      [0, 7, 0, 8, /* */ 5, 0, 0, 0, /* */ 0, 0, 0, 0, /* row 1 */ 1, 2, 0, 0, 0, 0, 3, 4, 0, 0, 0, 9],
      [2, 12],
    )
    const sw = keep(await sk.sparsify(w, { format: '2:4' }))
    expect(sw.format).toBe('2:4')
    expect(sw.dims).toEqual([2, 12])
    expect(sw.nnz).toBe(12)
    const { values, meta } = sw._parts().tensors
    expect(values.dims).toEqual([1, 3, 2, 8])
    expect(meta.type).toBe('uint8')
    expect(meta.dims).toEqual([1, 3, 4])
    // lanes 0, 1 are rows 0, 1; lanes 2..7 the padding rows
    expect(Array.from(values.data as Float32Array)).toEqual([
      ...[7, 1, ...zeros(6)],
      ...[8, 2, ...zeros(6)], // group 0: slot 0, slot 1
      ...[5, 3, ...zeros(6)],
      ...[0, 4, ...zeros(6)], // group 1
      ...[0, 0, ...zeros(6)],
      ...[0, 9, ...zeros(6)], // group 2
    ])
    // row 0: group 0 keeps 1,3 (0xD); group 1 keeps 0 and the first zero 1 (0x4); group 2 keeps 0,1 (0x4)
    // row 1: group 0 keeps 0,1 (0x4); group 1 keeps 2,3 (0xE); group 2 keeps 3 and the first zero 0 (0xC)
    // byte 0 of each word: row 0 low nibble, row 1 high; bytes 1..3: padding rows 2..7 (0x4 each)
    expect(Array.from(meta.data as Uint8Array)).toEqual([
      0x4d, 0x44, 0x44, 0x44, 0xe4, 0x44, 0x44, 0x44, 0xc4, 0x44, 0x44, 0x44,
    ])
    expect(sw.bytes).toBe(48 * 4 + 12)
  })
  it("docs/formats.md's example: N 1, K 8, [0, 7, 0, 8 | 5, 0, 0, 0]", async () => {
    const sw = keep(await sk.sparsify(f32([0, 7, 0, 8, 5, 0, 0, 0], [1, 8]), { format: '2:4' }))
    const { values, meta } = sw._parts().tensors
    expect(Array.from(values.data as Float32Array)).toEqual([
      7,
      ...zeros(7),
      8,
      ...zeros(7),
      5,
      ...zeros(7),
      0,
      ...zeros(7),
    ])
    expect(Array.from(meta.data as Uint8Array)).toEqual([0x4d, 0x44, 0x44, 0x44, 0x44, 0x44, 0x44, 0x44])
  })
  it('two panels (N 9): row r in lane r % 8 of panel r / 8; every valid code in its nibble', async () => {
    const pairs = [
      [0, 1],
      [0, 2],
      [1, 2],
      [0, 3],
      [1, 3],
      [2, 3],
    ] // codes 0x4, 0x8, 0x9, 0xC, 0xD, 0xE
    const data = new Float32Array(9 * 4)
    for (let r = 0; r < 9; ++r) {
      const [i0, i1] = pairs[r % 6]
      data[4 * r + i0] = 10 * r + 1
      data[4 * r + i1] = 10 * r + 2
    }
    const w = keep(sk.tensor(data, [9, 4]))
    const sw = keep(await sk.sparsify(w, { format: '2:4' }))
    const { values, meta } = sw._parts().tensors
    expect(values.dims).toEqual([2, 1, 2, 8])
    expect(Array.from(values.data as Float32Array)).toEqual([
      1,
      11,
      21,
      31,
      41,
      51,
      61,
      71,
      2,
      12,
      22,
      32,
      42,
      52,
      62,
      72,
      81,
      ...zeros(7),
      82,
      ...zeros(7),
    ])
    // panel 0: the word 0x84EDC984 (rows 7..0: 8 4 E D C 9 8 4); panel 1: row 8's 0x9, then padding 0x4
    expect(Array.from(meta.data as Uint8Array)).toEqual([0x84, 0xc9, 0xed, 0x84, 0x49, 0x44, 0x44, 0x44])
    const back = keep(await sw.toDense())
    expect(Array.from(back.data as Float32Array)).toEqual(Array.from(data))
  })
})

describe('sparsify 2:4: pattern check', () => {
  it('a group with 3 non-zeros: ERR_SK_INVALID_ARGUMENT naming the first offending row and group', async () => {
    const data = new Float32Array(4 * 16)
    data[2 * 16 + 9] = 1 // row 2, group 2: three non-zeros
    data[2 * 16 + 10] = 1
    data[2 * 16 + 11] = 1
    data[3 * 16 + 0] = data[3 * 16 + 1] = data[3 * 16 + 2] = 1 // a later row also fails
    const w = keep(sk.tensor(data, [4, 16]))
    await expect(sk.sparsify(w, { format: '2:4' })).rejects.toMatchObject({
      code: 'ERR_SK_INVALID_ARGUMENT',
      message: expect.stringMatching(/row 2, group 2 \(columns 8\.\.11\)/),
    })
  })
  it('NaN counts as a non-zero; -0 as a zero (not stored: it comes back as +0)', async () => {
    const w = f32([NaN, 1, -0, 2, 0, 0, 0, 0], [1, 8])
    await expect(sk.sparsify(w, { format: '2:4' })).rejects.toMatchObject({
      code: 'ERR_SK_INVALID_ARGUMENT',
      message: expect.stringMatching(/row 0, group 0/),
    })
    const ok = keep(await sk.sparsify(f32([-0, 1, -0, 2, 0, 0, 0, 0], [1, 8]), { format: '2:4' }))
    expect(Array.from(ok._parts().tensors.values.data as Float32Array)).toEqual([
      1,
      ...zeros(7),
      2,
      ...zeros(7),
      0,
      ...zeros(7),
      0,
      ...zeros(7),
    ]) // +0 everywhere
  })
  it('n:m forms with n ≤ 2 and m a multiple of 4 are accepted as 2:4; others are ERR_SK_UNSUPPORTED', async () => {
    const w = keep(await sk.prune(keep(sk.randn([4, 32], { seed: 1 })), { n: 2, m: 8 }))
    for (const format of ['1:4', '2:8', '1:8', '2:16'] as const) {
      const p = keep(
        await sk.prune(keep(sk.randn([4, 32], { seed: 2 })), { n: Number(format[0]), m: Number(format.slice(2)) }),
      )
      expect(keep(await sk.sparsify(p, { format })).format).toBe('2:4')
    }
    expect(keep(await sk.sparsify(w, { format: '2:8' })).format).toBe('2:4')
    for (const format of ['3:8', '2:6', '4:8', '0:4'])
      expect(() => sk.sparsify(w, { format: format as '2:4' })).toThrow(
        expect.objectContaining({ code: 'ERR_SK_UNSUPPORTED' }),
      )
  })
})

describe('sparsify 2:4: round trips', () => {
  for (const type of ['float32', 'float16', 'bfloat16'] as const)
    it(`${type}: toDense() gives the pruned weight back bit for bit (K 300: an odd group count)`, async () => {
      const w = keep(await prunedWeight(37, 300, type, 7))
      const sw = keep(await sk.sparsify(w, { format: '2:4' }))
      expect(sw.type).toBe(type)
      const back = keep(await sw.toDense())
      expect(back.type).toBe(type)
      expect(back.dims).toEqual([37, 300])
      expect(
        Buffer.from(back.data.buffer, back.data.byteOffset, back.data.byteLength).equals(
          Buffer.from(w.data.buffer, w.data.byteOffset, w.data.byteLength),
        ),
      ).toBe(true)
    })
  it('N not a multiple of 8 (a partial last panel: 1, 7, 9, 15, 17 rows) round-trips for every dtype', async () => {
    for (const type of ['float32', 'float16', 'bfloat16'] as const)
      for (const n of [1, 7, 9, 15, 17]) {
        const w = keep(await prunedWeight(n, 20, type, n))
        const sw = keep(await sk.sparsify(w, { format: '2:4' }))
        expect(sw._parts().tensors.values.dims).toEqual([Math.ceil(n / 8), 5, 2, 8])
        const back = keep(await sw.toDense())
        expect(back.dims).toEqual([n, 20])
        expect(
          Buffer.from(back.data.buffer, back.data.byteOffset, back.data.byteLength).equals(
            Buffer.from(w.data.buffer, w.data.byteOffset, w.data.byteLength),
          ),
          `${type} N ${n}`,
        ).toBe(true)
      }
  })
  it('a weight with fewer than 2 non-zeros per group (all zeros, one per group) round-trips', async () => {
    const w = f32([0, 0, 0, 0, 0, 0, 3, 0, 1, 0, 0, 0, 0, 0, 0, 0], [2, 8])
    const back = keep(await keep(await sk.sparsify(w, { format: '2:4' })).toDense())
    expect(Array.from(back.data as Float32Array)).toEqual(Array.from(w.data as Float32Array))
  })
})

describe('corrupted SparseWeight: codes out of range', () => {
  const corrupt = async (at: number, code: number) => {
    const w = keep(await prunedWeight(8, 24, 'float32', 3)) // one full panel, 6 groups: word (0, q) is bytes 4q..4q+3
    const sw = keep(await sk.sparsify(w, { format: '2:4' }))
    ;(sw._parts().tensors.meta.data as Uint8Array)[at] = code
    return sw
  }
  // byte 4q + r / 2 holds rows r (low nibble, even) and r + 1 (high) of group q; the other nibble stays valid (0x4)
  for (const [what, at, code, row, group] of [
    ['code 0x0 (i0 == i1)', 0, 0x40, 0, 0],
    ['code 0xF', 20, 0xf4, 1, 5],
    ['code 0x1 (i0 > i1)', 10, 0x41, 4, 2],
    ['code 0xB in the top nibble of a word', 15, 0xb4, 7, 3],
  ] as const)
    it(`${what}: linear (gemv, row kernels, SpMM path) and toDense reject it with ERR_SK_INVALID_ARGUMENT naming row ${row}, group ${group}`, async () => {
      const sw = await corrupt(at, code)
      const err = { code: 'ERR_SK_INVALID_ARGUMENT', message: expect.stringContaining(`row ${row}, group ${group}`) }
      await expect(sk.linear(keep(sk.randn([1, 24], { seed: 1 })), sw)).rejects.toMatchObject(err)
      await expect(sk.linear(keep(sk.randn([40, 24], { seed: 1 })), sw)).rejects.toMatchObject(err)
      await expect(sk.linear(keep(sk.randn([130, 24], { seed: 1 })), sw)).rejects.toMatchObject(err) // the SpMM path
      await expect(sw.toDense()).rejects.toMatchObject(err)
    })
  it('a bad code in a padding row of a partial last panel is refused, naming that row', async () => {
    const w = keep(await prunedWeight(10, 12, 'float32', 3)) // 2 panels, 3 groups: rows 10..15 are padding
    const sw = keep(await sk.sparsify(w, { format: '2:4' }))
    const meta = sw._parts().tensors.meta.data as Uint8Array
    expect(meta[22]).toBe(0x44) // word (panel 1, group 2), byte 2: padding rows 12 and 13
    meta[22] = 0xf4 // row 13: 0xF
    const err = { code: 'ERR_SK_INVALID_ARGUMENT', message: expect.stringContaining('row 13, group 2') }
    await expect(sk.linear(keep(sk.randn([1, 12], { seed: 1 })), sw)).rejects.toMatchObject(err)
    await expect(sk.linear(keep(sk.randn([40, 12], { seed: 1 })), sw)).rejects.toMatchObject(err)
    await expect(sk.linear(keep(sk.randn([130, 12], { seed: 1 })), sw)).rejects.toMatchObject(err)
    await expect(sw.toDense()).rejects.toMatchObject(err)
  })
  it('a disposed SparseWeight: ERR_SK_DISPOSED', async () => {
    const sw = await sk.sparsify(keep(await prunedWeight(2, 8, 'float32', 3)), { format: '2:4' })
    sw.dispose()
    expect(() => sk.linear(keep(sk.randn([1, 8], { seed: 1 })), sw)).toThrow(
      expect.objectContaining({ code: 'ERR_SK_DISPOSED' }),
    )
    expect(() => sw.toDense()).toThrow(expect.objectContaining({ code: 'ERR_SK_DISPOSED' }))
  })
})
