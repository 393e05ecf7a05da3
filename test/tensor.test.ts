// Tensors: creation (zero-copy wrap, number arrays, zeros, randn).
import { spawnSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { fileURLToPath } from 'node:url'

import { describe, expect, it } from 'vitest'

import * as sk from '../lib/index.js'
import { f16ToNumber, kFloatTypes, keep, kStorage } from './fixtures/tensors.js'

describe('sk.tensor from a TypedArray: zero-copy', () => {
  for (const type of sk.DTYPES) {
    it(`${type} in a ${kStorage[type].name}: same array, same buffer, mutations visible`, () => {
      const src = new kStorage[type](6)
      const t = keep(sk.tensor(src as sk.TensorData, [2, 3], type))
      expect(t.type).toBe(type)
      expect(t.data).toBe(src)
      expect(t.data.buffer).toBe(src.buffer)
      ;(src as unknown as number[])[4] = 7
      expect(t.data[4]).toBe(7)
      expect(t.size).toBe(6)
      expect(t.location).toBe('cpu')
      expect(t.device).toBe('cpu')
    })
  }

  it('the type defaults from the array kind (Uint16Array → float16, Uint8Array → uint8)', () => {
    expect(keep(sk.tensor(new Float32Array(1))).type).toBe('float32')
    expect(keep(sk.tensor(new Uint16Array(1))).type).toBe('float16')
    expect(keep(sk.tensor(new Uint8Array(1))).type).toBe('uint8')
    expect(keep(sk.tensor(new Int8Array(1))).type).toBe('int8')
    expect(keep(sk.tensor(new Int32Array(1))).type).toBe('int32')
  })

  it('dims default to [length]; [] is a scalar of one element; dims are a frozen copy', () => {
    expect(keep(sk.tensor(new Float32Array(5))).dims).toEqual([5])
    const s = keep(sk.tensor(new Float32Array([3]), []))
    expect(s.dims).toEqual([])
    expect(s.size).toBe(1)
    const dims = [2, 2]
    const t = keep(sk.tensor(new Float32Array(4), dims))
    dims[0] = 4
    expect(t.dims).toEqual([2, 2])
    expect(Object.isFrozen(t.dims)).toBe(true)
  })

  it('a subarray with a byte offset is wrapped in place and cast from its offset', async () => {
    const whole = new Float32Array([9, 9, 1, 2, 3, 4, 9, 9])
    const view = whole.subarray(2, 6)
    const t = keep(sk.tensor(view, [2, 2]))
    expect(t.data.byteOffset).toBe(8)
    const i = keep(await t.cast('int32'))
    expect(Array.from(i.data)).toEqual([1, 2, 3, 4])
  })

  it('an empty array: size 0, any dims whose product is 0', () => {
    const t = keep(sk.tensor(new Float32Array(0), [3, 0]))
    expect(t.size).toBe(0)
    expect(t.dims).toEqual([3, 0])
  })
})

describe('sk.tensor from numbers: a copy, rounded once to the type', () => {
  it('float32 by default, values exact in float32', () => {
    const t = keep(sk.tensor([1, -2.5, 3]))
    expect(t.type).toBe('float32')
    expect(t.dims).toEqual([3])
    expect(t.data).toBeInstanceOf(Float32Array)
    expect(Array.from(t.data)).toEqual([1, -2.5, 3])
    expect(keep(sk.tensor([0.1])).data[0]).toBe(Math.fround(0.1))
  })

  // Bits worked out by hand from each format's definition (round to nearest
  // even; float16/bfloat16 overflow to Inf; FP8 saturates, as cast's default).
  const rounded: [sk.DType, number[], number[]][] = [
    ['float16', [1 / 3, 0.1, 65504, 65520, -0, 6e-8, 1e-8], [0x3555, 0x2e66, 0x7bff, 0x7c00, 0x8000, 0x0001, 0x0000]],
    ['bfloat16', [1 / 3, 1, 0.1, -2, 3.4e38], [0x3eab, 0x3f80, 0x3dcd, 0xc000, 0x7f80]],
    ['float8e4m3fn', [1 / 3, 1, -1, 0.5, 448, 1000], [0x2b, 0x38, 0xb8, 0x30, 0x7e, 0x7e]],
    ['float8e5m2', [1 / 3, 1, -2, 57344, 1e6], [0x35, 0x3c, 0xc0, 0x7b, 0x7b]],
  ]
  for (const [type, values, bits] of rounded) {
    it(`${type}: ${values.length} values round to the expected bits`, () => {
      const t = keep(sk.tensor(values, [values.length], type))
      expect(t.data).toBeInstanceOf(kStorage[type])
      expect(Array.from(t.data)).toEqual(bits)
    })
  }

  it('float16 from numbers decodes to the nearest float16 (checked over 2000 values)', () => {
    const values = Array.from({ length: 2000 }, (_, i) => (i - 1000) * 0.0371 + 1e-3)
    const t = keep(sk.tensor(values, undefined, 'float16'))
    for (let i = 0; i < values.length; ++i) {
      const got = f16ToNumber(t.data[i])
      // A float16 in [2^-14, 65504] has a relative spacing of at most 2^-10.
      expect(Math.abs(got - values[i])).toBeLessThanOrEqual(Math.abs(values[i]) * 2 ** -11 + 2 ** -25)
    }
  })

  it('number arrays round exactly as cast() does, for every float type', async () => {
    const values = [0.3, -7.77, 123.456, 1e-5, -0.0625]
    const f32 = keep(sk.tensor(values))
    for (const type of kFloatTypes) {
      const direct = keep(sk.tensor(values, undefined, type))
      const casted = keep(await f32.cast(type))
      expect(Array.from(direct.data), type).toEqual(Array.from(casted.data))
    }
  })

  it('integer types take in-range integers exactly', () => {
    expect(Array.from(keep(sk.tensor([-128, 0, 127], [3], 'int8')).data)).toEqual([-128, 0, 127])
    expect(Array.from(keep(sk.tensor([0, 255], [2], 'uint8')).data)).toEqual([0, 255])
    expect(Array.from(keep(sk.tensor([-(2 ** 31), 2 ** 31 - 1], [2], 'int32')).data)).toEqual([-(2 ** 31), 2 ** 31 - 1])
    expect(keep(sk.tensor([1, 2, 3, 4, 5, 6], [3, 2], 'int32')).dims).toEqual([3, 2])
  })

  it('a number array is copied: changing it later does not change the tensor', () => {
    const values = [1, 2]
    const t = keep(sk.tensor(values))
    values[0] = 100
    expect(t.data[0]).toBe(1)
  })
})

describe('sk.zeros', () => {
  for (const type of sk.DTYPES) {
    it(`${type}: every element is 0, storage ${kStorage[type].name}`, () => {
      const t = keep(sk.zeros([3, 5, 7], type))
      expect(t.type).toBe(type)
      expect(t.dims).toEqual([3, 5, 7])
      expect(t.size).toBe(105)
      expect(t.data).toBeInstanceOf(kStorage[type])
      expect(t.data.length).toBe(105)
      expect(Array.from(t.data).every((v) => v === 0)).toBe(true)
    })
  }

  it("defaults to float32 on 'cpu'", () => {
    const t = keep(sk.zeros([2]))
    expect(t.type).toBe('float32')
    expect(t.device).toBe('cpu')
  })

  it('data is 64-byte aligned native memory', () => {
    const t = keep(sk.zeros([33], 'uint8'))
    expect(t.data.byteOffset).toBe(0)
    // The block is sparsekit's: it counts in nativeBytes (see the memory tests).
  })
})

describe('sk.randn', () => {
  it('the same seed gives the same bits; another seed gives other values', () => {
    const a = keep(sk.randn([4096], { seed: 42 }))
    const b = keep(sk.randn([4096], { seed: 42 }))
    const c = keep(sk.randn([4096], { seed: 43 }))
    expect(Buffer.from(a.data.buffer, 0, 4096 * 4).equals(Buffer.from(b.data.buffer, 0, 4096 * 4))).toBe(true)
    let same = 0
    for (let i = 0; i < 4096; ++i) if (a.data[i] === c.data[i]) same += 1
    expect(same).toBeLessThan(10)
  })

  it('the default seed is 0 and the default type float32', () => {
    const a = keep(sk.randn([64]))
    const b = keep(sk.randn([64], { seed: 0 }))
    expect(a.type).toBe('float32')
    expect(Array.from(a.data)).toEqual(Array.from(b.data))
  })

  it('a prefix of a longer draw is the shorter draw (sample i depends only on seed and i)', () => {
    const short = keep(sk.randn([101], { seed: 5 }))
    const long = keep(sk.randn([1000], { seed: 5 }))
    expect(Array.from(long.data.subarray(0, 100))).toEqual(Array.from(short.data.subarray(0, 100)))
  })

  for (const type of kFloatTypes) {
    it(`${type}: 1e5 samples have mean ≈ 0 and variance ≈ 1 (|mean| < 0.02, |var - 1| < 0.05), no NaN`, async () => {
      const t = keep(sk.randn([100, 1000], { type, seed: 1234 }))
      expect(t.type).toBe(type)
      expect(t.data).toBeInstanceOf(kStorage[type])
      const f = keep(await t.cast('float32')).data as Float32Array
      let sum = 0
      let sq = 0
      let nan = 0
      for (const v of f) {
        if (Number.isNaN(v)) nan += 1
        sum += v
        sq += v * v
      }
      expect(nan).toBe(0)
      const mean = sum / f.length
      const variance = sq / f.length - mean * mean
      expect(Math.abs(mean)).toBeLessThan(0.02)
      expect(Math.abs(variance - 1)).toBeLessThan(0.05)
    })
  }

  it('a narrow type is the float32 draw rounded once', async () => {
    const f32 = keep(sk.randn([1000], { seed: 9 }))
    for (const type of kFloatTypes.filter((t) => t !== 'float32')) {
      const direct = keep(sk.randn([1000], { seed: 9, type }))
      expect(Array.from(direct.data), type).toEqual(Array.from(keep(await f32.cast(type)).data))
    }
  })
})
