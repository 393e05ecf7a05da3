// The CUDA addon on any machine where it is built, GPU or not: it must load,
// say why CUDA is unavailable, refuse every call with ERR_SK_DEVICE and that
// reason, never crash on bad arguments, and never keep Node alive. Loads the
// built .node directly, so it does not depend on lib/.
import { spawnSync } from 'node:child_process'

import { describe, expect, it } from 'vitest'

import type { CudaBinding } from '../../lib/native.js'
import { timeoutScale } from '../fixtures/child.js'
import { addonPath, loadCudaAddon } from '../fixtures/cuda-addon.js'
import { thrownCode } from '../fixtures/expect-errors.js'

const { binding, skipReason } = loadCudaAddon<CudaBinding>()
const built = binding !== undefined
const status = binding?.status()
if (!built) console.log(`cuda addon tests skipped: ${skipReason}`)
else if (status?.available)
  console.log(
    'cuda addon: a device is available; the no-device tests are skipped (test/cuda/cuda.test.ts covers the GPU)',
  )

const kChildTimeoutMs = 30_000 * timeoutScale

/** Runs a CommonJS snippet in a fresh Node with the addon's path as ADDON; returns its exit status and output. */
function runNode(code: string, args: string[] = []) {
  const r = spawnSync(process.execPath, [...args, '-e', code], {
    env: { ...process.env, ADDON: addonPath },
    encoding: 'utf8',
    timeout: kChildTimeoutMs,
  })
  return { status: r.status, signal: r.signal, out: `${r.stdout}${r.stderr}` }
}

describe.skipIf(!built)('cuda addon: loads anywhere', () => {
  it('status() has the CudaStatus shape', () => {
    const s = binding!.status()
    expect(Object.keys(s).sort()).toEqual([
      'archs',
      'available',
      'deviceCount',
      'driverVersion',
      'reason',
      'runtimeVersion',
    ])
    expect(typeof s.available).toBe('boolean')
    expect(s.runtimeVersion).toBeGreaterThanOrEqual(12000)
    expect(s.driverVersion).toBeGreaterThanOrEqual(0)
    expect(Number.isInteger(s.deviceCount) && s.deviceCount >= 0).toBe(true)
    expect(s.archs).toMatch(/^\d+a?(;\d+a?)*$/)
    expect(s.reason === '').toBe(s.available)
  })

  it('an idle addon does not keep Node alive: a script that loads it exits at once', () => {
    const r = runNode(`const b = require(process.env.ADDON); b.status(); console.log('loaded')`)
    expect(r.signal).toBeNull()
    expect(r.status).toBe(0)
    expect(r.out).toContain('loaded')
  })

  it('loads in worker threads and shuts down with them (context-aware)', () => {
    const r = runNode(`
      const { Worker } = require('node:worker_threads')
      const body = \`
        const b = require(process.env.ADDON)
        const s = b.status()
        if (s.available) {
          // Leave work in flight: the environment's cleanup must wait for it.
          const buf = b.alloc(0, 1 << 20)
          b.copyToDevice(new Uint8Array(1 << 20), buf, 1 << 20)
          b.zero(buf, 1 << 20)
        }
        require('node:worker_threads').parentPort.postMessage(s.available)
      \`
      let done = 0
      for (let i = 0; i < 3; ++i) {
        const w = new Worker(body, { eval: true })
        w.on('message', () => w.terminate())
        w.on('error', (e) => { console.error(e); process.exitCode = 1 })
        w.on('exit', () => { if (++done === 3) console.log('workers done') })
      }`)
    expect(r.out).toContain('workers done')
    expect(r.status).toBe(0)
  })
})

describe.skipIf(!built || status?.available)('cuda addon without a usable device', () => {
  it('status() is unavailable with a reason that names the CUDA error', () => {
    const s = binding!.status()
    console.log('status():', s)
    expect(s.available).toBe(false)
    expect(s.deviceCount).toBe(0)
    expect(s.reason).toMatch(
      /^no CUDA driver found \(cudaErrorInsufficientDriver, 35\)|^no CUDA device|cudaError\w+, \d+/,
    )
    if (s.driverVersion === 0 && s.reason.includes('cudaErrorInsufficientDriver'))
      expect(s.reason).toContain('install an NVIDIA driver')
  })

  it('every other call throws ERR_SK_DEVICE with that reason', () => {
    const b = binding!
    const reason = b.status().reason
    const calls: Record<string, () => unknown> = {
      deviceInfo: () => b.deviceInfo(0),
      alloc: () => b.alloc(0, 16),
      zero: () => b.zero({} as never, 0),
      copyToDevice: () => b.copyToDevice(new Uint8Array(4), {} as never, 4),
      copyToHost: () => b.copyToHost({} as never, new Uint8Array(4), 4),
      cast: () => b.cast({} as never, 0, {} as never, 1, 1, true),
      memory: () => b.memory(0),
      emptyCache: () => b.emptyCache(0),
      synchronize: () => b.synchronize(0),
    }
    for (const [name, call] of Object.entries(calls)) {
      let err: unknown
      try {
        call()
      } catch (e) {
        err = e
      }
      expect(err, name).toBeInstanceOf(Error)
      expect((err as { code?: string }).code, name).toBe('ERR_SK_DEVICE')
      expect((err as Error).message, name).toContain(reason)
    }
  })

  it('bad arguments of every kind throw an Error with a code, never crash', () => {
    const b = binding! as unknown as Record<string, (...args: unknown[]) => unknown>
    const junk: unknown[] = [undefined, null, -1, 1.5, NaN, Infinity, 2 ** 60, 'x', {}, [], () => 0, Symbol('s'), 10n]
    for (const name of [
      'deviceInfo',
      'alloc',
      'zero',
      'copyToDevice',
      'copyToHost',
      'cast',
      'memory',
      'emptyCache',
      'synchronize',
    ]) {
      for (const j of junk) {
        expect(
          thrownCode(() => b[name](j, j, j, j, j, j)),
          `${name}(${String(j)})`,
        ).toMatch(/^ERR_SK_/)
        expect(
          thrownCode(() => b[name]()),
          `${name}()`,
        ).toMatch(/^ERR_SK_/)
      }
    }
    // status() ignores its arguments.
    expect(thrownCode(() => b.status(1, 'x', {}))).toBe('returned')
  })

  it('methods detached from the binding object still work (the instance is per environment, not `this`)', () => {
    const { alloc, status: st } = binding!
    expect((Reflect.apply(st, {}, []) as { available: boolean }).available).toBe(false)
    expect(thrownCode(() => Reflect.apply(alloc, undefined, [0, 16]))).toBe('ERR_SK_DEVICE')
  })
})
