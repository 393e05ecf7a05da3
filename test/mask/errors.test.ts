// Bad input to the mask builders and combinators: a SparsekitError with the
// right code and the one message shape, never a crash or a wrong mask.
import { describe, expect, it } from 'vitest'

import { SparsekitError, type ErrorCode } from '../../lib/errors.js'
import { BlockMask } from '../../lib/mask/index.js'
import { thrown } from './helpers.js'

const s = { qLen: 256, kvLen: 256, blockSize: 64 }

function expectError(fn: () => unknown, code: ErrorCode, arg?: string): void {
  const e = thrown(fn)
  expect(e, 'must throw').toBeInstanceOf(SparsekitError)
  const err = e as SparsekitError
  expect(err.code, err.message).toBe(code)
  if (arg !== undefined)
    expect(err.message).toMatch(new RegExp(`^Expected .* for ${arg.replace(/[()[\].]/g, '\\$&')} but received `))
}

describe('block sizes', () => {
  it.each([
    0,
    8,
    24,
    272,
    1.5,
    -16,
    512,
    NaN,
    '64',
    null,
    undefined,
    [64, 64],
    { q: 64 },
    { q: 64, kv: 8 },
    { q: 64, kv: 64, x: 1 },
  ])('blockSize %o: ERR_SK_INVALID_ARGUMENT', (blockSize) => {
    expectError(() => BlockMask.causal({ ...s, blockSize } as never), 'ERR_SK_INVALID_ARGUMENT', 'blockSize')
    expectError(
      () => BlockMask.documents({ lengths: [100], blockSize } as never),
      'ERR_SK_INVALID_ARGUMENT',
      'blockSize',
    )
  })
  it.each([16, 32, 48, 240, 256, { q: 16, kv: 256 }])('blockSize %o is accepted', (blockSize) => {
    expect(BlockMask.causal({ ...s, blockSize }).qBlock % 16).toBe(0)
  })
})

describe('lengths and parameters', () => {
  it.each([
    ['qLen 0', () => BlockMask.causal({ ...s, qLen: 0 }), 'qLen'],
    ['kvLen -5', () => BlockMask.causal({ ...s, kvLen: -5 }), 'kvLen'],
    ['qLen 1.5', () => BlockMask.slidingWindow({ ...s, qLen: 1.5, window: 4 }), 'qLen'],
    ['kvLen missing', () => BlockMask.causal({ qLen: 4, blockSize: 16 } as never), 'kvLen'],
    ['kvLen 2^31', () => BlockMask.causal({ ...s, kvLen: 2 ** 31 }), 'kvLen'],
    ['window 0', () => BlockMask.slidingWindow({ ...s, window: 0 }), 'window'],
    ['window missing', () => BlockMask.slidingWindow(s as never), 'window'],
    ['sink -1', () => BlockMask.streaming({ ...s, sink: -1, local: 4 }), 'sink'],
    ['local 0', () => BlockMask.streaming({ ...s, sink: 4, local: 0 }), 'local'],
    ['negative document length', () => BlockMask.documents({ lengths: [10, -3], blockSize: 16 }), 'lengths'],
    ['fractional document length', () => BlockMask.documents({ lengths: [10.5], blockSize: 16 }), 'lengths'],
    ['lengths not an array', () => BlockMask.documents({ lengths: 100 as never, blockSize: 16 }), 'lengths'],
    ['negative prefix', () => BlockMask.documents({ prefix: -1, lengths: [10], blockSize: 16 }), 'prefix'],
    ['negative query', () => BlockMask.documents({ query: -2, lengths: [10], blockSize: 16 }), 'query'],
    ['unknown option', () => BlockMask.causal({ ...s, causal: true } as never), 'options'],
    ['options not an object', () => BlockMask.causal(5 as never), 'options'],
    ['batch 0', () => BlockMask.fromBlocks(() => true, { ...s, batch: 0 }), 'batch'],
    ['fn not a function', () => BlockMask.fromBlocks(3 as never, s), 'fn'],
  ] as const)('%s: ERR_SK_INVALID_ARGUMENT', (_what, fn, arg) => {
    expectError(fn, 'ERR_SK_INVALID_ARGUMENT', arg)
  })

  it('an empty documents layout: ERR_SK_SHAPE', () => {
    expectError(() => BlockMask.documents({ lengths: [0, 0], blockSize: 16 }), 'ERR_SK_SHAPE')
  })

  it('more than 2^28 blocks: ERR_SK_SHAPE, before allocating', () => {
    expectError(() => BlockMask.causal({ qLen: 2 ** 20, kvLen: 2 ** 20, blockSize: 16 }), 'ERR_SK_SHAPE')
  })
})

