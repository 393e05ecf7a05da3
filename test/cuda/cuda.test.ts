// GPU tests: device facts, the caching allocator's counters, host ↔ device
// copies of every dtype, the cast kernel bit-exact with the CPU cast on every
// 8- and 16-bit pattern and a float32 sweep (both saturate modes), zeros and
// randn equal to the CPU's, and argument checks against a real device.
// Skipped, with the reason printed, where no CUDA device is usable.
import { spawnSync } from 'node:child_process'

import { afterEach, describe, expect, it } from 'vitest'

import { arrayCtor, dtypeId } from '../../lib/dtype.js'
import * as sk from '../../lib/index.js'
import {
  cpuBinding,
  cudaBinding,
  cudaUnavailableReason,
  type CudaBinding,
  type DeviceBuffer,
} from '../../lib/native.js'
import { addonPath } from '../fixtures/cuda-addon.js'
import { thrownCode } from '../fixtures/expect-errors.js'

const cuda = cudaBinding()
const hasCuda = cuda?.status().available === true
if (!hasCuda) console.log(`cuda GPU tests skipped: ${cudaUnavailableReason()}`)

const kTypeIds = Object.fromEntries(sk.DTYPES.map((t) => [t, dtypeId(t)])) as Record<sk.DType, number>
const kOddCount = 100_003 // not a multiple of the kernel's 4-element packs: exercises the tail
const kSweepSeed = 0x5eed

/** Device buffers a test made; freed after it so the counters start clean. */
const made: DeviceBuffer[] = []
function alloc(b: CudaBinding, bytes: number, device = 0): DeviceBuffer {
  const buf = b.alloc(device, bytes)
  made.push(buf)
  return buf
}
afterEach(() => {
  for (const buf of made.splice(0)) buf.free()
})

/** xorshift32: deterministic test data without depending on the code under test. */
function randomBytes(n: number, seed: number): Uint8Array {
  const out = new Uint8Array(n)
  let x = seed >>> 0 || 1
  for (let i = 0; i < n; ++i) {
    x ^= x << 13
    x ^= x >>> 17
    x ^= x << 5
    out[i] = x & 0xff
  }
  return out
}

function bytesOf(v: ArrayBufferView): Uint8Array {
  return new Uint8Array(v.buffer, v.byteOffset, v.byteLength)
}

/** First differing element, or -1: a readable failure instead of a 100k-element diff. */
function firstDiff(a: Uint8Array, b: Uint8Array, elem: number): number {
  for (let i = 0; i < a.length; ++i) if (a[i] !== b[i]) return Math.floor(i / elem)
  return a.length === b.length ? -1 : Math.min(a.length, b.length) / elem
}

/** Every bit pattern of 8- and 16-bit types; for 32-bit ones a structured sweep plus random words. */
function castInputs(type: sk.DType): Uint8Array {
  const size = sk.dtypeBytes(type)
  if (size === 1) return Uint8Array.from({ length: 256 }, (_, i) => i)
  if (size === 2) return bytesOf(Uint16Array.from({ length: 65536 }, (_, i) => i))
  const words: number[] = []
  if (type === 'float32') {
    // Every sign and exponent, with mantissas at each narrow type's rounding
    // boundaries (float16 bit 12, bfloat16 bit 15, e5m2 bit 20, e4m3 bit 19) and around them.
    const mantissas = [0, 1, 0x7fffff, 0x400000, 0x3fffff]
    for (const bit of [12, 15, 19, 20])
      mantissas.push(1 << bit, (1 << bit) - 1, (1 << bit) + 1, 3 << bit, (1 << (bit + 1)) | (1 << bit))
    for (let sign = 0; sign < 2; ++sign)
      for (let exp = 0; exp < 256; ++exp)
        for (const m of mantissas) words.push(((sign << 31) | (exp << 23) | (m & 0x7fffff)) >>> 0)
  } else {
    for (const v of [0, 1, -1, 127, 128, -128, -129, 255, 256, 2 ** 24 + 1, -(2 ** 24) - 1, 2 ** 31 - 1, -(2 ** 31)])
      words.push(v >>> 0)
  }
  const random = new Uint32Array(randomBytes(4 * 65536, kSweepSeed).buffer)
  return bytesOf(Uint32Array.from([...words, ...random]))
}

