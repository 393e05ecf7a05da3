// Bad input to the dynamic sparse prefill ops: a SparsekitError with the right
// code, thrown synchronously (before anything is queued), and the same checks
// again in the addon for what memory safety depends on (indices, lengths,
// strides of the block-score and row-gather ops, the permuted-causal rule's
// position array). Never a crash.
import { afterEach, describe, expect, it } from 'vitest'

import * as sk from '../../lib/index.js'
import { dtypeId } from '../../lib/dtype.js'
import { cpuBinding } from '../../lib/native.js'
import { expectThrowsContaining as expectThrows } from '../fixtures/expect-errors.js'

const made: sk.Tensor[] = []
const t = (dims: number[], type: sk.DType = 'float32') => {
  const x = sk.randn(dims, { seed: dims.length, type })
  made.push(x)
  return x
}
afterEach(() => {
  for (const x of made.splice(0)) x.dispose()
})

async function expectRejects(p: Promise<unknown>, code: sk.ErrorCode, text?: string): Promise<void> {
  const err = await p.then(
    () => null,
    (e: unknown) => e,
  )
  expect(err).toBeInstanceOf(sk.SparsekitError)
  expect((err as sk.SparsekitError).code).toBe(code)
  if (text) expect((err as Error).message).toContain(text)
}

describe('prefill: bad options', () => {
  const q = () => t([1, 2, 512, 16]),
    k = () => t([1, 1, 512, 16])

  it('segmentSize not a multiple of blockSize', () => {
    expectThrows(
      () => sk.permutedAttention(q(), k(), k(), { method: 'pbs', blockSize: 128, segmentSize: 200 }),
      'ERR_SK_INVALID_ARGUMENT',
      'segmentSize',
    )
    expectThrows(
      () => sk.permutedAttention(q(), k(), k(), { method: 'pbs', blockSize: 128, segmentSize: 64 }),
      'ERR_SK_INVALID_ARGUMENT',
      'segmentSize',
    )
    expectThrows(
      () => sk.segmentPermutation(q(), k(), { blockSize: 64, segmentSize: 96 }),
      'ERR_SK_INVALID_ARGUMENT',
      'segmentSize',
    )
  })

  it('threshold outside (0, 1]', () => {
    for (const threshold of [0, -0.5, 1.01, Number.NaN, '0.9'])
      for (const f of [
        () => sk.permutedAttention(q(), k(), k(), { threshold: threshold as number }),
        () => sk.permutedAttention(q(), k(), k(), { method: 'pbs', threshold: threshold as number }),
        () => sk.estimateBlockMask(q(), k(), { threshold: threshold as number }),
      ])
        expectThrows(f, 'ERR_SK_INVALID_ARGUMENT', 'threshold')
  })

  it('stride that does not divide the block, block sizes out of range, unknown methods and options', () => {
    expectThrows(
      () => sk.estimateBlockMask(q(), k(), { blockSize: 128, stride: 24 }),
      'ERR_SK_INVALID_ARGUMENT',
      'stride',
    )
    expectThrows(() => sk.estimateBlockMask(q(), k(), { stride: 0 }), 'ERR_SK_INVALID_ARGUMENT', 'stride')
    expectThrows(() => sk.estimateBlockMask(q(), k(), { blockSize: 100 }), 'ERR_SK_INVALID_ARGUMENT', 'blockSize')
    expectThrows(
      () => sk.estimateBlockMask(q(), k(), { method: 'minference' as 'topk' }),
      'ERR_SK_INVALID_ARGUMENT',
      'method',
    )
    expectThrows(() => sk.estimateBlockMask(q(), k(), { method: 'topk' }), 'ERR_SK_INVALID_ARGUMENT', 'budget')
    expectThrows(
      () => sk.estimateBlockMask(q(), k(), { method: 'xattention', budget: 4 }),
      'ERR_SK_INVALID_ARGUMENT',
      'budget',
    )
    expectThrows(() => sk.estimateBlockMask(q(), k(), { sparsity: 1 } as never), 'ERR_SK_INVALID_ARGUMENT')
  })

  it('permutedAttention: unknown methods, options of the other method, budgets below 1', () => {
    expectThrows(
      () => sk.permutedAttention(q(), k(), k(), { method: 'minference' as 'pbs' }),
      'ERR_SK_INVALID_ARGUMENT',
      'method',
    )
    expectThrows(
      () => sk.permutedAttention(q(), k(), k(), { segmentSize: 256 }),
      'ERR_SK_INVALID_ARGUMENT',
      'segmentSize',
    ) // vslash has no segments
    expectThrows(
      () => sk.permutedAttention(q(), k(), k(), { method: 'pbs', budget: 4096 }),
      'ERR_SK_INVALID_ARGUMENT',
      'budget',
    )
    for (const budget of [0, -1, 1.5, Number.NaN, '64'])
      expectThrows(
        () => sk.permutedAttention(q(), k(), k(), { budget: budget as number }),
        'ERR_SK_INVALID_ARGUMENT',
        'budget',
      )
    expectThrows(() => sk.permutedAttention(q(), k(), k(), { blockSize: 8 }), 'ERR_SK_INVALID_ARGUMENT', 'blockSize')
    expectThrows(() => sk.permutedAttention(q(), k(), k(), { window: 4 } as never), 'ERR_SK_INVALID_ARGUMENT')
  })

  it('non-causal use of either method', () => {
    expectThrows(() => sk.permutedAttention(q(), k(), k(), { causal: false }), 'ERR_SK_UNSUPPORTED', 'causal')
    expectThrows(
      () => sk.permutedAttention(q(), k(), k(), { method: 'pbs', causal: false }),
      'ERR_SK_UNSUPPORTED',
      'causal',
    )
  })

  it('shapes and types that do not fit', () => {
    expectThrows(() => sk.estimateBlockMask(q(), t([1, 1, 500, 16])), 'ERR_SK_SHAPE', 'sequence length')
    expectThrows(() => sk.estimateBlockMask(t([1, 3, 512, 16]), t([1, 2, 512, 16])), 'ERR_SK_SHAPE')
    expectThrows(() => sk.estimateBlockMask(q(), t([1, 1, 512, 16], 'bfloat16')), 'ERR_SK_DTYPE')
    expectThrows(() => sk.permutedAttention(q(), k(), t([1, 1, 512, 8])), 'ERR_SK_SHAPE', 'v.dims')
    expectThrows(() => sk.estimateBlockMask(t([2, 512, 16]), k()), 'ERR_SK_SHAPE')
  })
})

