// Interop by field names: an sk CPU tensor is an onnxruntime feed as it is, and
// onnxruntime / transformers.js / tfjs tensors are accepted by sk.tensor(),
// without a copy when the TypedArray already holds the type.
import { Tensor as OrtTensor } from 'onnxruntime-common'
import type * as OrtNode from 'onnxruntime-node'
import { afterEach, describe, expect, it } from 'vitest'

import * as sk from '../lib/index.js'
import { addModel, identityModel, matmulModel, type OnnxTypeName } from './fixtures/onnx-model.js'
import { loadOrt } from './fixtures/ort.js'

const ort = await loadOrt()

const made: sk.Tensor[] = []
/** Tracks a tensor so afterEach disposes it. */
function keep<T extends sk.Tensor>(t: T): T {
  made.push(t)
  return t
}
afterEach(() => {
  for (const t of made.splice(0)) t.dispose()
})

function expectSkError(fn: () => unknown, code: sk.ErrorCode): sk.SparsekitError {
  let caught: unknown
  try {
    fn()
  } catch (err) {
    caught = err
  }
  expect(caught).toBeInstanceOf(sk.SparsekitError)
  expect((caught as sk.SparsekitError).code).toBe(code)
  return caught as sk.SparsekitError
}

describe.skipIf(!ort)('an sk tensor fed to an onnxruntime-node session as it is', () => {
  it('Add, float32 [2, 3]: ORT reads the sk tensors directly and adds them', async () => {
    const session = await ort!.InferenceSession.create(addModel('float32', [2, 3]))
    const x = keep(sk.tensor([1, 2, 3, 4, 5, 6], [2, 3]))
    const y = keep(sk.randn([2, 3], { seed: 7 }))
    const { z } = await session.run({ x, y } as unknown as OrtNode.InferenceSession.FeedsType)
    expect(z.dims).toEqual([2, 3])
    expect(z.type).toBe('float32')
    // float32 + float32 rounded once: exactly what Math.fround gives.
    const want = Array.from(x.data as Float32Array, (v, i) => Math.fround(v + (y.data as Float32Array)[i]))
    expect(Array.from(z.data as Float32Array)).toEqual(want)
    await session.release()
  })

  it('MatMul, float32 [3, 4]·[4, 2]: within 1e-5 relative of a float64 reference', async () => {
    const [m, k, n] = [3, 4, 2]
    const session = await ort!.InferenceSession.create(matmulModel(m, k, n))
    const a = keep(sk.randn([m, k], { seed: 1 }))
    const b = keep(sk.randn([k, n], { seed: 2 }))
    const { c } = await session.run({ a, b } as unknown as OrtNode.InferenceSession.FeedsType)
    const A = a.data as Float32Array
    const B = b.data as Float32Array
    const C = c.data as Float32Array
    let maxRef = 0
    let maxErr = 0
    for (let i = 0; i < m; ++i)
      for (let j = 0; j < n; ++j) {
        let acc = 0
        for (let p = 0; p < k; ++p) acc += A[i * k + p] * B[p * n + j]
        maxRef = Math.max(maxRef, Math.abs(acc))
        maxErr = Math.max(maxErr, Math.abs(C[i * n + j] - acc))
      }
    expect(Number.isNaN(maxErr)).toBe(false)
    expect(maxErr / maxRef).toBeLessThan(1e-5)
    await session.release()
  })

  // Every sk dtype that onnxruntime-common also names: the bits come back unchanged.
  const shared: { type: OnnxTypeName; values: number[] }[] = [
    { type: 'float32', values: [0.5, -2, 3.25, 1e-3] },
    { type: 'float16', values: [1, -0.5, 65504, 6e-5] },
    { type: 'int8', values: [-128, -1, 0, 127] },
    { type: 'uint8', values: [0, 1, 128, 255] },
    { type: 'int32', values: [-2147483648, -1, 0, 2147483647] },
  ]
  for (const { type, values } of shared) {
    it(`Identity, ${type}: the output bits equal the sk tensor's`, async () => {
      const session = await ort!.InferenceSession.create(identityModel(type, [2, 2]))
      const x = keep(sk.tensor(values, [2, 2], type))
      const { y } = await session.run({ x } as unknown as OrtNode.InferenceSession.FeedsType)
      expect(y.type).toBe(type)
      expect(y.dims).toEqual([2, 2])
      expect(y.data.constructor).toBe(x.data.constructor)
      expect(Array.from(y.data as ArrayLike<number>)).toEqual(Array.from(x.data))
      await session.release()
    })
  }

  it('an sk cast output (sparsekit-owned memory) is also a valid feed', async () => {
    const session = await ort!.InferenceSession.create(identityModel('float16', [4]))
    const x32 = keep(sk.tensor([1, 2, 3, 4]))
    const x = keep(await x32.cast('float16'))
    const { y } = await session.run({ x } as unknown as OrtNode.InferenceSession.FeedsType)
    expect(Array.from(y.data as Uint16Array)).toEqual([0x3c00, 0x4000, 0x4200, 0x4400])
    await session.release()
  })
})

