// Bad input to sk.linear, sk.prune and sk.sparsify: a SparsekitError with the
// right code, thrown at once (before anything is queued or allocated) in the
// one message shape, or (for what only the data can tell: a pattern that is
// not 2:4, corrupted codes) a rejection with ERR_SK_INVALID_ARGUMENT. The raw
// binding re-checks what memory safety depends on. Never a crash.
import { afterEach, describe, expect, it } from 'vitest'

import * as sk from '../../lib/index.js'
import { expectThrows } from '../fixtures/expect-errors.js'
import { cpuBinding, cudaBinding, cudaUnavailableReason } from '../../lib/native.js'
import { SparseWeight } from '../../lib/sparse/weight.js'

const hasCuda = cudaBinding()?.status().available === true
if (!hasCuda) console.log(`linear CUDA checks skipped: ${cudaUnavailableReason()}`)

const made: { dispose(): void }[] = []
const keep = <T extends { dispose(): void }>(x: T): T => (made.push(x), x)
const t = (dims: number[], type: sk.DType = 'float32') => keep(sk.zeros(dims, type))
afterEach(() => {
  for (const x of made.splice(0)) x.dispose()
})

const sparse = async (n: number, k: number) => keep(await sk.sparsify(t([n, k]), { format: '2:4' }))

describe('linear: bad input', () => {
  it('x not a tensor, w neither a Tensor nor a SparseWeight', () => {
    expectThrows(() => sk.linear({} as sk.Tensor, t([4, 8])), 'ERR_SK_INVALID_ARGUMENT', null)
    expectThrows(
      () => sk.linear(t([2, 8]), new Float32Array(32) as unknown as sk.Tensor),
      'ERR_SK_INVALID_ARGUMENT',
      'w',
    )
  })
  it('x not float32: ERR_SK_DTYPE with a cast-first hint', () => {
    expectThrows(() => sk.linear(t([2, 8], 'bfloat16'), t([4, 8])), 'ERR_SK_DTYPE', null)
    expect(() => sk.linear(t([2, 8], 'float16'), t([4, 8]))).toThrow(/cast first/)
  })
  it('w of another dtype, or not 2-D', () => {
    expectThrows(() => sk.linear(t([2, 8]), t([4, 8], 'int8')), 'ERR_SK_DTYPE', 'w.type')
    expectThrows(() => sk.linear(t([2, 8]), t([4, 8], 'float8e4m3fn')), 'ERR_SK_DTYPE', 'w.type')
    expectThrows(() => sk.linear(t([2, 8]), t([1, 4, 8])), 'ERR_SK_SHAPE', 'w.dims')
    expectThrows(() => sk.linear(t([2, 8]), t([32])), 'ERR_SK_SHAPE', 'w.dims')
  })
  it('K mismatch between x and w (dense and 2:4); x with no dims', async () => {
    expectThrows(() => sk.linear(t([2, 9]), t([4, 8])), 'ERR_SK_SHAPE', 'x.dims')
    const sw = await sparse(4, 8)
    expectThrows(() => sk.linear(t([2, 12]), sw), 'ERR_SK_SHAPE', 'x.dims')
    expectThrows(() => sk.linear(t([]), t([4, 8])), 'ERR_SK_SHAPE', 'x.dims')
  })
  it('bias of the wrong length, rank or dtype; not a tensor', async () => {
    const sw = await sparse(4, 8)
    for (const w of [t([4, 8]), sw]) {
      expectThrows(() => sk.linear(t([2, 8]), w, t([5])), 'ERR_SK_SHAPE', 'bias.dims')
      expectThrows(() => sk.linear(t([2, 8]), w, t([1, 4])), 'ERR_SK_SHAPE', 'bias.dims')
      expectThrows(() => sk.linear(t([2, 8]), w, t([4], 'float16')), 'ERR_SK_DTYPE', 'bias.type')
      expectThrows(() => sk.linear(t([2, 8]), w, [1, 2, 3, 4] as unknown as sk.Tensor), 'ERR_SK_INVALID_ARGUMENT', null)
    }
  })
  it('disposed operands: ERR_SK_DISPOSED', () => {
    const x = sk.zeros([2, 8])
    x.dispose()
    expectThrows(() => sk.linear(x, t([4, 8])), 'ERR_SK_DISPOSED', null)
    const w = sk.zeros([4, 8])
    w.dispose()
    expectThrows(() => sk.linear(t([2, 8]), w), 'ERR_SK_DISPOSED', null)
  })
  it('mixed devices: a SparseWeight on cuda:0 with a CPU x is ERR_SK_DEVICE (no silent copy)', () => {
    const values = t([1, 2, 2, 8]) // the CPU 2:4 layout of [4, 8]: one panel of 8 rows, 2 groups
    const meta = t([1, 2, 4], 'uint8')
    const onCuda = new SparseWeight({
      format: '2:4',
      type: 'float32',
      dims: [4, 8],
      device: 'cuda:0',
      nnz: 16,
      tensors: { values, meta },
      toDense: () => Promise.reject(new Error('unused')),
    })
    expectThrows(() => sk.linear(t([2, 8]), onCuda), 'ERR_SK_DEVICE', 'w')
  })
  it.skipIf(!hasCuda)(
    'CUDA: mixed CPU/CUDA operands are ERR_SK_DEVICE; float32 x or w, csr weights and mixed 16-bit types are refused',
    async () => {
      const xg = keep(await t([2, 8]).to('cuda'))
      expectThrows(() => sk.linear(xg, t([4, 8])), 'ERR_SK_DEVICE', 'w')
      const wg = keep(await t([4, 8]).to('cuda'))
      const bg = keep(await t([4]).to('cuda'))
      expectThrows(() => sk.linear(t([2, 8]), wg), 'ERR_SK_DEVICE', 'w')
      expectThrows(() => sk.linear(t([2, 8]), t([4, 8]), bg), 'ERR_SK_DEVICE', 'bias')
      expectThrows(() => sk.linear(xg, wg), 'ERR_SK_UNSUPPORTED', null) // CUDA linear is float16 / bfloat16, as attention
      const xh = keep(await t([2, 8], 'bfloat16').to('cuda'))
      const wh = keep(await t([4, 8], 'float16').to('cuda'))
      expectThrows(() => sk.linear(xh, wh), 'ERR_SK_DTYPE', 'w.type')
      const csr = keep(await sk.sparsify(t([4, 8]), { format: 'csr' }))
      expectThrows(() => sk.linear(xh, csr), 'ERR_SK_DEVICE', 'w')
      await expect(sk.sparsify(keep(await t([4, 8]).to('cuda')), { format: '2:4' })).rejects.toMatchObject({
        code: 'ERR_SK_UNSUPPORTED',
      })
    },
  )
})