describe('prefill: invalid permutations', () => {
  const S = 300
  const q = () => t([2, 2, S, 16]),
    k = () => t([2, 1, S, 16])
  const ident = () => new Int32Array(2 * S).map((_, i) => i % S)

  it('not a bijection, out of range, wrong length or dims', () => {
    const rep = ident()
    rep[S + 7] = 8 // row 1 repeats 8
    expectThrows(
      () => sk.permutedBlockAttention(q(), k(), k(), { permutation: { indices: rep, dims: [2, 1, S] } }),
      'ERR_SK_INVALID_ARGUMENT',
      'row 1',
    )
    for (const bad of [-1, S, 2 ** 31 - 1]) {
      const p = ident()
      p[3] = bad
      expectThrows(
        () => sk.permutedBlockAttention(q(), k(), k(), { permutation: { indices: p, dims: [2, 1, S] } }),
        'ERR_SK_INVALID_ARGUMENT',
        'permutation',
      )
    }
    expectThrows(
      () =>
        sk.permutedBlockAttention(q(), k(), k(), { permutation: { indices: ident().subarray(1), dims: [2, 1, S] } }),
      'ERR_SK_SHAPE',
    )
    expectThrows(
      () => sk.permutedBlockAttention(q(), k(), k(), { permutation: { indices: ident(), dims: [1, 2, S] } }),
      'ERR_SK_INVALID_ARGUMENT',
      'dims',
    )
    expectThrows(
      () =>
        sk.permutedBlockAttention(q(), k(), k(), {
          permutation: { indices: Array.from(ident()), dims: [2, 1, S] } as never,
        }),
      'ERR_SK_INVALID_ARGUMENT',
    )
    expectThrows(
      () => sk.BlockMask.permutedCausal({ permutation: rep, dims: [2, 1, S], headsQ: 2, qLen: S, blockSize: 64 }),
      'ERR_SK_INVALID_ARGUMENT',
    )
  })
})

