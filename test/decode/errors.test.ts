// Bad input to KVCache and decodeAttention: a SparsekitError with a stable
// code, thrown synchronously before any work is queued, and the cache left as
// it was. The binding's own checks (what memory safety depends on) are hit
// directly too, past the TypeScript layer.
import { afterEach, describe, expect, it } from 'vitest'

import * as sk from '../../lib/index.js'
import { cpuBinding } from '../../lib/native.js'
import { expectThrows, expectThrowsContaining } from '../fixtures/expect-errors.js'

const made: { dispose(): void }[] = []
const keep = <T extends { dispose(): void }>(x: T): T => (made.push(x), x)
afterEach(() => {
  for (const x of made.splice(0)) x.dispose()
})

const geo = { batch: 2, kvHeads: 2, headDim: 32, pageSize: 16 }
const kv = (T: number, type: sk.DType = 'float32', dims = [2, 2, T, 32]) =>
  keep(type === 'int8' || type === 'int32' ? sk.zeros(dims, type) : sk.randn(dims, { type, seed: T + 1 }))

async function filled(T = 20, options: Partial<sk.KVCacheOptions> = {}): Promise<sk.KVCache> {
  const cache = keep(await sk.KVCache.create({ ...geo, ...options }))
  await cache.append(kv(T), kv(T))
  return cache
}

describe('KVCache.create: bad options', () => {
  it('sizes, types and page sizes', () => {
    const create = (o: object) => () => sk.KVCache.create({ ...geo, ...o } as sk.KVCacheOptions)
    expectThrows(() => sk.KVCache.create(undefined as never), 'ERR_SK_INVALID_ARGUMENT', 'options')
    expectThrows(create({ batch: 0 }), 'ERR_SK_SHAPE', 'options.batch')
    expectThrows(create({ kvHeads: 1.5 }), 'ERR_SK_SHAPE', 'options.kvHeads')
    expectThrows(create({ headDim: 40 }), 'ERR_SK_SHAPE', 'options.headDim')
    expectThrows(create({ headDim: 512 }), 'ERR_SK_SHAPE', 'options.headDim')
    for (const pageSize of [8, 24, 256, '16'])
      expectThrows(create({ pageSize }), 'ERR_SK_INVALID_ARGUMENT', 'options.pageSize')
    expectThrows(create({ type: 'int8' }), 'ERR_SK_DTYPE', 'options.type')
    expectThrows(create({ type: 'float8e5m2' }), 'ERR_SK_DTYPE', 'options.type')
    expectThrows(create({ maxPages: 0 }), 'ERR_SK_INVALID_ARGUMENT', 'options.maxPages')
    expectThrows(create({ colour: 'red' }), 'ERR_SK_INVALID_ARGUMENT', 'options')
    expectThrows(create({ device: 'tpu' }), 'ERR_SK_DEVICE', 'options.device')
  })
})