describe.skipIf(!hasCuda)('cuda: device and allocator', () => {
  const b = cuda!

  it('status and deviceInfo describe the GPU', () => {
    const s = b.status()
    expect(s).toMatchObject({ available: true, reason: '' })
    expect(s.deviceCount).toBeGreaterThan(0)
    expect(s.driverVersion).toBeGreaterThan(0)
    const d = b.deviceInfo(0)
    console.log('cuda:0', d, 'archs', s.archs)
    expect(d.index).toBe(0)
    expect(d.name.length).toBeGreaterThan(0)
    expect(d.computeCapability).toMatch(/^\d+\.\d+$/)
    expect(d.totalMemory).toBeGreaterThan(2 ** 30)
    expect(d.multiprocessors).toBeGreaterThan(0)
    expect(thrownCode(() => b.deviceInfo(s.deviceCount))).toBe('ERR_SK_DEVICE')
    expect(thrownCode(() => b.deviceInfo(-1))).toBe('ERR_SK_DEVICE')
  })

  it('alloc / free / emptyCache move bytes between allocated and cached, and reuse cached blocks', () => {
    b.emptyCache(0)
    const before = b.memory(0)
    const buf = b.alloc(0, 1000)
    expect(buf.device).toBe(0)
    expect(buf.bytes).toBe(1000)
    const live = b.memory(0)
    expect(live.buffers).toBe(before.buffers + 1)
    expect(live.allocatedBytes).toBeGreaterThanOrEqual(before.allocatedBytes + 1000)
    buf.free()
    buf.free() // idempotent, like dispose()
    const freed = b.memory(0)
    expect(freed.buffers).toBe(before.buffers)
    expect(freed.allocatedBytes).toBe(before.allocatedBytes)
    expect(freed.cachedBytes).toBeGreaterThanOrEqual(1000)
    const again = b.alloc(0, 900) // same bucket: taken from the cache
    expect(b.memory(0).cachedBytes).toBe(freed.cachedBytes - (live.allocatedBytes - before.allocatedBytes))
    again.free()
    b.emptyCache(0)
    expect(b.memory(0).cachedBytes).toBe(0)
  })

  it('a freed buffer is refused with ERR_SK_DISPOSED; a look-alike object with ERR_SK_INVALID_ARGUMENT', () => {
    const buf = b.alloc(0, 64)
    buf.free()
    expect(thrownCode(() => b.zero(buf, 64))).toBe('ERR_SK_DISPOSED')
    expect(thrownCode(() => b.copyToHost(buf, new Uint8Array(64), 64))).toBe('ERR_SK_DISPOSED')
    const fake = { device: 0, bytes: 64, free() {} } as DeviceBuffer
    expect(thrownCode(() => b.copyToHost(fake, new Uint8Array(64), 64))).toBe('ERR_SK_INVALID_ARGUMENT')
    expect(thrownCode(() => new (buf.constructor as new () => unknown)())).toBe('ERR_SK_INVALID_ARGUMENT')
  })

  it('an impossible allocation is ERR_SK_OUT_OF_MEMORY and leaves the counters alone', () => {
    const before = b.memory(0)
    expect(thrownCode(() => b.alloc(0, 2 ** 50))).toBe('ERR_SK_OUT_OF_MEMORY')
    expect(b.memory(0).buffers).toBe(before.buffers)
  })

  it('bad arguments are refused with a code against a real device', () => {
    const buf = alloc(b, 16)
    const cases: [string, () => unknown, string][] = [
      ['alloc(-1)', () => b.alloc(0, -1), 'ERR_SK_INVALID_ARGUMENT'],
      ['alloc(1.5)', () => b.alloc(0, 1.5), 'ERR_SK_INVALID_ARGUMENT'],
      ['alloc on a missing device', () => b.alloc(b.status().deviceCount, 16), 'ERR_SK_DEVICE'],
      ['alloc on device 0.5', () => b.alloc(0.5, 16), 'ERR_SK_DEVICE'],
      ['zero past the end', () => b.zero(buf, 17), 'ERR_SK_INVALID_ARGUMENT'],
      ['copyToDevice past the buffer', () => b.copyToDevice(new Uint8Array(32), buf, 32), 'ERR_SK_INVALID_ARGUMENT'],
      ['copyToDevice past the array', () => b.copyToDevice(new Uint8Array(8), buf, 16), 'ERR_SK_INVALID_ARGUMENT'],
      [
        'copyToHost past the array',
        () => b.copyToHost(buf, new Uint8Array(new ArrayBuffer(32), 24), 16),
        'ERR_SK_INVALID_ARGUMENT',
      ],
      ['copyToHost into a number array', () => b.copyToHost(buf, [0, 0] as never, 2), 'ERR_SK_INVALID_ARGUMENT'],
      ['cast past src', () => b.cast(buf, kTypeIds.float32, buf, kTypeIds.int32, 5, true), 'ERR_SK_INVALID_ARGUMENT'],
      ['cast with dtype 99', () => b.cast(buf, 99, buf, 0, 1, true), 'ERR_SK_DTYPE'],
      [
        'in-place cast between sizes',
        () => b.cast(buf, kTypeIds.float32, buf, kTypeIds.float16, 2, true),
        'ERR_SK_INVALID_ARGUMENT',
      ],
      ['memory(7.5)', () => b.memory(7.5), 'ERR_SK_DEVICE'],
    ]
    for (const [what, call, code] of cases) expect(thrownCode(call), what).toBe(code)
    const detached = new Uint8Array(16)
    structuredClone(detached.buffer, { transfer: [detached.buffer] })
    expect(thrownCode(() => b.copyToHost(buf, detached, 16))).toBe('ERR_SK_DISPOSED')
    const Resizable = ArrayBuffer as unknown as new (n: number, o: { maxByteLength: number }) => ArrayBuffer // ES2024
    const resizable = new Uint8Array(new Resizable(16, { maxByteLength: 64 }))
    expect(thrownCode(() => b.copyToHost(buf, resizable, 16))).toBe('ERR_SK_INVALID_ARGUMENT')
  })

  it('GC returns unreferenced buffers to the cache (the finalizer backstop)', () => {
    const script = `
      const b = require(process.env.ADDON)
      const before = b.memory(0).buffers
      for (let i = 0; i < 100; ++i) b.alloc(0, 4096)
      const live = b.memory(0).buffers
      // Finalizers may run a tick after the collection: collect a few rounds.
      let rounds = 0
      const step = () => {
        globalThis.gc()
        const after = b.memory(0).buffers
        if (after > before && ++rounds < 10) return setImmediate(step)
        console.log(JSON.stringify({ before, live, after }))
      }
      setImmediate(step)`
    const r = spawnSync(process.execPath, ['--expose-gc', '-e', script], {
      env: { ...process.env, ADDON: addonPath },
      encoding: 'utf8',
      timeout: 60_000,
    })
    expect(r.status, r.stderr).toBe(0)
    const m = JSON.parse(r.stdout.trim()) as { before: number; live: number; after: number }
    expect(m.live).toBe(m.before + 100)
    expect(m.after).toBeLessThan(m.live)
  })
})

