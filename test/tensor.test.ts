// Tensors: creation (zero-copy wrap, number arrays, zeros, randn), the
// ORT-style fields and their tfjs aliases, cast, dispose, memory accounting,
// and the device / thread queries.
import { spawnSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { fileURLToPath } from 'node:url'

import { afterEach, describe, expect, it } from 'vitest'

import * as sk from '../lib/index.js'

const made: sk.Tensor[] = []
/** Tracks a tensor so afterEach disposes it: the leak test needs a clean baseline. */
function keep<T extends sk.Tensor>(t: T): T {
  made.push(t)
  return t
}
afterEach(() => {
  // Dispose every tracked tensor even if one dispose() throws, then report it.
  const errors: unknown[] = []
  for (const t of made.splice(0))
    try {
      t.dispose()
    } catch (err) {
      errors.push(err)
    }
  if (errors.length) throw errors[0]
})

/** float16 bits → number, for checking rounding independently of the kernels. */
function f16ToNumber(h: number): number {
  const sign = h & 0x8000 ? -1 : 1
  const exp = (h >> 10) & 0x1f
  const man = h & 0x3ff
  if (exp === 0) return sign * man * 2 ** -24
  if (exp === 31) return man ? NaN : sign * Infinity
  return sign * (1 + man / 1024) * 2 ** (exp - 15)
}

const kStorage: Record<sk.DType, new (n: number) => ArrayBufferView & ArrayLike<number>> = {
  float32: Float32Array,
  float16: Uint16Array,
  bfloat16: Uint16Array,
  float8e4m3fn: Uint8Array,
  float8e5m2: Uint8Array,
  int8: Int8Array,
  uint8: Uint8Array,
  int32: Int32Array,
}
const kFloatTypes = sk.DTYPES.filter((t) => !t.startsWith('int') && t !== 'uint8')

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

describe('Tensor fields, getData, to, cast, dispose', () => {
  it('shape and dtype are aliases of dims and type', () => {
    const t = keep(sk.zeros([2, 3], 'bfloat16'))
    expect(t.shape).toBe(t.dims)
    expect(t.dtype).toBe(t.type)
    expect(String(t)).toBe('Tensor(bfloat16, [2, 3], cpu)')
    expect(sk.isTensor(t)).toBe(true)
    expect(sk.isTensor({ type: 'float32', dims: [1], data: new Float32Array(1) })).toBe(false)
  })

  it('getData() resolves to the tensor’s own array on the CPU; getData(true) leaves a CPU tensor alive', async () => {
    const t = keep(sk.tensor([1, 2, 3]))
    expect(await t.getData()).toBe(t.data)
    expect(await t.getData(true)).toBe(t.data)
    expect(t.location).toBe('cpu')
  })

  it("to('cpu') and to(t.device) resolve to the same tensor", async () => {
    const t = keep(sk.tensor([1, 2]))
    expect(await t.to('cpu')).toBe(t)
    expect(await t.to(t.device)).toBe(t)
  })

  it('cast keeps dims, makes a new tensor, leaves the input alone', async () => {
    const t = keep(sk.tensor([1.5, -2.25, 3, 4, 5, 6], [3, 2]))
    const h = keep(await t.cast('float16'))
    expect(h).not.toBe(t)
    expect(h.dims).toEqual([3, 2])
    expect(h.type).toBe('float16')
    expect(Array.from(h.data, f16ToNumber)).toEqual([1.5, -2.25, 3, 4, 5, 6])
    expect(Array.from(t.data)).toEqual([1.5, -2.25, 3, 4, 5, 6])
    const back = keep(await h.cast('float32'))
    expect(Array.from(back.data)).toEqual([1.5, -2.25, 3, 4, 5, 6])
  })

  it('cast to the same type is a copy into new memory', async () => {
    const t = keep(sk.tensor([1, 2, 3]))
    const c = keep(await t.cast('float32'))
    expect(c.data).not.toBe(t.data)
    expect(Array.from(c.data)).toEqual([1, 2, 3])
  })

  it('float → int rounds to nearest even, saturates, NaN → 0', async () => {
    const t = keep(sk.tensor([2.5, 3.5, -2.5, 1e10, -1e10, NaN, 0.49]))
    expect(Array.from(keep(await t.cast('int32')).data)).toEqual([2, 4, -2, 2147483647, -2147483648, 0, 0])
    expect(Array.from(keep(await t.cast('int8')).data)).toEqual([2, 4, -2, 127, -128, 0, 0])
    expect(Array.from(keep(await t.cast('uint8')).data)).toEqual([2, 4, 0, 255, 0, 0, 0])
  })

  it('FP8 overflow: saturate (default) gives ±max; saturate:false gives NaN (e4m3fn) or Inf (e5m2)', async () => {
    const t = keep(sk.tensor([1e6, -1e6]))
    expect(Array.from(keep(await t.cast('float8e4m3fn')).data)).toEqual([0x7e, 0xfe])
    expect(Array.from(keep(await t.cast('float8e5m2')).data)).toEqual([0x7b, 0xfb])
    const e4 = keep(await t.cast('float8e4m3fn', { saturate: false })).data
    expect(Array.from(e4, (b) => b & 0x7f)).toEqual([0x7f, 0x7f])
    expect(Array.from(keep(await t.cast('float8e5m2', { saturate: false })).data)).toEqual([0x7c, 0xfc])
  })

  it('dispose() is idempotent; location becomes none; data and ops then throw ERR_SK_DISPOSED', async () => {
    const t = sk.zeros([4])
    t.dispose()
    t.dispose()
    expect(t.location).toBe('none')
    expect(t.disposed).toBe(true)
    expect(String(t)).toBe('Tensor(float32, [4], disposed)')
    expect(() => t.data).toThrow(expect.objectContaining({ code: 'ERR_SK_DISPOSED' }))
    await expect(t.cast('float16')).rejects.toMatchObject({ code: 'ERR_SK_DISPOSED' })
    await expect(t.getData()).rejects.toMatchObject({ code: 'ERR_SK_DISPOSED' })
    await expect(t.to('cpu')).rejects.toMatchObject({ code: 'ERR_SK_DISPOSED' })
    // The fields that describe the tensor stay readable.
    expect(t.dims).toEqual([4])
    expect(t.type).toBe('float32')
  })

  it('dispose() of sparsekit memory detaches the old array (no access to freed memory from JS)', () => {
    const t = sk.zeros([1024])
    const d = t.data
    t.dispose()
    expect(d.length).toBe(0)
    expect(d.buffer.byteLength).toBe(0)
  })

  it('empty sparsekit-owned tensors (zeros([4, 0]), tensor([]), an empty cast) work and dispose() cleanly', async () => {
    const before = sk.memory().cpu
    const z = sk.zeros([4, 0])
    expect(z.size).toBe(0)
    expect(z.data.length).toBe(0)
    expect(() => z.dispose()).not.toThrow()
    expect(() => sk.tensor([]).dispose()).not.toThrow()
    const empty = sk.tensor(new Float32Array(0), [3, 0])
    const h = await empty.cast('float16')
    expect(h.dims).toEqual([3, 0])
    expect(h.data.length).toBe(0)
    expect(() => h.dispose()).not.toThrow()
    empty.dispose()
    expect(sk.memory().cpu).toEqual(before)
  })

  it('dispose() of a wrapped caller array only lets go of it: the array stays usable', () => {
    const src = new Float32Array([1, 2, 3])
    const t = sk.tensor(src)
    t.dispose()
    expect(Array.from(src)).toEqual([1, 2, 3])
    expect(t.location).toBe('none')
  })

  it('[Symbol.dispose] with a using declaration', async () => {
    let outer: sk.Tensor
    let cast: sk.Tensor
    {
      using t = sk.zeros([8])
      using h = await t.cast('float16')
      outer = t
      cast = h
      expect(t.location).toBe('cpu')
    }
    expect(outer.location).toBe('none')
    expect(cast.location).toBe('none')
    const u = sk.zeros([1])
    u[Symbol.dispose]()
    expect(u.location).toBe('none')
  })
})

describe('sk.memory', () => {
  it('counts a tensor and its bytes; nativeBytes only for sparsekit-owned memory', () => {
    const before = sk.memory().cpu
    const owned = sk.zeros([100], 'int32')
    let now = sk.memory().cpu
    expect(now.tensors - before.tensors).toBe(1)
    expect(now.bytes - before.bytes).toBe(400)
    expect(now.nativeBytes - before.nativeBytes).toBe(400)
    const wrapped = sk.tensor(new Float32Array(50))
    now = sk.memory().cpu
    expect(now.tensors - before.tensors).toBe(2)
    expect(now.bytes - before.bytes).toBe(600)
    expect(now.nativeBytes - before.nativeBytes).toBe(400)
    owned.dispose()
    wrapped.dispose()
    expect(sk.memory().cpu).toEqual(before)
  })

  it('200 create / cast / dispose rounds: tensors, bytes and nativeBytes return to the baseline', async () => {
    const before = sk.memory().cpu
    for (let i = 0; i < 200; ++i) {
      const a = sk.randn([257], { seed: i })
      const b = await a.cast(i % 2 ? 'float16' : 'float8e5m2')
      const c = sk.tensor(new Int32Array(3))
      const d = sk.tensor([1, 2, 3], [3], 'bfloat16')
      const z = sk.zeros([2, 7], 'int8')
      const e = await c.cast('float32')
      for (const t of [a, b, c, d, z, e]) t.dispose()
      // Disposing twice must not count twice.
      a.dispose()
    }
    expect(sk.memory().cpu).toEqual(before)
  })

  it('a disposed input of a finished cast, and a failed op, leave nothing behind', async () => {
    const before = sk.memory().cpu
    const t = sk.randn([1000])
    const p = t.cast('bfloat16')
    t.dispose()
    ;(await p).dispose()
    await expect(t.cast('float16')).rejects.toMatchObject({ code: 'ERR_SK_DISPOSED' })
    expect(sk.memory().cpu).toEqual(before)
  })
})

describe('devices, threads, CUDA status', () => {
  it('devices()[0] is the CPU with its kernel set and the cast kernel it picked', () => {
    const [cpu] = sk.devices()
    expect(cpu.name).toBe('cpu')
    expect(cpu.kind).toBe('cpu')
    if (cpu.kind !== 'cpu') return
    expect(['x64', 'arm64']).toContain(cpu.arch)
    expect(['scalar', 'avx2', 'avx512', 'neon']).toContain(cpu.isa)
    expect(cpu.supportedIsas).toContain('scalar')
    expect(cpu.supportedIsas).toContain(cpu.isa)
    expect(cpu.kernels.cast).toBe(`sk_cast_ukernel__${cpu.isa}`)
    expect(typeof cpu.features).toBe('object')
    expect(cpu.threads).toBe(sk.numThreads())
  })

  it('setNumThreads / numThreads round-trip, and ops still run on one thread', async () => {
    const original = sk.numThreads()
    expect(original).toBeGreaterThanOrEqual(1)
    try {
      sk.setNumThreads(1)
      expect(sk.numThreads()).toBe(1)
      const t = keep(sk.randn([300_000], { seed: 3 }))
      const ref = keep(await t.cast('float16'))
      sk.setNumThreads(3)
      expect(sk.numThreads()).toBe(3)
      const again = keep(await t.cast('float16'))
      expect(Buffer.from(again.data.buffer, 0, 600_000).equals(Buffer.from(ref.data.buffer, 0, 600_000))).toBe(true)
    } finally {
      sk.setNumThreads(original)
    }
    expect(sk.numThreads()).toBe(original)
  })

  it('cudaStatus() agrees with devices(); without CUDA it says why', () => {
    const status = sk.cudaStatus()
    const hasCudaDevice = sk.devices().some((d) => d.kind === 'cuda')
    expect(status.available).toBe(hasCudaDevice)
    if (!status.available) {
      expect(typeof status.reason).toBe('string')
      expect(status.reason.length).toBeGreaterThan(10)
      expect(sk.memory()['cuda:0']).toBeUndefined()
    } else {
      expect(status.reason).toBe('')
    }
  })

  const dist = fileURLToPath(new URL('../dist/index.js', import.meta.url))
  it.skipIf(!existsSync(dist))('SPARSEKIT_CUDA=0 disables CUDA with that reason (child process, built dist/)', () => {
    const script = `import * as sk from ${JSON.stringify(dist)}; console.log(JSON.stringify(sk.cudaStatus()))`
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
      env: { ...process.env, SPARSEKIT_CUDA: '0' },
      encoding: 'utf8',
      timeout: 20_000,
    })
    expect(r.status, r.stderr).toBe(0)
    expect(JSON.parse(r.stdout)).toEqual({ available: false, reason: 'disabled by SPARSEKIT_CUDA=0' })
  })
})
