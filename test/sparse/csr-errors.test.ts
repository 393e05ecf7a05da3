// Bad input for the 'csr' format and conv1x1: wrong layouts and dims, channel
// mismatches, dtypes, devices, disposed operands, bad options and NaN
// sparsity all throw a SparsekitError with the right code; corrupted packed
// arrays handed to the binding directly (counts or columns that would read
// out of bounds, sizes that disagree, forged plans) are refused by the native
// checks, never crash.
import { describe, expect, it } from 'vitest'

import * as sk from '../../lib/index.js'
import { cpuBinding, type SpmmPlan } from '../../lib/native.js'
import { linearCsr, sparsifyCsr } from '../../lib/sparse/csr.js'
import { sparseMatrix, tensorOf } from './reference.js'

async function caught(fn: () => unknown): Promise<sk.SparsekitError> {
  try {
    await fn()
  } catch (err) {
    expect(err).toBeInstanceOf(sk.SparsekitError)
    return err as sk.SparsekitError
  }
  throw new Error('expected a throw')
}

async function weight(n = 6, k = 5) {
  return sparsifyCsr(tensorOf(sparseMatrix(n, k, 0.5, 3), [n, k]))
}

describe('sparsify csr: bad input', () => {
  it.each([
    ['a non-tensor', () => sparsifyCsr([1, 2] as never), 'ERR_SK_INVALID_ARGUMENT', /for w/],
    ['1-D w', () => sparsifyCsr(sk.zeros([4])), 'ERR_SK_SHAPE', /w\.dims/],
    ['3-D w', () => sparsifyCsr(sk.zeros([2, 2, 2])), 'ERR_SK_SHAPE', /w\.dims/],
    ['int32 w', () => sparsifyCsr(sk.zeros([2, 2], 'int32')), 'ERR_SK_DTYPE', /float32/],
    ['float16 w', () => sparsifyCsr(sk.zeros([2, 2], 'float16')), 'ERR_SK_DTYPE', /float32/],
    [
      'NaN sparsity',
      () => sparsifyCsr(sk.zeros([2, 2]), { sparsity: NaN }),
      'ERR_SK_INVALID_ARGUMENT',
      /options\.sparsity/,
    ],
    [
      'format 2:4 to the csr module',
      () => sparsifyCsr(sk.zeros([2, 2]), { format: '2:4' } as never),
      'ERR_SK_INVALID_ARGUMENT',
      /options\.format/,
    ],
    ['options not an object', () => sparsifyCsr(sk.zeros([2, 2]), 3 as never), 'ERR_SK_INVALID_ARGUMENT', /options/],
  ] as const)('%s', async (_what, call, code, message) => {
    const err = await caught(call)
    expect(err.code).toBe(code)
    expect(err.message).toMatch(message)
    expect(err.message).toMatch(/^Expected /)
  })

  it('a disposed w', async () => {
    const t = sk.zeros([2, 2])
    t.dispose()
    expect((await caught(() => sparsifyCsr(t))).code).toBe('ERR_SK_DISPOSED')
  })
})