describe.skipIf(!hasCuda)('cuda: copies and stream order', () => {
  const b = cuda!

  for (const type of sk.DTYPES) {
    it(`${type}: host → device → host round trip of ${kOddCount} elements is exact`, async () => {
      const bytes = kOddCount * sk.dtypeBytes(type)
      const src = randomBytes(bytes, kTypeIds[type] + 1)
      const buf = alloc(b, bytes)
      await b.copyToDevice(src, buf, bytes)
      const back = new Uint8Array(bytes)
      await b.copyToHost(buf, back, bytes)
      expect(firstDiff(back, src, 1)).toBe(-1)
      // The same through the public API.
      const t = sk.tensor(new (arrayCtor(type))(src.slice().buffer), [kOddCount], type)
      const g = await t.to('cuda')
      expect(g.location).toBe('cuda')
      expect(firstDiff(bytesOf(await g.getData()), src, 1)).toBe(-1)
      g.dispose()
    })
  }

  it('a DataView and an offset TypedArray copy exactly their own bytes', async () => {
    const buf = alloc(b, 8)
    const backing = new Uint8Array(32).fill(0xee)
    backing.set([1, 2, 3, 4, 5, 6, 7, 8], 8)
    await b.copyToDevice(new DataView(backing.buffer, 8, 8), buf, 8)
    const out = new Uint8Array(32)
    await b.copyToHost(buf, new Uint8Array(out.buffer, 4, 8), 8)
    expect([...out.subarray(4, 12)]).toEqual([1, 2, 3, 4, 5, 6, 7, 8])
    expect(out[3]).toBe(0)
    expect(out[12]).toBe(0)
  })

  it('work settles in submission order; free() while a copy is queued keeps the block until it finishes', async () => {
    const n = 1 << 20
    const buf = b.alloc(0, n)
    const writes = Array.from({ length: 32 }, (_, i) => b.copyToDevice(new Uint8Array(n).fill(i), buf, n))
    b.zero(buf, 16) // fire-and-forget, ordered after the writes
    const out = new Uint8Array(n)
    const read = b.copyToHost(buf, out, n)
    buf.free() // the queued jobs still hold the block
    const order: number[] = []
    await Promise.all([...writes, read].map((p, i) => p.then(() => order.push(i))))
    expect(order).toEqual([...order].sort((x, y) => x - y))
    expect(out[0]).toBe(0)
    expect(out[15]).toBe(0)
    expect(out[16]).toBe(31)
    expect(out[n - 1]).toBe(31)
    await b.synchronize(0)
  })

  it('zeros on the GPU are zeros', async () => {
    const buf = alloc(b, 4096)
    await b.copyToDevice(new Uint8Array(4096).fill(0xab), buf, 4096)
    b.zero(buf, 4096)
    const out = new Uint8Array(4096)
    await b.copyToHost(buf, out, 4096)
    expect(out.every((v) => v === 0)).toBe(true)
    for (const type of sk.DTYPES) {
      const z = sk.zeros([3, 1001], type, 'cuda')
      expect(z.device).toBe('cuda:0')
      expect(bytesOf(await z.getData()).every((v) => v === 0)).toBe(true)
      z.dispose()
    }
  })
})

