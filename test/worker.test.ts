// worker_threads: the addon is context-aware. Each worker that loads
// sparsekit gets its own executor; casts there match the main thread's bits;
// terminating a worker with casts running or queued neither crashes the
// process nor leaks their memory; two workers can load it at once.
import { Worker } from 'node:worker_threads'

import { afterEach, describe, expect, it } from 'vitest'

import * as sk from '../lib/index.js'
import { describeExit, distMissingReason, fixture, hasDist, runNode, warnIfDistStale } from './fixtures/child.js'

type Reply = { op: string; [key: string]: unknown }

/** A worker running fixtures/sk-worker.mjs, with a request/reply helper. */
class SkWorker {
  readonly worker: Worker
  readonly ready: Promise<void>
  readonly exited: Promise<number>
  private waiting: ((r: Reply) => void)[] = []

  constructor(env?: Record<string, string>) {
    this.worker = new Worker(fixture('sk-worker.mjs'), env ? { env: { ...process.env, ...env } } : {})
    let failed: (err: Error) => void = () => {}
    this.ready = new Promise((resolve, reject) => {
      failed = reject
      this.waiting.push(() => resolve())
    })
    this.worker.on('message', (m: Reply) => this.waiting.shift()?.(m))
    this.worker.on('error', (err) => failed(err))
    this.exited = new Promise((resolve) => this.worker.on('exit', resolve))
  }

  request(msg: Reply): Promise<Reply> {
    return new Promise((resolve) => {
      this.waiting.push(resolve)
      this.worker.postMessage(msg)
    })
  }
}

const workers: SkWorker[] = []
function spawn(env?: Record<string, string>): SkWorker {
  const w = new SkWorker(env)
  workers.push(w)
  return w
}
afterEach(async () => {
  await Promise.all(workers.splice(0).map((w) => w.worker.terminate()))
})

/** FNV-1a over the bytes, as the worker computes it. */
function checksum(a: ArrayBufferView): number {
  const bytes = new Uint8Array(a.buffer, a.byteOffset, a.byteLength)
  let h = 0x811c9dc5
  for (const b of bytes) h = Math.imul(h ^ b, 0x01000193) >>> 0
  return h
}

/** The main thread's answer to a worker 'cast' request. */
async function castHere(
  n: number,
  seed: number,
  type: sk.DType,
): Promise<{ bits: number[]; checksum: number; size: number }> {
  const t = sk.randn([n], { seed })
  const out = await t.cast(type)
  const r = { bits: Array.from(out.data.subarray(0, 8)), checksum: checksum(out.data), size: out.size }
  t.dispose()
  out.dispose()
  return r
}

/** Waits (up to ~5 s of event-loop turns) for a condition that settles after a worker's teardown. */
async function eventually(check: () => boolean): Promise<boolean> {
  for (let i = 0; i < 100; ++i) {
    if (check()) return true
    await new Promise((r) => setTimeout(r, 50))
  }
  return check()
}