describe('conv1x1: bad input', () => {
  it('wrong layouts and dims, channel mismatch, bias, dtypes, activation', async () => {
    using w = await weight(6, 5)
    const x = sk.zeros([1, 5, 3, 3])
    const cases: [string, () => unknown, sk.ErrorCode, RegExp][] = [
      ['x 3-D [C, H, W]', () => sk.conv1x1(sk.zeros([5, 3, 3]), w), 'ERR_SK_SHAPE', /x\.dims/],
      ['x 2-D', () => sk.conv1x1(sk.zeros([5, 9]), w), 'ERR_SK_SHAPE', /x\.dims/],
      [
        'channels-last x [B, H, W, C] (C at dim 3)',
        () => sk.conv1x1(sk.zeros([1, 3, 3, 5]), w),
        'ERR_SK_SHAPE',
        /5 channels/,
      ],
      ["layout 'nhwc'", () => sk.conv1x1(x, w, null, { layout: 'nhwc' as never }), 'ERR_SK_UNSUPPORTED', /nchw/],
      [
        'layout other',
        () => sk.conv1x1(x, w, null, { layout: 'chw' as never }),
        'ERR_SK_INVALID_ARGUMENT',
        /options\.layout/,
      ],
      ['float16 x', () => sk.conv1x1(sk.zeros([1, 5, 3, 3], 'float16'), w), 'ERR_SK_DTYPE', /x\.type/],
      ['bias of Cin', () => sk.conv1x1(x, w, sk.zeros([5])), 'ERR_SK_SHAPE', /bias\.dims/],
      ['bias 2-D', () => sk.conv1x1(x, w, sk.zeros([1, 6])), 'ERR_SK_SHAPE', /bias\.dims/],
      ['int32 bias', () => sk.conv1x1(x, w, sk.zeros([6], 'int32')), 'ERR_SK_DTYPE', /bias\.type/],
      ['bias a number', () => sk.conv1x1(x, w, 3 as never), 'ERR_SK_INVALID_ARGUMENT', /bias/],
      ['w a dense tensor', () => sk.conv1x1(x, sk.zeros([6, 5]) as never), 'ERR_SK_INVALID_ARGUMENT', /SparseWeight/],
      [
        'activation unknown',
        () => sk.conv1x1(x, w, null, { activation: 'gelu' as never }),
        'ERR_SK_INVALID_ARGUMENT',
        /activation/,
      ],
      [
        'activation min > max',
        () => sk.conv1x1(x, w, null, { activation: { min: 1, max: 0 } }),
        'ERR_SK_INVALID_ARGUMENT',
        /max/,
      ],
      [
        'activation NaN',
        () => sk.conv1x1(x, w, null, { activation: { min: NaN, max: 1 } }),
        'ERR_SK_INVALID_ARGUMENT',
        /min/,
      ],
      ['unknown option', () => sk.conv1x1(x, w, null, { relu: true } as never), 'ERR_SK_INVALID_ARGUMENT', /options/],
    ]
    for (const [what, call, code, message] of cases) {
      const err = await caught(call)
      expect(err.code, what).toBe(code)
      expect(err.message, what).toMatch(message)
    }
  })

  it('a disposed weight or input', async () => {
    const w = await weight()
    w.dispose()
    expect((await caught(() => sk.conv1x1(sk.zeros([1, 5, 2, 2]), w))).code).toBe('ERR_SK_DISPOSED')
    using w2 = await weight()
    const x = sk.zeros([1, 5, 2, 2])
    x.dispose()
    expect((await caught(() => sk.conv1x1(x, w2))).code).toBe('ERR_SK_DISPOSED')
  })

  it('C·H·W past int32 increments is refused before any allocation', async () => {
    using w = await sparsifyCsr(tensorOf(new Float32Array(2 * 70000).fill(1), [2, 70000]))
    // batch 0 keeps x empty (no memory needed); the check is on C·H·W = 70000 · 40000
    const err = await caught(() => sk.conv1x1(sk.zeros([0, 70000, 200, 200]), w))
    expect(err.code).toBe('ERR_SK_UNSUPPORTED')
  })
})

describe('linear (csr path): bad input', () => {
  it('x with another K is refused', async () => {
    using w = await weight(6, 5)
    const err = await caught(() => linearCsr(sk.zeros([2, 4]), w, null, sk.zeros([2, 6])))
    expect(err.code).toBe('ERR_SK_SHAPE')
  })
})