describe('fromBlocks callbacks', () => {
  it('a callback that throws: ERR_SK_INVALID_ARGUMENT naming the block, with the cause', () => {
    const boom = new Error('boom')
    const e = thrown(() =>
      BlockMask.fromBlocks((b, h, qb, kb) => {
        if (qb === 2 && kb === 1) throw boom
        return true
      }, s),
    ) as SparsekitError
    expect(e).toBeInstanceOf(SparsekitError)
    expect(e.code).toBe('ERR_SK_INVALID_ARGUMENT')
    expect(e.message).toMatch(/\(0, 0, 2, 1\): boom/)
    expect(e.cause).toBe(boom)
  })
  it.each([1, 0, 'yes', undefined, null, {}])('a callback that returns %o: ERR_SK_INVALID_ARGUMENT', (v) => {
    expectError(() => BlockMask.fromBlocks(() => v as never, s), 'ERR_SK_INVALID_ARGUMENT', 'fn(0, 0, 0, 0)')
  })
})

describe('fromDense', () => {
  const bits = new Uint8Array(16).fill(1)
  it.each([
    ['bits too short', () => BlockMask.fromDense(new Uint8Array(15), [4, 4], s), 'ERR_SK_SHAPE', 'bits'],
    ['bits too long', () => BlockMask.fromDense(new Uint8Array(32), [4, 4], s), 'ERR_SK_SHAPE', 'bits'],
    ['dims not matching the lengths', () => BlockMask.fromDense(bits, [2, 8], s), 'ERR_SK_SHAPE', 'dims'],
    ['dims of rank 3', () => BlockMask.fromDense(bits, [1, 4, 4], s), 'ERR_SK_SHAPE', 'dims'],
    ['dims with a zero', () => BlockMask.fromDense(bits, [0, 1, 4, 4], s), 'ERR_SK_SHAPE', 'dims'],
    ['dims not an array', () => BlockMask.fromDense(bits, 16 as never, s), 'ERR_SK_SHAPE', 'dims'],
    [
      'bits of 2',
      () => BlockMask.fromDense(new Uint8Array(16).fill(2), [4, 4], s),
      'ERR_SK_INVALID_ARGUMENT',
      'bits[0]',
    ],
    [
      'bits of 255 at the end',
      () =>
        BlockMask.fromDense(
          Uint8Array.from({ length: 16 }, (_, k) => (k === 15 ? 255 : 1)),
          [4, 4],
          s,
        ),
      'ERR_SK_INVALID_ARGUMENT',
      'bits[15]',
    ],
    ['bits a plain array', () => BlockMask.fromDense([1, 1] as never, [4, 4], s), 'ERR_SK_INVALID_ARGUMENT', 'bits'],
    [
      'bits an Int32Array',
      () => BlockMask.fromDense(new Int32Array(16) as never, [4, 4], s),
      'ERR_SK_INVALID_ARGUMENT',
      'bits',
    ],
  ] as const)('%s', (_what, fn, code, arg) => expectError(fn, code, arg))
})

describe('combining mismatched masks', () => {
  const a = BlockMask.causal(s)
  it.each([
    ['qLen', BlockMask.causal({ ...s, qLen: 255 })],
    ['kvLen', BlockMask.causal({ ...s, kvLen: 320 })],
    ['blockSize', BlockMask.causal({ ...s, blockSize: 128 })],
    ['key block size', BlockMask.causal({ ...s, blockSize: { q: 64, kv: 32 } })],
  ])('different %s: ERR_SK_SHAPE', (_what, b) => {
    expectError(() => a.and(b), 'ERR_SK_SHAPE')
    expectError(() => a.or(b), 'ERR_SK_SHAPE')
  })
  it('heads 2 with heads 3: ERR_SK_SHAPE', () => {
    const h2 = BlockMask.fromBlocks(() => true, { ...s, heads: 2 }),
      h3 = BlockMask.fromBlocks(() => true, { ...s, heads: 3 })
    expectError(() => h2.or(h3), 'ERR_SK_SHAPE')
  })
  it('not a mask: ERR_SK_INVALID_ARGUMENT', () => {
    expectError(() => a.and({} as never), 'ERR_SK_INVALID_ARGUMENT', 'mask.and')
    expectError(() => a.or(null as never), 'ERR_SK_INVALID_ARGUMENT', 'mask.or')
  })
})