describe.skipIf(!hasDist)('sparsekit inside worker_threads', () => {
  if (!hasDist) console.warn(`skipping worker tests: ${distMissingReason}`)
  warnIfDistStale()

  it('loads in a worker, casts there, and posts back the same bits as the main thread', async () => {
    const w = spawn()
    await w.ready
    const reply = await w.request({ op: 'cast', n: 100_000, seed: 21, type: 'float16' })
    expect(reply.op).toBe('cast')
    const { bits, checksum: sum, size } = await castHere(100_000, 21, 'float16')
    expect(reply).toMatchObject({ bits, checksum: sum, size })
    // The worker's tensors are its own: it disposed both, so it counts none.
    expect((reply.memory as sk.MemoryInfo).tensors).toBe(0)
  })

  it('a worker reports the same CPU and kernels, and has its own thread setting', async () => {
    const w = spawn()
    await w.ready
    const info = await w.request({ op: 'info' })
    const [cpu] = sk.devices()
    expect(info.cpu).toMatchObject({
      name: 'cpu',
      isa: cpu.kind === 'cpu' ? cpu.isa : '',
      kernels: cpu.kind === 'cpu' ? cpu.kernels : {},
    })
    const mine = sk.numThreads()
    const set = await w.request({ op: 'threads', n: mine === 3 ? 2 : 3 })
    expect(set.numThreads).toBe(mine === 3 ? 2 : 3)
    expect(sk.numThreads()).toBe(mine)
  })

  it("a worker's env option sets its SPARSEKIT_ISA and SPARSEKIT_CUDA (both read from the loading thread's process.env)", async () => {
    const w = spawn({ SPARSEKIT_ISA: 'scalar', SPARSEKIT_CUDA: '0' })
    await w.ready
    const info = await w.request({ op: 'info' })
    expect(info.cpu).toMatchObject({ isa: 'scalar', forced: true })
    expect(info.cuda).toEqual({ available: false, reason: 'disabled by SPARSEKIT_CUDA=0' })
    // This thread keeps its own choice.
    const [cpu] = sk.devices()
    expect(cpu.kind === 'cpu' && cpu.forced).toBe(process.env.SPARSEKIT_ISA ? true : false)
  })

  it('two workers load it at once and cast concurrently with the main thread', async () => {
    const [a, b] = [spawn(), spawn()]
    await Promise.all([a.ready, b.ready])
    const [ra, rb, here] = await Promise.all([
      a.request({ op: 'cast', n: 300_000, seed: 1, type: 'bfloat16' }),
      b.request({ op: 'cast', n: 300_000, seed: 2, type: 'float8e4m3fn' }),
      castHere(300_000, 3, 'int8'),
    ])
    expect(ra).toMatchObject(await castHere(300_000, 1, 'bfloat16'))
    expect(rb).toMatchObject(await castHere(300_000, 2, 'float8e4m3fn'))
    expect(here).toEqual(await castHere(300_000, 3, 'int8'))
  })

  it('terminating a worker while its casts run and wait does not crash this process (3 rounds)', async () => {
    for (let round = 0; round < 3; ++round) {
      const w = spawn()
      await w.ready
      const started = await w.request({ op: 'long', n: 1 << 24, count: 4 })
      expect(started.op).toBe('started')
      const code = await w.worker.terminate()
      expect(code).toBe(1) // terminated, not crashed
      // The main thread's executor is untouched.
      const { size } = await castHere(1000, round, 'float16')
      expect(size).toBe(1000)
    }
  })

  it('terminating a worker with casts queued frees their memory (process-wide host blocks return to the baseline)', async () => {
    const baseline = sk.memory().cpu.nativeBytes
    const w = spawn()
    await w.ready
    // Six casts of 16 Mi elements: far more work than the time it takes to terminate,
    // so most are still queued when the worker goes away.
    const started = await w.request({ op: 'long', n: 1 << 24, count: 6 })
    // Six 32 MiB outputs are allocated in the worker (the host-block registry is process-wide).
    expect((started.memory as sk.MemoryInfo).nativeBytes).toBeGreaterThanOrEqual(6 * (1 << 25))
    await w.worker.terminate()
    const back = await eventually(() => sk.memory().cpu.nativeBytes === baseline)
    expect(back, `nativeBytes ${sk.memory().cpu.nativeBytes} after terminate, ${baseline} before`).toBe(true)
  })

  it('terminating workers while their Promises keep settling (10 rounds, in a child process) does not abort the process', () => {
    // Run as a child: the failure mode is std::terminate in the whole process.
    const r = runNode(fixture('worker-churn.mjs'), ['10'], { timeoutMs: 60_000 })
    expect(r.status === 0 && r.signal === null, describeExit(r)).toBe(true)
    expect(r.stdout.trim()).toBe('ok')
  })

  it('a worker that does one cast and reaches the end of its script exits with 0', async () => {
    const dist = new URL('../dist/index.js', import.meta.url).href
    const code = `import(${JSON.stringify(dist)}).then(async (sk) => {
      const t = sk.randn([1 << 16], { seed: 5 })
      await t.cast('float16')
    })`
    const w = new Worker(code, { eval: true })
    const errors: Error[] = []
    w.on('error', (e) => errors.push(e))
    const exitCode = await new Promise<number>((resolve) => w.on('exit', resolve))
    expect(errors).toEqual([])
    expect(exitCode).toBe(0)
  })
})