describe('prune and sparsify: bad input', () => {
  it('prune: bad n / m, K not a multiple of m, wrong dims or dtype, missing options', () => {
    expectThrows(() => sk.prune(t([4, 8]), { n: 3, m: 2 }), 'ERR_SK_INVALID_ARGUMENT', 'options.n')
    expectThrows(() => sk.prune(t([4, 8]), { n: 0, m: 4 }), 'ERR_SK_INVALID_ARGUMENT', 'options.n')
    expectThrows(() => sk.prune(t([4, 8]), { n: 1, m: 65 }), 'ERR_SK_INVALID_ARGUMENT', 'options.m')
    expectThrows(() => sk.prune(t([4, 8]), { n: 1.5, m: 4 }), 'ERR_SK_INVALID_ARGUMENT', 'options.n')
    expectThrows(() => sk.prune(t([4, 10]), { n: 2, m: 4 }), 'ERR_SK_SHAPE', 'w.dims')
    expectThrows(() => sk.prune(t([32]), { n: 2, m: 4 }), 'ERR_SK_SHAPE', 'w.dims')
    expectThrows(() => sk.prune(t([4, 8], 'int32'), { n: 2, m: 4 }), 'ERR_SK_DTYPE', 'w.type')
    expectThrows(
      () => sk.prune(t([4, 8]), undefined as unknown as sk.PruneOptions),
      'ERR_SK_INVALID_ARGUMENT',
      'options',
    )
    expectThrows(
      () => sk.prune(t([4, 8]), { n: 2, m: 4, k: 1 } as sk.PruneOptions),
      'ERR_SK_INVALID_ARGUMENT',
      'options',
    )
  })
  it('sparsify: K not a multiple of 4 (ERR_SK_SHAPE), unknown format (ERR_SK_UNSUPPORTED), wrong dtype, missing format', () => {
    expectThrows(() => sk.sparsify(t([4, 10]), { format: '2:4' }), 'ERR_SK_SHAPE', 'w.dims')
    expectThrows(() => sk.sparsify(t([4, 8], 'uint8'), { format: '2:4' }), 'ERR_SK_DTYPE', 'w.type')
    expectThrows(() => sk.sparsify(t([4, 8]), { format: 'bsr' as '2:4' }), 'ERR_SK_UNSUPPORTED', null)
    expectThrows(() => sk.sparsify(t([4, 8]), {} as sk.SparsifyOptions), 'ERR_SK_INVALID_ARGUMENT', 'options.format')
    expectThrows(
      () => sk.sparsify(t([4, 8]), undefined as unknown as sk.SparsifyOptions),
      'ERR_SK_INVALID_ARGUMENT',
      'options',
    )
  })
})