describe('prefill: the addon checks again', () => {
  const q = () => t([1, 2, 256, 16]),
    k = () => t([1, 1, 256, 16])
  const args = {
    dtype: dtypeId('float32'),
    method: 1 as const,
    batch: 1,
    headsQ: 2,
    headsKv: 1,
    seq: 256,
    headDim: 16,
    qStrides: [2 * 256 * 16, 256 * 16, 16] as [number, number, number],
    kStrides: [256 * 16, 256 * 16, 16] as [number, number, number],
    block: 64,
    stride: 8,
    segmentBlocks: 0,
    keyCount: 256,
    scale: 0.25,
    causal: true,
  }

  it('blockScores: stride, method, buffer sizes, key count', async () => {
    const out = new Float32Array(2 * 4 * 4)
    const call = (a: object, o = out, qq = q()) =>
      cpuBinding().blockScores(qq.data as Float32Array, k().data as Float32Array, o, { ...args, ...a } as typeof args)
    const codes: [object, Float32Array, string][] = [
      [{ stride: 24 }, out, 'ERR_SK_INVALID_ARGUMENT'],
      [{ method: 5 }, out, 'ERR_SK_INVALID_ARGUMENT'],
      [{ method: 4, stride: 1 }, out, 'ERR_SK_SHAPE'], // the lines need 2 · 256 floats per head
      [{ keyCount: 257 }, out, 'ERR_SK_INVALID_ARGUMENT'],
      [{}, new Float32Array(31), 'ERR_SK_SHAPE'],
      [{ seq: 300 }, out, 'ERR_SK_SHAPE'], // q and k hold 256 rows
      [{ qStrides: [0, 0, 100] }, out, 'ERR_SK_SHAPE'], // reaches past q
    ]
    for (const [a, o, code] of codes) {
      let err: unknown
      try {
        await call(a, o)
      } catch (e) {
        err = e
      }
      expect((err as { code?: string })?.code, JSON.stringify(a)).toBe(code)
    }
  })

  it('gatherRows: indices out of range, short buffers', async () => {
    const src = k(),
      dst = new Float32Array(256 * 16)
    const a = {
      elemSize: 4,
      batch: 1,
      heads: 1,
      seq: 256,
      row: 16,
      srcStrides: [4096, 4096, 16] as [number, number, number],
    }
    const idx = new Int32Array(256).map((_, i) => i)
    idx[9] = 256
    expect(() => cpuBinding().gatherRows(src.data as Float32Array, idx, dst, a)).toThrow(/indices in \[0, 256\)/)
    idx[9] = -3
    expect(() => cpuBinding().gatherRows(src.data as Float32Array, idx, dst, a)).toThrow(/indices/)
    expect(() => cpuBinding().gatherRows(src.data as Float32Array, new Int32Array(255), dst, a)).toThrow(/elements/)
    expect(() =>
      cpuBinding().gatherRows(
        src.data as Float32Array,
        idx.map((_, i) => i),
        new Float32Array(100),
        a,
      ),
    ).toThrow(/at least/)
  })

  it('attention: a permuted-causal rule with a short kvPos or bad posHeads', async () => {
    const qq = t([1, 2, 64, 16]),
      kk = t([1, 1, 64, 16])
    const mask = sk.BlockMask.permutedCausal({
      permutation: new Int32Array(64).map((_, i) => 63 - i),
      dims: [1, 1, 64],
      headsQ: 2,
      qLen: 64,
      blockSize: 16,
    })
    const native = mask._native()
    const bad = (rule: object) => ({ ...native, rules: [[{ ...native.rules[0]![0]!, ...rule }]] })
    const run = (m: object) =>
      cpuBinding().attention(
        qq.data as Float32Array,
        kk.data as Float32Array,
        kk.data as Float32Array,
        new Float32Array(2 * 64 * 16),
        null,
        {
          dtype: dtypeId('float32'),
          batch: 1,
          headsQ: 2,
          headsKv: 1,
          seqQ: 64,
          seqKv: 64,
          headDim: 16,
          qStrides: [2048, 1024, 16],
          kStrides: [1024, 1024, 16],
          vStrides: [1024, 1024, 16],
          outStrides: [2048, 1024, 16],
          scale: 0.25,
          causal: false,
        },
        m as never,
      )
    expect(() => run(bad({ kvPos: new Int32Array(63) }))).toThrow(/elements/)
    expect(() => run(bad({ posHeads: 2 }))).toThrow(/posHeads|between/)
    expect(() => run(bad({ posBatch: 0 }))).toThrow(/posBatch/)
    await expectRejects(Promise.reject(new sk.SparsekitError('ERR_SK_SHAPE', 'x')), 'ERR_SK_SHAPE') // helper sanity
    await run(native) // the real mask runs
  })
})
