// The CPU executor: kernels run off the JS thread and off libuv's pool, ops on
// one device settle in the order they were queued, inputs stay alive until
// their op is done, Node exits on its own when nothing is pending, and
// SPARSEKIT_ISA forces (or refuses) a kernel set at load.
import { pbkdf2 } from 'node:crypto'

import { describe, expect, it } from 'vitest'

import * as sk from '../lib/index.js'
import {
  describeExit,
  distMissingReason,
  fixture,
  hasDist,
  lastJson,
  runNode,
  warnIfDistStale,
} from './fixtures/child.js'

const kBig = 1 << 26 // 64 Mi elements: a cast that takes a while on any machine

/** A float32 tensor of kBig elements in sparsekit memory, made without the slow JS randn loop. */
function bigTensor(value: number): sk.Tensor {
  const t = sk.zeros([kBig])
  ;(t.data as Float32Array).fill(value)
  return t
}

/** Counts event-loop turns (setImmediate) until stopped. */
function loopCounter(): { readonly turns: number; stop(): void } {
  let turns = 0
  let running = true
  const tick = () => {
    if (!running) return
    turns += 1
    setImmediate(tick)
  }
  setImmediate(tick)
  return {
    get turns() {
      return turns
    },
    stop() {
      running = false
    },
  }
}

describe('off the JS thread', () => {
  it('the event loop keeps turning while a 64 Mi-element cast runs', async () => {
    const t = bigTensor(1.5)
    // A kernel on the JS thread would block every turn until it returned.
    // Retried a few times so a cast that finishes within one turn cannot fail this.
    let turnsDuring = 0
    for (let attempt = 0; attempt < 5 && turnsDuring === 0; ++attempt) {
      const counter = loopCounter()
      const h = await t.cast('float16')
      turnsDuring = counter.turns
      counter.stop()
      expect(h.data[kBig - 1]).toBe(0x3e00)
      h.dispose()
    }
    t.dispose()
    expect(turnsDuring).toBeGreaterThan(0)
  })

  it("casts finish while every libuv pool thread is busy (sparsekit never uses libuv's pool)", async () => {
    const poolSize = Number(process.env.UV_THREADPOOL_SIZE ?? 4)
    let poolDone = 0
    const busy = Array.from(
      { length: poolSize },
      () =>
        new Promise<void>((resolve) => pbkdf2('pw', 'salt', 500_000, 32, 'sha256', () => ((poolDone += 1), resolve()))),
    )
    const t = sk.tensor(new Float32Array(1 << 16).fill(2))
    const h = await t.cast('bfloat16')
    const poolDoneAtCast = poolDone
    expect(h.data[0]).toBe(0x4000)
    h.dispose()
    t.dispose()
    await Promise.all(busy)
    // Had the cast needed a pool thread, it would have waited for a pbkdf2 to end.
    expect(poolDoneAtCast).toBe(0)
  })
})