describe.skipIf(!hasCuda)('cuda: cast is bit-exact with the CPU cast', () => {
  const b = cuda!
  const cpu = () => cpuBinding() // loaded when a test runs, not when a skipped suite is collected

  for (const srcType of sk.DTYPES) {
    it(`${srcType} → every type, saturate on and off`, async () => {
      const input = castInputs(srcType)
      const srcSize = sk.dtypeBytes(srcType)
      const count = input.length / srcSize
      const src = alloc(b, input.length)
      await b.copyToDevice(input, src, input.length)
      for (const dstType of sk.DTYPES) {
        const dstSize = sk.dtypeBytes(dstType)
        const dst = alloc(b, count * dstSize)
        for (const saturate of [true, false]) {
          const want = new Uint8Array(count * dstSize)
          cpu().castSync(input, kTypeIds[srcType], want, kTypeIds[dstType], count, saturate)
          await b.cast(src, kTypeIds[srcType], dst, kTypeIds[dstType], count, saturate)
          const got = new Uint8Array(count * dstSize)
          await b.copyToHost(dst, got, got.length)
          const at = firstDiff(got, want, dstSize)
          expect(at, `${srcType} → ${dstType} saturate=${saturate}: first mismatch at element ${at}`).toBe(-1)
        }
      }
    })
  }

  it('through the Tensor API: t.to("cuda").cast() equals the CPU cast, then back', async () => {
    const host = sk.tensor(new Float32Array(castInputs('float32').buffer), undefined, 'float32')
    const dev = await host.to('cuda')
    for (const type of ['float16', 'bfloat16', 'float8e4m3fn', 'float8e5m2', 'int8', 'uint8', 'int32'] as const) {
      for (const saturate of [true, false]) {
        const want = await host.cast(type, { saturate })
        const got = await dev.cast(type, { saturate })
        expect(got.device).toBe('cuda:0')
        expect(
          firstDiff(bytesOf(await got.getData()), bytesOf(want.data), sk.dtypeBytes(type)),
          `${type} ${saturate}`,
        ).toBe(-1)
        want.dispose()
        got.dispose()
      }
    }
    dev.dispose()
  })

  it('in place between same-size types, and a count that is not a multiple of 4', async () => {
    const input = castInputs('float16').subarray(0, 2 * 1001)
    const buf = alloc(b, input.length)
    await b.copyToDevice(input, buf, input.length)
    await b.cast(buf, kTypeIds.float16, buf, kTypeIds.bfloat16, 1001, true)
    const got = new Uint8Array(input.length)
    await b.copyToHost(buf, got, got.length)
    const want = new Uint8Array(input.length)
    cpu().castSync(input, kTypeIds.float16, want, kTypeIds.bfloat16, 1001, true)
    expect(firstDiff(got, want, 2)).toBe(-1)
  })
})

describe.skipIf(!hasCuda)('cuda: public API', () => {
  for (const type of ['float32', 'float16', 'bfloat16', 'float8e4m3fn', 'float8e5m2'] as const) {
    it(`randn on cuda equals randn on the CPU (${type}, same seed)`, async () => {
      const dims = [7, 1000]
      const g = sk.randn(dims, { type, seed: 1234, device: 'cuda' })
      const c = sk.randn(dims, { type, seed: 1234 })
      expect(g.device).toBe('cuda:0')
      expect(firstDiff(bytesOf(await g.getData()), bytesOf(c.data), sk.dtypeBytes(type))).toBe(-1)
      g.dispose()
      c.dispose()
    })
  }

  it('sk.devices() lists the GPU and sk.memory() counts its bytes', async () => {
    const gpu = sk.devices().find((d) => d.kind === 'cuda')
    expect(gpu?.name).toBe('cuda:0')
    const before = sk.memory()['cuda:0']
    expect(before).toBeDefined()
    const t = sk.zeros([1024, 1024], 'float32', 'cuda')
    const during = sk.memory()['cuda:0']!
    expect(during.tensors).toBe(before!.tensors + 1)
    expect(during.nativeBytes).toBeGreaterThanOrEqual(before!.nativeBytes + 4 * 1024 * 1024)
    t.dispose()
    expect(sk.memory()['cuda:0']!.tensors).toBe(before!.tensors)
  })
})