describe('the raw binding re-checks sizes and kinds (what memory safety depends on)', () => {
  const b = cpuBinding()
  const args = { wType: 0, format: 0, m: 2, n: 4, k: 8 }
  const f = (n: number) => new Float32Array(n)
  const rejects = (fn: () => unknown, code: string) => {
    let thrown: unknown
    try {
      fn()
    } catch (e) {
      thrown = e
    }
    expect((thrown as { code?: string })?.code).toBe(code)
  }
  it('linear: short or long arrays, wrong kinds, k not a multiple of 4 for 2:4, missing meta, bad sizes', () => {
    rejects(() => b.linear(f(15), f(32), null, null, f(8), args), 'ERR_SK_SHAPE')
    rejects(() => b.linear(f(16), f(31), null, null, f(8), args), 'ERR_SK_SHAPE')
    rejects(() => b.linear(f(16), f(32), null, null, f(9), args), 'ERR_SK_SHAPE')
    rejects(() => b.linear(f(16), f(32), null, f(3), f(8), args), 'ERR_SK_SHAPE')
    rejects(() => b.linear(f(16), new Uint16Array(32), null, null, f(8), args), 'ERR_SK_DTYPE')
    rejects(() => b.linear(f(16), f(32), null, null, f(8), { ...args, wType: 5 }), 'ERR_SK_DTYPE')
    rejects(() => b.linear(f(16), f(32), null, null, f(8), { ...args, m: -1 }), 'ERR_SK_SHAPE')
    rejects(() => b.linear(f(16), f(32), null, null, f(8), { ...args, format: 7 }), 'ERR_SK_UNSUPPORTED')
    // 2:4 [4, 8]: values [1, 2, 2, 8] (one panel of 8 rows) = 32 elements, meta [1, 2, 4] = 8 bytes
    const sp = { ...args, format: 1 }
    rejects(() => b.linear(f(16), f(32), null, null, f(8), sp), 'ERR_SK_INVALID_ARGUMENT')
    rejects(() => b.linear(f(16), f(32), new Uint8Array(7), null, f(8), sp), 'ERR_SK_SHAPE')
    rejects(() => b.linear(f(16), f(31), new Uint8Array(8), null, f(8), sp), 'ERR_SK_SHAPE')
    rejects(() => b.linear(f(16), f(16), new Uint8Array(4), null, f(8), sp), 'ERR_SK_SHAPE') // the old row-major sizes
    rejects(() => b.linear(f(12), f(12), new Uint8Array(4), null, f(8), { ...sp, k: 6 }), 'ERR_SK_SHAPE')
  })
  it('sp24: arrays that do not match rows × k, bad op, prune sizes', () => {
    // rows 2, k 8: values [1, 2, 2, 8] = 32 elements (the panel's padding rows included), meta 8 bytes
    rejects(() => b.sp24(1, { dtype: 0, rows: 2, k: 8 }, f(16), null, f(31), new Uint8Array(8)), 'ERR_SK_SHAPE')
    rejects(() => b.sp24(1, { dtype: 0, rows: 2, k: 8 }, f(16), null, f(32), new Uint8Array(7)), 'ERR_SK_SHAPE')
    rejects(() => b.sp24(1, { dtype: 0, rows: 2, k: 8 }, f(16), null, f(8), new Uint8Array(2)), 'ERR_SK_SHAPE') // the old row-major sizes
    rejects(() => b.sp24(2, { dtype: 0, rows: 2, k: 8 }, null, f(15), f(32), new Uint8Array(8)), 'ERR_SK_SHAPE')
    rejects(() => b.sp24(2, { dtype: 0, rows: 2, k: 8 }, null, f(16), f(8), new Uint8Array(2)), 'ERR_SK_SHAPE') // the old row-major sizes
    rejects(
      () => b.sp24(3 as 1, { dtype: 0, rows: 2, k: 8 }, f(16), null, f(32), new Uint8Array(8)),
      'ERR_SK_INVALID_ARGUMENT',
    )
    rejects(() => b.sp24(0, { dtype: 0, rows: 2, k: 8, n: 3, m: 2 }, f(16), f(16)), 'ERR_SK_INVALID_ARGUMENT')
    rejects(() => b.sp24(0, { dtype: 0, rows: 2, k: 9, n: 2, m: 4 }, f(18), f(18)), 'ERR_SK_SHAPE')
  })
})