describe('queue order and correctness', () => {
  it('60 concurrent casts of mixed sizes and types settle in queue order with the right values', async () => {
    const types: sk.DType[] = ['float16', 'bfloat16', 'float8e4m3fn', 'float8e5m2', 'int8', 'uint8', 'int32', 'float32']
    const jobs = Array.from({ length: 60 }, (_, i) => {
      // Big and tiny ops interleave: a tiny one can only settle first if order is broken.
      const n = i % 3 === 0 ? 400_000 + i : 1 + i
      const src = sk.randn([n], { seed: i })
      return { i, src, type: types[i % types.length] }
    })
    const order: number[] = []
    const outs = await Promise.all(
      jobs.map(({ i, src, type }) =>
        src.cast(type).then((out) => {
          order.push(i)
          return out
        }),
      ),
    )
    try {
      expect(order).toEqual(jobs.map((j) => j.i))
      for (const { i, src, type } of jobs) {
        // Float targets: the number-array path rounds on the JS thread with castSync,
        // the same kernel, so the executor's chunked run must give identical bits.
        // Integer targets: the documented rule (round half to even, saturate).
        const got = outs[i].data
        if (type === 'int8' || type === 'uint8' || type === 'int32') {
          const [lo, hi] = type === 'int8' ? [-128, 127] : type === 'uint8' ? [0, 255] : [-(2 ** 31), 2 ** 31 - 1]
          for (let k = 0; k < src.size; k += 997) {
            const v = src.data[k]
            const even = Math.abs(v % 1) === 0.5 ? 2 * Math.round(v / 2) : Math.round(v)
            expect(got[k], `job ${i} [${k}] = ${v}`).toBe(Math.min(hi, Math.max(lo, even)) + 0)
          }
        } else {
          const ref = sk.tensor(Array.from(src.data as Float32Array), undefined, type)
          const same = Buffer.from(got.buffer, got.byteOffset, got.byteLength).equals(
            Buffer.from(ref.data.buffer, 0, ref.data.byteLength),
          )
          ref.dispose()
          expect(same, `job ${i} (${type})`).toBe(true)
        }
      }
    } finally {
      for (const o of outs) o.dispose()
      for (const j of jobs) j.src.dispose()
    }
  })

  it('a failing op in the queue rejects alone; the ops around it still succeed in order', async () => {
    const a = sk.tensor([1, 2])
    const bad = sk.tensor([1, 1, 1, 0], [1, 4]) // three non-zeros in a group of 4: the 2:4 kernel refuses it
    const b = sk.tensor([5, 6])
    const order: string[] = []
    const results = await Promise.allSettled([
      a.cast('int32').then((o) => (order.push('a'), o)),
      sk.sparsify(bad, { format: '2:4' }).then((o) => (order.push('bad'), o)),
      b.cast('int32').then((o) => (order.push('b'), o)),
    ])
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled'])
    expect((results[1] as PromiseRejectedResult).reason).toMatchObject({ code: 'ERR_SK_INVALID_ARGUMENT' })
    expect(order).toEqual(['a', 'b'])
    expect(Array.from((results[2] as PromiseFulfilledResult<sk.Tensor>).value.data)).toEqual([5, 6])
    for (const r of results) if (r.status === 'fulfilled') r.value.dispose()
    for (const t of [a, bad, b]) t.dispose()
  })

  it('a buffer detached before the call is an argument error: the op throws at once and queues nothing', () => {
    const owner = sk.tensor([3, 4])
    const gone = sk.tensor(owner) // an alias whose memory the owner's dispose() takes away
    owner.dispose()
    expect(() => gone.cast('int32')).toThrow(expect.objectContaining({ code: 'ERR_SK_DISPOSED' }))
    gone.dispose()
  })
})

describe('inputs stay alive until their op is done', () => {
  it('dispose() of an input while its cast is queued: right output; the memory is held until the op is done', async () => {
    const src = sk.randn([1 << 20], { seed: 77 })
    const want = sk.tensor(Array.from(src.data as Float32Array), undefined, 'bfloat16')
    const blocker = bigTensor(0.25)
    const ahead = blocker.cast('float16') // keeps the next op queued while we dispose
    const before = sk.memory().cpu
    const p = src.cast('bfloat16')
    const afterQueue = sk.memory().cpu
    src.dispose()
    const afterDispose = sk.memory().cpu
    expect(afterDispose.tensors).toBe(afterQueue.tensors - 1)
    // The block is still referenced by the queued op: not freed yet.
    expect(afterDispose.nativeBytes).toBe(afterQueue.nativeBytes)
    const out = await p
    expect(Array.from(out.data)).toEqual(Array.from(want.data))
    // Once the op is done the input's 4 MiB are gone; only the output remains.
    expect(sk.memory().cpu.nativeBytes).toBe(before.nativeBytes - (1 << 22) + (1 << 21))
    for (const t of [out, want, blocker, await ahead]) t.dispose()
  })

  it('dispose() of a wrapped caller array while queued: the caller’s array still feeds the op', async () => {
    const values = new Float32Array(4096).map((_, i) => i - 2048)
    const t = sk.tensor(values)
    const blocker = bigTensor(0.5)
    const ahead = blocker.cast('float16')
    const p = t.cast('int32')
    t.dispose()
    const out = await p
    expect(Array.from(out.data)).toEqual(Array.from(values))
    out.dispose()
    blocker.dispose()
    ;(await ahead).dispose()
  })
})

