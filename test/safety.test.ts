// The safety model of docs/safety.md, case by case: buffers from another
// realm get the checks of their kind; look-alike objects are refused by a
// brand check; every error is a SparsekitError with a code, whatever the
// value received; argument errors are thrown at once and only failures while
// an op runs reject; mask builders check sizes before they allocate. The
// cases that can crash a process run in child processes (errors.test.ts).
import vm from 'node:vm'

import { describe, expect, it } from 'vitest'

import * as sk from '../lib/index.js'
import { describe as describeValue } from '../lib/errors.js'
import { expectThrows, expectThrowsContaining } from './fixtures/expect-errors.js'

const foreign = <T>(code: string): T => vm.runInNewContext(code) as T

describe('buffers and arrays from another realm (a vm context)', () => {
  it('a SharedArrayBuffer is refused', () => {
    const sab = foreign<SharedArrayBuffer>('new SharedArrayBuffer(16)')
    expectThrowsContaining(() => sk.tensor(new Float32Array(sab)), 'ERR_SK_INVALID_ARGUMENT', 'SharedArrayBuffer')
    expectThrowsContaining(
      () => sk.tensor(foreign<Float32Array>('new Float32Array(new SharedArrayBuffer(16))')),
      'ERR_SK_INVALID_ARGUMENT',
      'SharedArrayBuffer',
    )
  })

  it('a resizable ArrayBuffer and a growable SharedArrayBuffer are refused', () => {
    expectThrows(
      () => sk.tensor(foreign<Float32Array>('new Float32Array(new ArrayBuffer(16, { maxByteLength: 64 }))')),
      'ERR_SK_INVALID_ARGUMENT',
      'data',
    )
    expectThrows(
      () => sk.tensor(foreign<Float32Array>('new Float32Array(new SharedArrayBuffer(16, { maxByteLength: 64 }))')),
      'ERR_SK_INVALID_ARGUMENT',
      'data',
    )
  })

  it('a wrapped ArrayBuffer is marked untransferable: a transfer copies it, and the tensor keeps its memory', async () => {
    const ab = foreign<ArrayBuffer>('new ArrayBuffer(64)')
    using t = sk.tensor(new Float32Array(ab).fill(2))
    const copy = structuredClone(ab, { transfer: [ab] })
    expect(ab.byteLength).toBe(64)
    expect(copy.byteLength).toBe(64)
    using h = await t.cast('float16')
    expect(Array.from(h.data)).toEqual(new Array(16).fill(0x4000))
  })

  it('a foreign TypedArray is wrapped without a copy and typed by its kind', () => {
    const f = foreign<Float32Array>('new Float32Array([1, 2, 3])')
    using t = sk.tensor(f)
    expect(t.type).toBe('float32')
    expect(t.data).toBe(f)
    using h = sk.tensor(foreign<Uint16Array>('new Uint16Array(2)'))
    expect(h.type).toBe('float16')
    expectThrows(() => sk.tensor(foreign<Float64Array>('new Float64Array(2)')), 'ERR_SK_DTYPE', 'data')
    expectThrows(
      () => sk.tensor(foreign<DataView>('new DataView(new ArrayBuffer(8))')),
      'ERR_SK_INVALID_ARGUMENT',
      'data',
    )
  })

  it('own `buffer` and `length` properties of an array cannot hide its real buffer or size', () => {
    const shared = new Float32Array(new SharedArrayBuffer(16))
    Object.defineProperty(shared, 'buffer', { value: new ArrayBuffer(16) })
    expectThrowsContaining(() => sk.tensor(shared), 'ERR_SK_INVALID_ARGUMENT', 'SharedArrayBuffer')
    const short = new Float32Array(4)
    Object.defineProperty(short, 'length', { value: 1 << 20 })
    using t = sk.tensor(short)
    expect(t.size).toBe(4)
  })

  it('masks and permutations take foreign Uint8Array / Int32Array as their own kind', () => {
    const bits = foreign<Uint8Array>('new Uint8Array([1, 0, 1, 1])')
    const m = sk.BlockMask.fromDense(bits, [2, 2], { qLen: 32, kvLen: 32, blockSize: 16 })
    expect(Array.from(m.toDense().bits)).toEqual([1, 0, 1, 1])
    const perm = foreign<Int32Array>('new Int32Array([1, 0, 3, 2])')
    const p = sk.BlockMask.permutedCausal({ permutation: perm, dims: [1, 1, 4], headsQ: 1, qLen: 4, blockSize: 16 })
    expect(p.nKvBlocks).toBe(1)
  })
})

