// sk.attention on a CUDA device against the float64 reference: the 16-bit
// budget (2× the error of the reference rounded to the type), lse within
// 1e-5, empty rows exactly 0 / -Infinity, no NaN; the edge cases of the CPU
// tests in float16 / bfloat16, every specified head dim, and the bench
// suite's CUDA rows at S 4096 (sampled rows). The CUDA binding on its own is
// in cuda-binding.test.ts. Skipped, with the reason printed, where no CUDA
// device is usable.
import { afterEach, describe, expect, it } from 'vitest'

import * as sk from '../../lib/index.js'
import { cudaBinding, cudaUnavailableReason } from '../../lib/native.js'
import { type AttentionCase, kBenchCudaCases, kEdgeCases, kHeadDims } from '../cases/attention.js'
import { maxRelErr } from '../fixtures/max-rel-err.js'
import { checkCase, makeInputs, runCase } from './reference.js'

const hasCuda = cudaBinding()?.status().available === true
if (!hasCuda) console.log(`cuda attention tests skipped: ${cudaUnavailableReason()}`)

const made: sk.Tensor[] = []
afterEach(() => {
  for (const t of made.splice(0)) t.dispose()
})
const inputsOf = (c: AttentionCase) => {
  const x = makeInputs(c, 7)
  made.push(x.q, x.k, x.v)
  return x
}
const onGpu = (c: AttentionCase, opts: { rowStride?: number } = {}) =>
  checkCase(c, inputsOf(c), { ...opts, device: 'cuda' })

describe.skipIf(!hasCuda)('cuda attention vs float64', () => {
  for (const type of ['bfloat16', 'float16'] as const)
    for (const c of kEdgeCases) it(`${type}: ${c.name}`, async () => void (await onGpu({ ...c, type })))

  for (const d of kHeadDims)
    it(`head dim ${d}, bfloat16, GQA 4:1, causal, Sq < Skv`, async () => {
      await onGpu({
        name: `d${d}`,
        batch: 2,
        headsQ: 8,
        headsKv: 2,
        seqQ: 200,
        seqKv: 333,
        headDim: d,
        type: 'bfloat16',
        causal: true,
      })
    })

  for (const c of kBenchCudaCases)
    it(`bench row ${c.name} (every 257th row)`, async () => void (await onGpu(c, { rowStride: 257 })))

  it('the same answer on CPU and GPU within the 16-bit budget of each (bfloat16, streaming)', async () => {
    const c: AttentionCase = {
      name: 'cpu-gpu',
      batch: 1,
      headsQ: 4,
      headsKv: 4,
      seqQ: 500,
      seqKv: 500,
      headDim: 128,
      type: 'bfloat16',
      mask: { kind: 'streaming', sink: 16, local: 100 },
      blockSize: 64,
    }
    const x = inputsOf(c)
    const cpu = await runCase(c, x)
    const gpu = await runCase(c, x, { device: 'cuda' })
    let err = 0
    let norm = 0
    for (let i = 0; i < cpu.out.length; ++i)
      ((err = Math.max(err, Math.abs(cpu.out[i] - gpu.out[i]))), (norm = Math.max(norm, Math.abs(cpu.out[i]))))
    expect(err / norm).toBeLessThan(2 ** -6) // two bf16 roundings apart at most, with margin
  })

  it('the same answer on CPU and GPU within the 16-bit budget of each (bfloat16 d128, causal, GQA 4:2)', async () => {
    const c: AttentionCase = {
      name: 'cpu-gpu causal',
      batch: 1,
      headsQ: 4,
      headsKv: 2,
      seqQ: 190,
      seqKv: 250,
      headDim: 128,
      type: 'bfloat16',
      causal: true,
    }
    const x = inputsOf(c)
    const cpu = await runCase(c, x)
    const gpu = await runCase(c, x, { device: 'cuda' })
    expect(maxRelErr(gpu.out, cpu.out)).toBeLessThan(2 ** -6) // two bf16 roundings apart at most, with margin
  })

  it('float32 on CUDA is ERR_SK_UNSUPPORTED, thrown at once', async () => {
    const host = sk.zeros([1, 1, 4, 64])
    const q = await host.to('cuda')
    made.push(host, q)
    expect(() => sk.attention(q, q, q)).toThrow(expect.objectContaining({ code: 'ERR_SK_UNSUPPORTED' }))
  })
})