describe.skipIf(!hasDist)('the process around the executor (child processes)', () => {
  if (!hasDist) console.warn(`skipping executor child-process tests: ${distMissingReason}`)
  warnIfDistStale()
  const child = fixture('executor-child.mjs')

  it('a script that does one cast exits on its own with 0 (no hang: 20 s limit)', () => {
    const r = runNode(child, ['one-cast'], { timeoutMs: 20_000 })
    expect(r.status === 0 && r.signal === null, describeExit(r)).toBe(true)
    expect(lastJson(r)).toEqual({ size: 1 << 20 })
  })

  it('a script that only loads the addon exits on its own (an idle executor keeps nothing alive)', () => {
    const r = runNode(child, ['load-only'], { timeoutMs: 20_000 })
    expect(r.status === 0 && r.signal === null, describeExit(r)).toBe(true)
  })

  it('a cast nobody awaits keeps Node alive until it settles, then Node exits', () => {
    const r = runNode(child, ['pending-cast'], { timeoutMs: 20_000 })
    expect(r.status === 0 && r.signal === null, describeExit(r)).toBe(true)
    expect(lastJson(r)).toEqual({ settled: 1 << 22 })
  })

  it('SPARSEKIT_ISA=bogus → the load fails with ERR_SK_NATIVE_LOAD and says how to fix it', () => {
    const r = runNode(child, ['load-only'], { env: { SPARSEKIT_ISA: 'bogus' } })
    expect(r.status === 0 && r.signal === null, describeExit(r)).toBe(true)
    const { error } = lastJson<{ error: { sk: boolean; code: string; message: string } }>(r)
    expect(error.sk).toBe(true)
    expect(error.code).toBe('ERR_SK_NATIVE_LOAD')
    expect(error.message).toContain("'bogus'")
    expect(error.message).toContain('SPARSEKIT_ISA')
    expect(error.message).toMatch(/Unset SPARSEKIT_ISA/)
  })

  const [cpu] = sk.devices()
  const supported = cpu.kind === 'cpu' ? cpu.supportedIsas : []
  const unsupported = ['neon', 'avx512', 'avx2'].find((isa) => !supported.includes(isa))
  it.skipIf(!unsupported)(`SPARSEKIT_ISA=${unsupported} (not runnable here) → ERR_SK_NATIVE_LOAD, not SIGILL`, () => {
    const r = runNode(child, ['load-only'], { env: { SPARSEKIT_ISA: unsupported } })
    expect(r.status === 0 && r.signal === null, describeExit(r)).toBe(true)
    const { error } = lastJson<{ error: { code: string; message: string } }>(r)
    expect(error.code).toBe('ERR_SK_NATIVE_LOAD')
    expect(error.message).toContain(`SPARSEKIT_ISA=${unsupported}`)
  })

  it('SPARSEKIT_ISA=scalar → devices()[0] reports the scalar kernels, and they give the same bits', () => {
    type Info = { cpu: { isa: string; forced: boolean; kernels: Record<string, string> }; sums: Record<string, number> }
    const scalar = runNode(child, ['info'], { env: { SPARSEKIT_ISA: 'scalar' } })
    expect(scalar.status, describeExit(scalar)).toBe(0)
    const s = lastJson<Info>(scalar)
    expect(s.cpu.isa).toBe('scalar')
    expect(s.cpu.forced).toBe(true)
    expect(s.cpu.kernels.cast).toBe('sk_cast_ukernel__scalar')
    const best = runNode(child, ['info'], { env: { SPARSEKIT_ISA: '' } })
    expect(best.status, describeExit(best)).toBe(0)
    const b = lastJson<Info>(best)
    expect(b.cpu.forced).toBe(false)
    expect(b.sums).toEqual(s.sums)
  })
})