describe('every listed call fails with a coded SparsekitError', () => {
  const q = () => sk.zeros([1, 1, 16, 8])

  it('dtypeBytes of an unknown type → ERR_SK_DTYPE', () => {
    expectThrows(() => sk.dtypeBytes('float64' as sk.DType), 'ERR_SK_DTYPE', 'type')
  })

  it('permutedBlockAttention without v → ERR_SK_INVALID_ARGUMENT, at once', () => {
    const permutation = { indices: new Int32Array(16).map((_, i) => i), dims: [1, 1, 16] as [number, number, number] }
    expectThrows(
      () => sk.permutedBlockAttention(q(), q(), undefined as never, { permutation }),
      'ERR_SK_INVALID_ARGUMENT',
      'v',
    )
  })

  it('dims holding values whose message would throw to build → ERR_SK_SHAPE', () => {
    const detached = new Uint8Array(8)
    structuredClone(detached.buffer, { transfer: [detached.buffer] })
    const hostile = new Proxy(
      {},
      {
        get: () => {
          throw new Error('trap')
        },
        getPrototypeOf: () => {
          throw new Error('trap')
        },
      },
    )
    for (const bad of [Object.create(null), detached, hostile, Symbol('s'), 10n])
      expectThrows(() => sk.zeros([bad]), 'ERR_SK_SHAPE', 'dims')
  })

  it('look-alikes made with Object.create(X.prototype) are refused by a brand check', () => {
    const fakeTensor = Object.create(sk.Tensor.prototype) as sk.Tensor
    expectThrows(() => sk.attention(fakeTensor, q(), q()), 'ERR_SK_INVALID_ARGUMENT', 'q')
    expectThrows(() => sk.tensor(fakeTensor), 'ERR_SK_INVALID_ARGUMENT', 'data')
    expect(fakeTensor instanceof sk.Tensor).toBe(false)
    const fakeMask = Object.create(sk.BlockMask.prototype) as sk.BlockMask
    expectThrows(() => sk.attention(q(), q(), q(), { mask: fakeMask }), 'ERR_SK_INVALID_ARGUMENT', 'options.mask')
    const fakeWeight = Object.create(sk.SparseWeight.prototype) as sk.SparseWeight
    expectThrows(() => sk.linear(sk.zeros([1, 4]), fakeWeight), 'ERR_SK_INVALID_ARGUMENT', 'w')
    expectThrows(() => sk.conv1x1(sk.zeros([1, 4, 1, 1]), fakeWeight), 'ERR_SK_INVALID_ARGUMENT', 'w')
  })

  it("names of Object.prototype's members are no format or type: '__proto__', 'constructor', 'toString'", () => {
    for (const name of ['__proto__', 'constructor', 'toString']) {
      expectThrows(() => sk.sparsify(sk.zeros([4, 4]), { format: name as '2:4' }), 'ERR_SK_UNSUPPORTED', null)
      expectThrows(() => sk.tensor({ type: name, dims: [1], data: new Float32Array(1) }), 'ERR_SK_DTYPE', 'data.type')
    }
  })

  it('options are read from own properties, once: no inherited getter runs, what is checked is what is used', async () => {
    using t = sk.randn([2], Object.create(sk.Tensor.prototype) as sk.RandnOptions) // its getters are never read
    expect(t.type).toBe('float32')
    let reads = 0
    const opts = {
      blockSize: 16,
      get segmentSize() {
        return ++reads === 1 ? 32 : 7
      },
    }
    using q = sk.zeros([1, 1, 64, 8])
    const perm = await sk.segmentPermutation(q, q, opts)
    expect(reads).toBe(1)
    expect(perm.dims).toEqual([1, 1, 64])
  })

  it('describe() renders anything without throwing', () => {
    const detached = new Float32Array(4)
    structuredClone(detached.buffer, { transfer: [detached.buffer] })
    const revoked = Proxy.revocable({}, {})
    revoked.revoke()
    for (const v of [
      Object.create(null),
      detached,
      [detached, Object.create(null)],
      revoked.proxy,
      [revoked.proxy],
      Symbol('x'),
      1n,
      () => 1,
    ])
      expect(typeof describeValue(v)).toBe('string')
    expect(describeValue([2, -1])).toBe('[2, -1] (array)')
    expect(describeValue(new Float32Array(3))).toBe('Float32Array(3)')
  })
})

