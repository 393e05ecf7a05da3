// CUDA decode over a paged KVCache (float16, bfloat16, FP8 and float32 pages)
// against the CPU, which test/numeric/decode-attention.test.ts holds to
// float64: the append kernel writes the same page bits as the CPU's (the same
// rules and rounding, csrc/core/decode.h and cast_math.h), so both decode the
// same values. Budgets: outputs within 1e-5 (max-norm relative) of the CPU's,
// only the float32 summation order differing; Quest's selection equal but for
// bounds within float32 rounding of each other, and the output then within
// 1e-5 of float64 attention over the pages the GPU selected.
import { afterEach, describe, expect, it } from 'vitest'

import * as sk from '../../lib/index.js'
import type { CudaBinding } from '../../lib/native.js'
import {
  type Append,
  budgetFor,
  decodeReference,
  type Geometry,
  relErr,
  rows,
  storedValues,
} from '../decode/reference.js'
import { loadCudaAddon } from '../fixtures/cuda-addon.js'
import { thrownCode } from '../fixtures/expect-errors.js'

const { binding, skipReason } = loadCudaAddon<CudaBinding>()
const built = binding !== undefined
const hasCuda = binding?.status().available === true
if (!built) console.log(`cuda decode tests skipped: ${skipReason}`)
else if (!hasCuda)
  console.log(`cuda decode GPU tests skipped (host-side checks still run): ${binding!.status().reason}`)

const made: { dispose(): void }[] = []
const keep = <T extends { dispose(): void }>(x: T): T => (made.push(x), x)
afterEach(() => {
  for (const x of made.splice(0)) x.dispose()
})

describe.skipIf(!built)('cuda decode: without a usable device', () => {
  it.skipIf(hasCuda)('a CUDA cache is refused with ERR_SK_DEVICE and the reason', () => {
    expect(thrownCode(() => sk.KVCache.create({ batch: 1, kvHeads: 1, headDim: 16, device: 'cuda' }))).toBe(
      'ERR_SK_DEVICE',
    )
    expect(
      thrownCode(() =>
        binding!.kvCreate({ type: 2, batch: 1, kvHeads: 1, headDim: 16, pageSize: 16, maxPages: 9, device: 0 }),
      ),
    ).toBe('ERR_SK_DEVICE')
  })
})

let seed = 100
const append = (geo: Geometry, T: number, counts?: number[], amplitude = 1): Append => {
  const n = geo.batch * geo.kvHeads * T * geo.headDim
  return { k: rows(n, seed++, amplitude), v: rows(n, seed++), T, counts: counts ?? new Array(geo.batch).fill(T) }
}

/** The same appends into a CPU and a CUDA cache. */
async function pair(geo: Geometry, appends: Append[], inType: sk.DType = 'float32') {
  const cpu = keep(await sk.KVCache.create(geo)),
    gpu = keep(await sk.KVCache.create({ ...geo, device: 'cuda' }))
  for (const a of appends) {
    const dims = [geo.batch, geo.kvHeads, a.T, geo.headDim]
    const [k, v] = [keep(sk.tensor(a.k, dims)), keep(sk.tensor(a.v, dims))].map((t) =>
      inType === 'float32' ? Promise.resolve(t) : t.cast(inType),
    )
    const [kc, vc] = [keep(await k), keep(await v)]
    await cpu.append(kc, vc, { lengths: a.counts })
    await gpu.append(keep(await kc.to('cuda')), keep(await vc.to('cuda')), { lengths: a.counts })
  }
  expect(gpu.lengths).toEqual(cpu.lengths)
  return { cpu, gpu }
}

async function both(caches: { cpu: sk.KVCache; gpu: sk.KVCache }, q: sk.Tensor, options: sk.DecodeOptions) {
  const a = await sk.decodeAttention(q, caches.cpu, { ...options, returnLse: true, returnPages: true })
  const b = await sk.decodeAttention(keep(await q.to('cuda')), caches.gpu, {
    ...options,
    returnLse: true,
    returnPages: true,
  })
  for (const t of [a.out, a.lse!, b.out, b.lse!]) keep(t)
  const f32 = async (t: sk.Tensor) =>
    Float32Array.from((await (await t.to('cpu')).cast('float32')).data as Float32Array)
  return {
    cpu: a,
    gpu: b,
    cpuOut: await f32(a.out),
    gpuOut: await f32(b.out),
    gpuLse: await f32(b.lse!),
    cpuLse: await f32(a.lse!),
  }
}

