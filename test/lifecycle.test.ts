// Tensors: the ORT-style fields and their tfjs aliases, getData, to, cast,
// dispose, memory accounting, and the device / thread queries.
import { spawnSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { fileURLToPath } from 'node:url'

import { describe, expect, it } from 'vitest'

import * as sk from '../lib/index.js'
import { cpuBinding } from '../lib/native.js'
import { timeoutScale } from './fixtures/child.js'
import { f16ToNumber, kFloatTypes, keep, kStorage } from './fixtures/tensors.js'

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
    // Argument errors throw at once (docs/safety.md), the receiver's liveness included.
    expect(() => t.cast('float16')).toThrow(expect.objectContaining({ code: 'ERR_SK_DISPOSED' }))
    expect(() => t.getData()).toThrow(expect.objectContaining({ code: 'ERR_SK_DISPOSED' }))
    expect(() => t.to('cpu')).toThrow(expect.objectContaining({ code: 'ERR_SK_DISPOSED' }))
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

  it('a disposed tensor of 4 KiB or more is cached and reused by the next of its size class; zeros() still zeroes', () => {
    const n = 300_000 // 1.2 MB
    const first = sk.zeros([n])
    ;(first.data as Float32Array).fill(7)
    const before = sk.memory().cpu
    first.dispose()
    const cached = sk.memory().cpu
    // Its size class: (1 MiB, 2 MiB] in steps of 128 KiB.
    expect(cached.cachedBytes! - before.cachedBytes!).toBe(10 * 128 * 1024)
    expect(cached.nativeBytes - before.nativeBytes).toBe(-4 * n)
    const again = sk.zeros([n])
    expect(sk.memory().cpu.cachedBytes).toBe(before.cachedBytes)
    expect((again.data as Float32Array).every((v) => v === 0)).toBe(true)
    again.dispose()
    const small = sk.zeros([1000])
    const withSmall = sk.memory().cpu.cachedBytes
    small.dispose()
    expect(sk.memory().cpu.cachedBytes).toBe(withSmall) // under 4 KiB: freed
    cpuBinding().emptyHostCache()
    expect(sk.memory().cpu.cachedBytes).toBe(0)
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

  it('a disposed input of a finished cast, a refused op and an op that fails while running leave nothing behind', async () => {
    const before = sk.memory().cpu
    const t = sk.randn([1000])
    const p = t.cast('bfloat16')
    t.dispose()
    ;(await p).dispose()
    expect(() => t.cast('float16')).toThrow(expect.objectContaining({ code: 'ERR_SK_DISPOSED' }))
    // Three non-zeros in a group of 4: found by the kernel, so the Promise rejects.
    const dense = sk.tensor([1, 1, 1, 0], [1, 4])
    await expect(sk.sparsify(dense, { format: '2:4' })).rejects.toMatchObject({ code: 'ERR_SK_INVALID_ARGUMENT' })
    dense.dispose()
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
      timeout: 20_000 * timeoutScale,
    })
    expect(r.status, r.stderr).toBe(0)
    expect(JSON.parse(r.stdout)).toEqual({ available: false, reason: 'disabled by SPARSEKIT_CUDA=0' })
  })
})