describe('spmm binding: corrupted packed arrays (the native checks)', () => {
  const b = () => cpuBinding()
  const plan = (nnzmap: number[], cols: number[], n: number, k: number, nr: number, values: number) =>
    b().spmmPlan(Int32Array.from(nnzmap), Int32Array.from(cols), n, k, nr, values)
  const code = (fn: () => unknown): string => {
    try {
      fn()
    } catch (err) {
      return (err as { code: string }).code
    }
    return 'OK'
  }

  it('a valid plan passes; each corruption is refused with a code', () => {
    expect(code(() => plan([2, 1, 0], [0, 4, 2], 3, 5, 1, 3))).toBe('OK')
    expect(code(() => plan([2, 1, 0], [0, 5, 2], 3, 5, 1, 3))).toBe('ERR_SK_INVALID_ARGUMENT') // column = K
    expect(code(() => plan([2, 1, 0], [0, 2 ** 31 - 1, 2], 3, 5, 1, 3))).toBe('ERR_SK_INVALID_ARGUMENT')
    expect(code(() => plan([2, 1, 0], [-1, 4, 2], 3, 5, 1, 3))).toBe('ERR_SK_INVALID_ARGUMENT') // negative column
    expect(code(() => plan([2, 1, 0], [4, 0, 2], 3, 5, 1, 3))).toBe('ERR_SK_INVALID_ARGUMENT') // not increasing
    expect(code(() => plan([2, 2, 0], [0, 4, 2], 3, 5, 1, 3))).toBe('ERR_SK_INVALID_ARGUMENT') // counts past cols
    expect(code(() => plan([-1, 1, 0], [0, 4, 2], 3, 5, 1, 3))).toBe('ERR_SK_INVALID_ARGUMENT') // negative count
    expect(code(() => plan([2 ** 31 - 1, 1, 0], [0, 4, 2], 3, 5, 1, 3))).toBe('ERR_SK_INVALID_ARGUMENT') // huge count
    expect(code(() => plan([1, 1, 0], [0, 4, 2], 3, 5, 1, 3))).toBe('ERR_SK_SHAPE') // counts under cols
    expect(code(() => plan([2, 1, 0], [0, 4, 2], 3, 5, 1, 4))).toBe('ERR_SK_SHAPE') // values length
    expect(code(() => plan([2, 1], [0, 4, 2], 3, 5, 1, 3))).toBe('ERR_SK_SHAPE') // groups for n
    expect(code(() => plan([2, 1, 0], [0, 4, 2], 3, 5, 3, 3))).toBe('ERR_SK_INVALID_ARGUMENT') // block size 3
    expect(code(() => b().spmmPlan(new Float32Array(3) as never, Int32Array.from([0]), 3, 5, 1, 1))).toBe(
      'ERR_SK_INVALID_ARGUMENT',
    )
  })

  it('spmm refuses forged or released plans and short buffers', () => {
    const p = plan([2, 1, 0], [0, 4, 2], 3, 5, 1, 3)
    const args = { layout: 1 as const, batch: 1, m: 2, min: -Infinity, max: Infinity }
    const values = new Float32Array(3)
    const x = new Float32Array(10)
    const out = new Float32Array(6)
    expect(code(() => b().spmm({} as SpmmPlan, values, x, out, null, args))).toBe('ERR_SK_INVALID_ARGUMENT')
    expect(code(() => b().spmm(p, new Float32Array(2), x, out, null, args))).toBe('ERR_SK_SHAPE')
    expect(code(() => b().spmm(p, values, new Float32Array(9), out, null, args))).toBe('ERR_SK_SHAPE')
    expect(code(() => b().spmm(p, values, x, new Float32Array(5), null, args))).toBe('ERR_SK_SHAPE')
    expect(code(() => b().spmm(p, values, x, out, new Float32Array(2), args))).toBe('ERR_SK_SHAPE')
    expect(code(() => b().spmm(p, values, new Int32Array(10) as never, out, null, args))).toBe('ERR_SK_DTYPE')
    expect(code(() => b().spmm(p, values, x, out, null, { ...args, min: NaN }))).toBe('ERR_SK_INVALID_ARGUMENT')
    expect(code(() => b().spmm(p, values, x, out, null, { ...args, layout: 2 as never }))).toBe(
      'ERR_SK_INVALID_ARGUMENT',
    )
    expect(code(() => b().spmm(p, values, x, out, null, { ...args, batch: 2 }))).toBe('ERR_SK_SHAPE')
    b().spmmRelease(p)
    expect(code(() => b().spmm(p, values, x, out, null, args))).toBe('ERR_SK_DISPOSED')
  })

  it('spmmPack refuses arrays that do not fit w (w changed since the analysis)', async () => {
    const w = Float32Array.from([1, 0, 2, 0, 3, 0])
    const codeOf = async (fn: () => Promise<void>) => {
      try {
        await fn()
      } catch (err) {
        return (err as { code: string }).code
      }
      return 'OK'
    }
    expect(
      await codeOf(() => b().spmmPack(w, 2, 3, 1, new Int32Array(2), new Int32Array(3), new Float32Array(3))),
    ).toBe('OK')
    expect(
      await codeOf(() => b().spmmPack(w, 2, 3, 1, new Int32Array(2), new Int32Array(2), new Float32Array(2))),
    ).toBe('ERR_SK_SHAPE')
    expect(
      await codeOf(() => b().spmmPack(w, 2, 3, 1, new Int32Array(1), new Int32Array(3), new Float32Array(3))),
    ).toBe('ERR_SK_SHAPE')
    expect(
      await codeOf(() => b().spmmPack(w, 2, 4, 1, new Int32Array(2), new Int32Array(3), new Float32Array(3))),
    ).toBe('ERR_SK_SHAPE')
    expect(
      await codeOf(() => b().spmmPack(w, 2, 3, 3, new Int32Array(2), new Int32Array(3), new Float32Array(3))),
    ).toBe('ERR_SK_INVALID_ARGUMENT')
  })

  it('a packed array changed in JS after sparsify does not reach the kernels', async () => {
    using w = await weight(6, 5)
    ;(w._parts().tensors.cols.data as Int32Array).fill(1_000_000) // the plan holds its own checked copy
    const out = sk.zeros([1, 6])
    await linearCsr(sk.zeros([1, 5]), w, null, out)
    expect(Array.from(out.data)).toEqual([0, 0, 0, 0, 0, 0])
  })
})