describe.skipIf(!hasCuda)('cuda decode: against the CPU', () => {
  for (const type of ['float16', 'bfloat16', 'float8e4m3fn', 'float32'] as const)
    it(`${type} pages: dense, GQA, a ragged batch appended in chunks, Tq 3; the same output and LSE`, async () => {
      const geo: Geometry = { batch: 2, kvHeads: 2, headDim: 128, pageSize: 16, type }
      const caches = await pair(geo, [append(geo, 700, [700, 333]), append(geo, 5, [1, 5]), append(geo, 1)])
      const q = keep(sk.randn([2, 8, 3, 128], { seed: 7 }))
      const r = await both(caches, q, {})
      expect(relErr(r.gpuOut, r.cpuOut)).toBeLessThanOrEqual(1e-5)
      expect(relErr(r.gpuLse, r.cpuLse)).toBeLessThanOrEqual(1e-5)
    })

  it('FP8 pages whose scale grows append by append: the same page bits (the same outputs)', async () => {
    const geo: Geometry = { batch: 1, kvHeads: 1, headDim: 64, pageSize: 64, type: 'float8e4m3fn' }
    const caches = await pair(geo, [
      append(geo, 3, undefined, 1e-3),
      append(geo, 9, undefined, 0.3),
      append(geo, 1, undefined, 50),
      append(geo, 20, undefined, 900),
    ])
    const r = await both(caches, keep(sk.randn([1, 2, 1, 64], { seed: 9 })), {})
    expect(relErr(r.gpuOut, r.cpuOut)).toBeLessThanOrEqual(1e-5)
  })

  it('float16 / bfloat16 keys and queries in; 32 query rows per KV head (two row blocks); page 128, D 256', async () => {
    const geo: Geometry = { batch: 1, kvHeads: 1, headDim: 256, pageSize: 128, type: 'bfloat16' }
    const caches = await pair(geo, [append(geo, 1000)], 'float16')
    const q = keep(sk.randn([1, 8, 4, 256], { type: 'bfloat16', seed: 3 }))
    const r = await both(caches, q, {})
    expect(r.gpu.out.type).toBe('bfloat16')
    expect(relErr(r.gpuOut, r.cpuOut)).toBeLessThanOrEqual(2 * 2 ** -8) // both round the same float32 rows to bfloat16
  })

  for (const type of ['bfloat16', 'float8e4m3fn'] as const)
    it(`Quest and streaming heads, ${type}: the CPU's pages (but near-ties), output over the GPU's own pages`, async () => {
      const geo: Geometry = { batch: 2, kvHeads: 4, headDim: 64, pageSize: 16, type }
      const appends = [append(geo, 3000, [3000, 2111])]
      const caches = await pair(geo, appends)
      const q = keep(sk.randn([2, 8, 2, 64], { seed: 11 }))
      const stored = storedValues(geo, appends)
      const q64 = Float64Array.from(q.data as Float32Array)
      for (const options of [
        { select: { method: 'quest' as const, budget: 400, sink: 16, recent: 32 } },
        { select: { method: 'quest' as const, budget: 200 }, streamingHeads: [0, 1, 0, 1] },
        { streamingHeads: { heads: [1, 1, 0, 0], sink: 64, recent: 128 } },
      ]) {
        const r = await both(caches, q, options)
        let differ = 0,
          total = 0
        for (let b = 0; b < 2; ++b)
          for (let g = 0; g < 4; ++g) {
            const a = Array.from(r.cpu.pages![b]![g]!),
              c = Array.from(r.gpu.pages![b]![g]!)
            expect(c.length).toBe(a.length)
            differ += c.filter((x) => !a.includes(x)).length
            total += c.length
          }
        expect(differ, `${differ} of ${total} pages differ`).toBeLessThanOrEqual(Math.ceil(0.02 * total))
        const ref = decodeReference(geo, q64, q.dims, stored, { pages: r.gpu.pages })
        expect(relErr(r.gpuOut, ref.out)).toBeLessThanOrEqual(budgetFor(ref))
      }
    })

  it('Quest reuse on the device: the top pages of the first call serve the next two', async () => {
    const geo: Geometry = { batch: 1, kvHeads: 1, headDim: 32, pageSize: 16, type: 'float16' }
    const gpu = keep(await sk.KVCache.create({ ...geo, device: 'cuda' }))
    const a = append(geo, 500)
    await gpu.append(
      keep(await keep(sk.tensor(a.k, [1, 1, 500, 32])).to('cuda')),
      keep(await keep(sk.tensor(a.v, [1, 1, 500, 32])).to('cuda')),
    )
    const select = { method: 'quest' as const, budget: 96, sink: 16, recent: 16, reuse: 3 }
    const tops: number[][] = []
    for (let step = 0; step < 3; ++step) {
      const q = keep(await keep(sk.randn([1, 2, 1, 32], { seed: 50 + step })).to('cuda'))
      const r = await sk.decodeAttention(q, gpu, { select, returnPages: true })
      keep(r.out)
      tops.push(Array.from(r.pages![0]![0]!).filter((p) => p !== 0 && p < Math.floor((500 - 16) / 16)))
    }
    expect(tops[1]).toEqual(tops[0])
    expect(tops[2]).toEqual(tops[0])
  })

  it('memory and dispose: pages in device memory, freed after the queued work', async () => {
    const geo: Geometry = { batch: 1, kvHeads: 8, headDim: 128, pageSize: 16, type: 'float8e4m3fn' }
    const gpu = await sk.KVCache.create({ ...geo, device: 'cuda', maxPages: 64 })
    const a = append(geo, 100)
    const dims = [1, 8, 100, 128]
    const pending = gpu.append(
      keep(await keep(sk.tensor(a.k, dims)).to('cuda')),
      keep(await keep(sk.tensor(a.v, dims)).to('cuda')),
    )
    expect(gpu.memory.pages).toBe(7)
    const out = sk.decodeAttention(keep(await keep(sk.randn([1, 8, 1, 128])).to('cuda')), gpu)
    gpu.dispose()
    await pending
    keep(await out)
    expect(thrownCode(() => gpu.memory)).toBe('ERR_SK_DISPOSED')
  })
})