describe('KVCache.append: bad input', () => {
  it('dims, types and lengths that do not fit the cache', async () => {
    const cache = keep(await sk.KVCache.create(geo))
    expectThrows(() => cache.append(kv(4, 'float32', [2, 2, 4, 16]), kv(4)), 'ERR_SK_SHAPE', 'k.dims')
    expectThrows(() => cache.append(kv(4, 'float32', [1, 2, 4, 32]), kv(4)), 'ERR_SK_SHAPE', 'k.dims')
    expectThrows(() => cache.append(kv(4), kv(5)), 'ERR_SK_SHAPE', 'v.dims')
    expectThrows(() => cache.append(kv(4, 'int8'), kv(4)), 'ERR_SK_DTYPE', 'k.type')
    expectThrows(() => cache.append(kv(4), kv(4, 'bfloat16')), 'ERR_SK_DTYPE', 'v.type')
    expectThrows(() => cache.append(kv(4), kv(4), { lengths: [4] }), 'ERR_SK_INVALID_ARGUMENT', 'options.lengths')
    expectThrows(() => cache.append(kv(4), kv(4), { lengths: [5, 0] }), 'ERR_SK_INVALID_ARGUMENT', 'options.lengths[0]')
    expectThrows(
      () => cache.append(kv(4), kv(4), { lengths: [1, -1] }),
      'ERR_SK_INVALID_ARGUMENT',
      'options.lengths[1]',
    )
    expectThrows(() => cache.append({} as sk.Tensor, kv(4)), 'ERR_SK_INVALID_ARGUMENT', 'k')
    expect(cache.lengths).toEqual([0, 0])
  })

  it('an append past maxPages fails at once with ERR_SK_OUT_OF_MEMORY and changes nothing', async () => {
    const cache = keep(await sk.KVCache.create({ ...geo, maxPages: 5 }))
    await cache.append(kv(20), kv(20)) // 2 pages per sequence
    const before = cache.memory
    expectThrowsContaining(() => cache.append(kv(20), kv(20)), 'ERR_SK_OUT_OF_MEMORY', 'maxPages')
    expect(cache.lengths).toEqual([20, 20])
    expect(cache.memory).toEqual(before)
    await cache.append(kv(13), kv(13), { lengths: [13, 0] }) // a third page for sequence 0: 5 pages
    expect(cache.memory.pages).toBe(5)
    expect(cache.lengths).toEqual([33, 20])
    await cache.append(kv(12), kv(12), { lengths: [0, 12] }) // sequence 1 fills its second page
    expectThrows(() => cache.append(kv(1), kv(1), { lengths: [0, 1] }), 'ERR_SK_OUT_OF_MEMORY', null)
  })

  it('a disposed cache or tensor: ERR_SK_DISPOSED', async () => {
    const cache = await sk.KVCache.create(geo)
    const k = kv(3)
    cache.dispose()
    cache.dispose() // idempotent
    expect(cache.disposed).toBe(true)
    expectThrows(() => cache.append(k, kv(3)), 'ERR_SK_DISPOSED', null)
    expectThrows(() => cache.memory, 'ERR_SK_DISPOSED', null)
    expectThrows(() => sk.decodeAttention(keep(sk.randn([2, 2, 1, 32])), cache), 'ERR_SK_DISPOSED', null)
    const live = keep(await sk.KVCache.create(geo))
    const gone = sk.randn([2, 2, 3, 32])
    gone.dispose()
    expectThrows(() => live.append(gone, kv(3)), 'ERR_SK_DISPOSED', null)
  })
})