describe('sk.tensor accepts foreign tensors', () => {
  it('an ort.Tensor: zero-copy, same type and dims', () => {
    const data = new Float32Array([1, 2, 3, 4, 5, 6])
    const o = new OrtTensor('float32', data, [3, 2])
    const t = keep(sk.tensor(o))
    expect(t.type).toBe('float32')
    expect(t.dims).toEqual([3, 2])
    expect(t.size).toBe(6)
    expect(t.data).toBe(data)
    data[0] = 42
    expect(t.data[0]).toBe(42)
  })

  it('ort.Tensor of every shared type keeps its TypedArray', () => {
    const cases: [OrtTensor, sk.DType][] = [
      [new OrtTensor('float16', new Uint16Array([0x3c00, 0]), [2]), 'float16'],
      [new OrtTensor('int8', new Int8Array([-1, 1]), [2]), 'int8'],
      [new OrtTensor('uint8', new Uint8Array([1, 2]), [2]), 'uint8'],
      [new OrtTensor('int32', new Int32Array([7, 8]), [2]), 'int32'],
      [new OrtTensor('bool', new Uint8Array([1, 0]), [2]), 'uint8'],
    ]
    for (const [o, type] of cases) {
      const t = keep(sk.tensor(o))
      expect(t.type).toBe(type)
      expect(t.data).toBe(o.data)
    }
  })

  it('a round trip sk → ORT → sk shares one buffer', () => {
    const s = keep(sk.tensor(new Int32Array([1, 2, 3, 4]), [2, 2]))
    const o = new OrtTensor('int32', s.data as Int32Array, s.dims)
    const back = keep(sk.tensor(o))
    expect(back.data).toBe(s.data)
    expect(back.dims).toEqual([2, 2])
  })

  it('an ort.Tensor of a type sk lacks (int64, float64) → ERR_SK_DTYPE', () => {
    expectSkError(() => sk.tensor(new OrtTensor('int64', new BigInt64Array(2), [2])), 'ERR_SK_DTYPE')
    expectSkError(() => sk.tensor(new OrtTensor('float64', new Float64Array(2), [2])), 'ERR_SK_DTYPE')
  })

  it('a transformers.js-shaped plain object { type, dims, data, size, location: "cpu" }', () => {
    const data = new Float32Array([1, 2, 3, 4, 5, 6])
    const hfTensor = { type: 'float32', dims: [1, 2, 3], data, size: 6, location: 'cpu' }
    const t = keep(sk.tensor(hfTensor))
    expect(t.dims).toEqual([1, 2, 3])
    expect(t.data).toBe(data)
  })

  it('a transformers.js-shaped float16 tensor: Uint16Array bits', () => {
    const data = new Uint16Array([0x3c00, 0xc000])
    const hfTensor = { type: 'float16', dims: [2], data, size: 2, location: 'cpu' }
    const t = keep(sk.tensor(hfTensor))
    expect(t.type).toBe('float16')
    expect(t.data).toBe(data)
  })

  it('a tfjs-shaped object: dtype, shape, async data() and dataSync()', () => {
    const values = new Float32Array([1, 2, 3, 4])
    const tf = {
      dtype: 'float32',
      shape: [2, 2],
      size: 4,
      rank: 2,
      data: async () => values,
      dataSync: () => values,
    }
    const t = keep(sk.tensor(tf))
    expect(t.type).toBe('float32')
    expect(t.dims).toEqual([2, 2])
    expect(t.data).toBe(values)
  })

  it("tfjs 'bool' → uint8, 'int32' → int32", () => {
    const bools = new Uint8Array([1, 0, 0, 1])
    const b = keep(sk.tensor({ dtype: 'bool', shape: [4], data: async () => bools, dataSync: () => bools }))
    expect(b.type).toBe('uint8')
    expect(b.data).toBe(bools)
    const ints = new Int32Array([5, -5])
    const i = keep(sk.tensor({ dtype: 'int32', shape: [1, 2], data: async () => ints, dataSync: () => ints }))
    expect(i.type).toBe('int32')
    expect(i.dims).toEqual([1, 2])
  })

  it('explicit dims override the foreign shape; a mismatching explicit type is refused', () => {
    const o = new OrtTensor('float32', new Float32Array(6), [2, 3])
    expect(keep(sk.tensor(o, [6])).dims).toEqual([6])
    expectSkError(() => sk.tensor(o, [4]), 'ERR_SK_SHAPE')
    expectSkError(() => sk.tensor(o, undefined, 'float16'), 'ERR_SK_DTYPE')
  })

  it('foreign data of the wrong TypedArray kind → ERR_SK_DTYPE', () => {
    expectSkError(() => sk.tensor({ type: 'float16', dims: [2], data: new Float32Array(2) }), 'ERR_SK_DTYPE')
    expectSkError(
      () => sk.tensor({ dtype: 'int32', shape: [2], dataSync: () => new Float32Array(2), data: async () => 0 }),
      'ERR_SK_DTYPE',
    )
  })

  it('foreign dims that do not match the data → ERR_SK_SHAPE', () => {
    expectSkError(() => sk.tensor({ type: 'float32', dims: [3], data: new Float32Array(2) }), 'ERR_SK_SHAPE')
    expectSkError(() => sk.tensor({ type: 'float32', dims: [-2], data: new Float32Array(2) }), 'ERR_SK_SHAPE')
  })

  it('a foreign tensor without data → ERR_SK_INVALID_ARGUMENT', () => {
    expectSkError(() => sk.tensor({ type: 'float32', dims: [2] }), 'ERR_SK_INVALID_ARGUMENT')
    expectSkError(
      () => sk.tensor({ dtype: 'float32', shape: [2], data: async () => new Float32Array(2) }),
      'ERR_SK_INVALID_ARGUMENT',
    )
  })

  for (const location of ['gpu-buffer', 'texture', 'ml-tensor', 'cuda']) {
    it(`a foreign tensor with location '${location}' → ERR_SK_DEVICE`, () => {
      const err = expectSkError(
        () => sk.tensor({ type: 'float32', dims: [2], data: new Float32Array(2), location }),
        'ERR_SK_DEVICE',
      )
      expect(err.message).toContain(location)
    })
  }

  it("location 'cpu-pinned' is host memory and is accepted", () => {
    const data = new Float32Array(2)
    expect(keep(sk.tensor({ type: 'float32', dims: [2], data, location: 'cpu-pinned' })).data).toBe(data)
  })

  it('a disposed sk tensor passed to sk.tensor → ERR_SK_DISPOSED', () => {
    const t = sk.tensor([1, 2])
    t.dispose()
    expectSkError(() => sk.tensor(t), 'ERR_SK_DISPOSED')
  })
})