describe('argument errors are thrown at once; only failures while an op runs reject', () => {
  const x = () => sk.zeros([1, 4, 2, 2])
  const cases: [string, () => unknown, sk.ErrorCode][] = [
    ['t.cast to an unknown type', () => sk.zeros([2]).cast('float64' as sk.DType), 'ERR_SK_DTYPE'],
    [
      't.cast with an unknown option',
      () => sk.zeros([2]).cast('float16', { round: 1 } as never),
      'ERR_SK_INVALID_ARGUMENT',
    ],
    ['t.to an unknown device', () => sk.zeros([2]).to('gpu' as sk.DeviceName), 'ERR_SK_DEVICE'],
    [
      't.getData of a disposed tensor',
      () => {
        const t = sk.zeros([2])
        t.dispose()
        return t.getData()
      },
      'ERR_SK_DISPOSED',
    ],
    ['conv1x1 with a dense weight', () => sk.conv1x1(x(), sk.zeros([4, 4]) as never), 'ERR_SK_INVALID_ARGUMENT'],
    [
      'conv1x1 with a bad activation',
      () => sk.conv1x1(x(), null as never, null, { activation: 'gelu' as 'relu' }),
      'ERR_SK_INVALID_ARGUMENT',
    ],
    [
      "sparsify 'csr' with sparsity NaN",
      () => sk.sparsify(sk.zeros([4, 4]), { format: 'csr', sparsity: NaN }),
      'ERR_SK_INVALID_ARGUMENT',
    ],
    [
      "sparsify 'csr' of an int32 weight",
      () => sk.sparsify(sk.zeros([4, 4], 'int32'), { format: 'csr' }),
      'ERR_SK_DTYPE',
    ],
    [
      "sparsify '2:4' with K not a multiple of 4",
      () => sk.sparsify(sk.zeros([4, 6]), { format: '2:4' }),
      'ERR_SK_SHAPE',
    ],
    ['prune with n > m', () => sk.prune(sk.zeros([4, 4]), { n: 5, m: 4 }), 'ERR_SK_INVALID_ARGUMENT'],
    ['linear with mismatched K', () => sk.linear(sk.zeros([2, 3]), sk.zeros([4, 4])), 'ERR_SK_SHAPE'],
    ['attention with a 3-D q', () => sk.attention(sk.zeros([1, 16, 8]), q4(), q4()), 'ERR_SK_SHAPE'],
    [
      'estimateBlockMask with a bad stride',
      () => sk.estimateBlockMask(q4(), q4(), { stride: 0 }),
      'ERR_SK_INVALID_ARGUMENT',
    ],
    [
      'segmentPermutation with a bad segment',
      () => sk.segmentPermutation(q4(), q4(), { segmentSize: 7 }),
      'ERR_SK_INVALID_ARGUMENT',
    ],
    [
      'permutedAttention on a disposed k',
      () => {
        const k = q4()
        k.dispose()
        return sk.permutedAttention(q4(), k, q4())
      },
      'ERR_SK_DISPOSED',
    ],
  ]
  function q4(): sk.Tensor {
    return sk.zeros([1, 1, 16, 8])
  }
  for (const [what, call, code] of cases) it(`${what} → ${code}, thrown`, () => expectThrows(call, code, null))

  it('a 2:4 group with three non-zeros is found by the kernel: the Promise rejects', async () => {
    using w = sk.tensor([1, 1, 1, 0], [1, 4])
    const p = sk.sparsify(w, { format: '2:4' })
    expect(p).toBeInstanceOf(Promise)
    await expect(p).rejects.toMatchObject({ code: 'ERR_SK_INVALID_ARGUMENT' })
  })
})

describe('empty operands (null data pointers natively: the sanitizer stage checks the addon never passes them to memcpy)', () => {
  it("sparsify 'csr' with a sparsity of an empty weight, and its linear", async () => {
    for (const dims of [
      [0, 8],
      [3, 0],
      [0, 0],
    ]) {
      using w = sk.zeros(dims)
      using sw = await sk.sparsify(w, { format: 'csr', sparsity: 0.5 })
      expect(sw.nnz).toBe(0)
      using x = sk.zeros([2, dims[1]!])
      using y = await sk.linear(x, sw)
      expect(y.dims).toEqual([2, dims[0]])
    }
  })
})

describe('mask builders check the block count before they allocate or loop', () => {
  it('documents() of 2^31 − 2 tokens in 256-token blocks → ERR_SK_SHAPE at once', () => {
    const t0 = performance.now()
    expectThrows(
      () => sk.BlockMask.documents({ lengths: [2 ** 31 - 2], blockSize: 256 }),
      'ERR_SK_SHAPE',
      'qLen, kvLen and blockSize',
    )
    expectThrows(
      () => sk.BlockMask.documents({ prefix: 2 ** 29, lengths: [2 ** 29, 2 ** 29], query: 100, blockSize: 16 }),
      'ERR_SK_SHAPE',
      'qLen, kvLen and blockSize',
    )
    expect(performance.now() - t0).toBeLessThan(1000)
  })

  it('the other builders too: causal, fromBlocks, fromDense of too many blocks', () => {
    const t0 = performance.now()
    const huge = { qLen: 2 ** 31 - 1, kvLen: 2 ** 31 - 1, blockSize: 16 }
    expectThrows(() => sk.BlockMask.causal(huge), 'ERR_SK_SHAPE', 'qLen, kvLen and blockSize')
    expectThrows(() => sk.BlockMask.fromBlocks(() => true, huge), 'ERR_SK_SHAPE', 'qLen, kvLen and blockSize')
    const n = Math.ceil(huge.qLen / 16)
    expectThrows(
      () => sk.BlockMask.fromDense(new Uint8Array(4), [n, n], huge),
      'ERR_SK_SHAPE',
      'qLen, kvLen and blockSize',
    )
    expect(performance.now() - t0).toBeLessThan(1000)
  })
})