describe('decodeAttention: bad input', () => {
  it('q that does not fit the cache', async () => {
    const cache = await filled(6)
    const q = (dims: number[], type: sk.DType = 'float32') => kv(0, type, dims)
    expectThrows(() => sk.decodeAttention(q([2, 4, 1, 16]), cache), 'ERR_SK_SHAPE', 'q.dims')
    expectThrows(() => sk.decodeAttention(q([1, 4, 1, 32]), cache), 'ERR_SK_SHAPE', 'q.dims')
    expectThrows(() => sk.decodeAttention(q([2, 3, 1, 32]), cache), 'ERR_SK_SHAPE', 'q.dims')
    expectThrows(() => sk.decodeAttention(q([2, 4, 7, 32]), cache), 'ERR_SK_SHAPE', 'q.dims') // Tq above the length
    expectThrows(() => sk.decodeAttention(q([2, 4, 0, 32]), cache), 'ERR_SK_SHAPE', 'q.dims')
    expectThrows(() => sk.decodeAttention(q([2, 4, 1, 32], 'int32'), cache), 'ERR_SK_DTYPE', 'q.type')
    expectThrows(() => sk.decodeAttention(q([2, 4, 1, 32]), {} as sk.KVCache), 'ERR_SK_INVALID_ARGUMENT', 'cache')
    const big = await filled(20)
    expectThrows(() => sk.decodeAttention(q([2, 4, 9, 32]), big), 'ERR_SK_SHAPE', 'q.dims') // Tq above 8
    const empty = keep(await sk.KVCache.create(geo))
    expectThrows(() => sk.decodeAttention(q([2, 4, 1, 32]), empty), 'ERR_SK_SHAPE', 'q.dims')
  })

  it('bad options: a Quest budget below one page, streaming flags, scale', async () => {
    const cache = await filled(40)
    const q = keep(sk.randn([2, 4, 1, 32]))
    const call = (options: object) => () => sk.decodeAttention(q, cache, options as sk.DecodeOptions)
    expectThrows(call({ select: { method: 'quest', budget: 15 } }), 'ERR_SK_INVALID_ARGUMENT', 'options.select.budget')
    expectThrows(call({ select: { method: 'quest' } }), 'ERR_SK_INVALID_ARGUMENT', 'options.select.budget')
    expectThrows(
      call({ select: { method: 'quest', budget: 32.5 } }),
      'ERR_SK_INVALID_ARGUMENT',
      'options.select.budget',
    )
    expectThrows(
      call({ select: { method: 'quest', budget: 32, reuse: 0 } }),
      'ERR_SK_INVALID_ARGUMENT',
      'options.select.reuse',
    )
    expectThrows(
      call({ select: { method: 'quest', budget: 32, sink: -1 } }),
      'ERR_SK_INVALID_ARGUMENT',
      'options.select.sink',
    )
    expectThrows(
      call({ select: { method: 'quest', budget: 32, when: 1 } }),
      'ERR_SK_INVALID_ARGUMENT',
      'options.select',
    )
    expectThrows(call({ select: 'sparse' }), 'ERR_SK_INVALID_ARGUMENT', 'options.select')
    expectThrows(call({ streamingHeads: [1] }), 'ERR_SK_INVALID_ARGUMENT', 'options.streamingHeads')
    expectThrows(call({ streamingHeads: [1, 2] }), 'ERR_SK_INVALID_ARGUMENT', 'options.streamingHeads[1]')
    expectThrows(
      call({ streamingHeads: { heads: [1, 0], recent: -3 } }),
      'ERR_SK_INVALID_ARGUMENT',
      'options.streamingHeads.recent',
    )
    expectThrows(call({ scale: 0 }), 'ERR_SK_INVALID_ARGUMENT', 'options.scale')
    expectThrows(call({ scale: Infinity }), 'ERR_SK_INVALID_ARGUMENT', 'options.scale')
    expectThrows(call({ returnLse: 1 }), 'ERR_SK_INVALID_ARGUMENT', 'options.returnLse')
    expectThrows(call({ layout: 'bshd' }), 'ERR_SK_INVALID_ARGUMENT', 'options')
  })
})

describe('the CPU binding checks again what memory safety depends on', () => {
  const b = cpuBinding()
  const create = () => b.kvCreate({ type: 2, batch: 1, kvHeads: 1, headDim: 16, pageSize: 16, maxPages: 100 })
  const appendArgs = {
    inType: 0,
    seq: 4,
    kStrides: [64, 64, 16] as [number, number, number],
    vStrides: [64, 64, 16] as [number, number, number],
  }
  const code = (fn: () => unknown) => {
    try {
      const r = fn() as Promise<unknown> | undefined
      r?.catch?.(() => undefined)
      return 'returned'
    } catch (e) {
      return (e as { code?: string }).code
    }
  }

  it('create, append and decode arguments', async () => {
    expect(code(() => b.kvCreate({ type: 5, batch: 1, kvHeads: 1, headDim: 16, pageSize: 16, maxPages: 1 }))).toBe(
      'ERR_SK_DTYPE',
    )
    expect(code(() => b.kvCreate({ type: 0, batch: 1, kvHeads: 1, headDim: 17, pageSize: 16, maxPages: 1 }))).toBe(
      'ERR_SK_SHAPE',
    )
    expect(code(() => b.kvCreate({ type: 0, batch: 1, kvHeads: 1, headDim: 16, pageSize: 20, maxPages: 1 }))).toBe(
      'ERR_SK_INVALID_ARGUMENT',
    )
    const cache = create()
    const rows = new Float32Array(64)
    expect(code(() => b.kvAppend({} as never, rows, rows, new Int32Array([4]), appendArgs))).toBe(
      'ERR_SK_INVALID_ARGUMENT',
    )
    expect(code(() => b.kvAppend(cache, rows, rows, new Int32Array([5]), appendArgs))).toBe('ERR_SK_INVALID_ARGUMENT')
    expect(code(() => b.kvAppend(cache, rows, rows, new Int32Array([4, 4]), appendArgs))).toBe('ERR_SK_SHAPE')
    expect(code(() => b.kvAppend(cache, new Float32Array(63), rows, new Int32Array([4]), appendArgs))).toBe(
      'ERR_SK_SHAPE',
    )
    expect(code(() => b.kvAppend(cache, rows, rows, new Int32Array([4]), { ...appendArgs, inType: 7 }))).toBe(
      'ERR_SK_DTYPE',
    )
    await b.kvAppend(cache, rows, rows, new Int32Array([4]), appendArgs)
    const args = {
      qType: 0,
      headsQ: 2,
      seqQ: 1,
      qStrides: [32, 16, 16] as [number, number, number],
      outStrides: [32, 16, 16] as [number, number, number],
      scale: 0.25,
      method: 1 as const,
      budget: 1,
      sink: 0,
      recent: 16,
      reuse: 1,
      streamingSink: 0,
      streamingRecent: 0,
    }
    const q = new Float32Array(32)
    expect(code(() => b.kvDecode(cache, q, new Float32Array(31), null, null, null, null, args))).toBe('ERR_SK_SHAPE')
    expect(code(() => b.kvDecode(cache, q, q.slice(), new Float32Array(1), null, null, null, args))).toBe(
      'ERR_SK_SHAPE',
    )
    expect(code(() => b.kvDecode(cache, q, q.slice(), null, new Int32Array(0), null, null, args))).toBe('ERR_SK_SHAPE')
    expect(code(() => b.kvDecode(cache, q, q.slice(), null, null, null, new Uint8Array(2), args))).toBe('ERR_SK_SHAPE')
    expect(code(() => b.kvDecode(cache, q, q.slice(), null, null, null, null, { ...args, seqQ: 5 }))).toBe(
      'ERR_SK_SHAPE',
    )
    expect(code(() => b.kvDecode(cache, q, q.slice(), null, null, null, null, { ...args, budget: 0 }))).toBe(
      'ERR_SK_INVALID_ARGUMENT',
    )
    expect(code(() => b.kvDecode(cache, q, q.slice(), null, null, null, null, { ...args, headsQ: 3 }))).toBe(
      'ERR_SK_SHAPE',
    )
    await b.kvDecode(cache, q, q.slice(), null, null, null, null, args)
    b.kvRelease(cache)
    expect(code(() => b.kvStats(cache))).toBe('ERR_SK_DISPOSED')
    expect(code(() => b.kvDecode(cache, q, q.slice(), null, null, null, null, args))).toBe('ERR_SK_DISPOSED')
  })

  it('a cache disposed while its work is queued finishes that work', async () => {
    const cache = keep(await sk.KVCache.create({ ...geo, type: 'float8e4m3fn' }))
    const pending = cache.append(kv(300), kv(300))
    const q = keep(sk.randn([2, 4, 1, 32]))
    const out = sk.decodeAttention(q, cache)
    cache.dispose()
    await pending
    const o = keep(await out)
    expect((o.data as Float32Array).every(Number.isFinite)).toBe(true)
  })
})
