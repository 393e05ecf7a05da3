// sk.attention on quantised q, k, v (sk.quantize: q and k per tile, k
// smoothed, v per channel), once per CPU kernel set (SPARSEKIT_ISA).
// Budgets (issue 22): against float64 attention over the original inputs,
// the kernel's error is at most 2× that of float64 attention over the
// dequantised values (the quantisation's own error; the target is
// 1.25×, measured and printed here); against that dequantised reference the
// output is within float32's 1e-5 and the lse within 1e-5 relative (so smoothing K, which the softmax ignores, is
// added back exactly); rows with no visible key are 0 with lse -Infinity.
import { afterEach, describe, expect, it } from 'vitest'

import * as sk from '../../lib/index.js'
import { type AttentionCase, buildMask, kEdgeCases } from '../cases/attention.js'
import { fp8Inputs } from '../fixtures/fp8-inputs.js'
import { hasNaN, kF32Budget, lseErr, reference, type Reference, rowsRelErr, toF64 } from '../attention/reference.js'

const made: { dispose(): void }[] = []
const keep = <T extends { dispose(): void }>(t: T): T => (made.push(t), t)
afterEach(() => {
  for (const t of made.splice(0)) t.dispose()
})

const kRatioBudget = 2 // the kernel's error ÷ the quantisation's (issue 22's target: 1.25)
const kLseBudget = 1e-5
const ratios: string[] = []

interface Fp8Case {
  c: AttentionCase
  type?: sk.Fp8Type
  rowStride?: number
  kOffset?: number // added to every other channel of k: what smoothing removes
}

const edge = (name: string) => kEdgeCases.find((c) => c.name.startsWith(name))!

const kCases: Fp8Case[] = [
  { c: edge('fully masked rows') }, // empty rows, full tiles only
  { c: edge('sliding window 100, block 32') }, // partial tiles
  { c: edge('streaming: sink 4, local 64, block 16') },
  { c: edge('documents: prefix 40') },
  { c: edge('seqlen not a multiple of the block'), rowStride: 7 },
  { c: edge('batch 3, GQA 2:1, causal') },
  { c: edge('GQA 8:1') },
  { c: edge('Sq > Skv causal') },
  { c: edge('batch 3, per-head random mask'), type: 'float8e5m2' },
  {
    c: { ...edge('causal flag, Sq = Skv'), name: 'head dim 80, causal, e5m2 (vector tails)', headDim: 80 },
    type: 'float8e5m2',
  },
  {
    c: { ...edge('causal flag, Sq = Skv'), name: 'k with channel offsets (+6), causal', headsQ: 4, headsKv: 2 },
    kOffset: 6,
  },
]

async function run(fc: Fp8Case) {
  const { c } = fc
  const { q, k, v, q8, k8, v8, deq } = await fp8Inputs(c, 2, fc, keep)
  const opts = { rowStride: fc.rowStride }
  const orig = reference(c, toF64(q), toF64(k), toF64(v), opts)
  const ref = reference(c, deq[0], deq[1], deq[2], opts)
  const r = await sk.attention(q8, k8, v8, { mask: buildMask(c), causal: c.causal, returnLse: true })
  ;(keep(r.out), keep(r.lse))
  expect(r.out.type).toBe('float32')
  return { c, ref, orig, out: r.out.data as Float32Array, lse: r.lse.data as Float32Array }
}

function holds(x: { c: AttentionCase; ref: Reference; orig: Reference; out: Float32Array; lse: Float32Array }) {
  const { c, ref, orig, out, lse } = x
  const D = c.headDim
  const quantErr = rowsRelErr(ref.out, orig, D)
  const kernelErr = rowsRelErr(out, orig, D)
  const ratio = kernelErr / quantErr
  const ownErr = rowsRelErr(out, ref, D)
  ratios.push(
    `${c.name}: quantisation ${quantErr.toExponential(2)}, kernel ${kernelErr.toExponential(2)}, ratio ${ratio.toFixed(4)}; kernel vs the dequantised reference ${ownErr.toExponential(2)}`,
  )
  expect(hasNaN(out), 'NaN in out').toBe(false)
  expect(
    kernelErr,
    `${c.name}: kernel ${kernelErr.toExponential(2)} vs quantisation ${quantErr.toExponential(2)}`,
  ).toBeLessThanOrEqual(kRatioBudget * quantErr)
  expect(ownErr, `${c.name}: out vs the dequantised reference`).toBeLessThanOrEqual(kF32Budget)
  expect(lseErr(lse, ref), `${c.name}: lse vs the dequantised reference`).toBeLessThanOrEqual(kLseBudget)
  for (let row = 0; row < ref.empty.length; ++row) {
    if (!ref.empty[row]) continue
    expect(lse[row]).toBe(-Infinity)
    for (let i = row * D; i < (row + 1) * D; ++i)
      if (out[i] !== 0) expect.fail(`${c.name}: empty row ${row} has ${out[i]}`)
  }
}

describe('FP8 attention vs float64 over the original and the dequantised values', () => {
  for (const fc of kCases)
    it(`${fc.c.name}${fc.type === 'float8e5m2' ? ' (e5m2)' : ''}`, async () => holds(await run(fc)))
  it('fully masked rows exist in the case that tests them', async () => {
    const { ref } = await run(kCases[0])
    expect(ref.empty.some((e) => e === 1)).toBe(true)
  })
  it('reports the kernel-to-quantisation error ratios (target 1.25)', () => {
    console.log(`FP8 attention (${process.env.SPARSEKIT_ISA ?? 'auto'}):\n  ${ratios.join('\n  ')}`)
    expect(ratios.length).toBe(kCases.length)
  })
})

describe('FP8 attention: what it refuses', () => {
  const q = () => keep(sk.randn([1, 2, 64, 16], { seed: 1 }))
  const code = (f: () => unknown) => {
    try {
      const r = f() as Promise<unknown>
      return r.then(
        () => 'resolved',
        (e: sk.SparsekitError) => e.code,
      )
    } catch (e) {
      return Promise.resolve((e as sk.SparsekitError).code)
    }
  }
  it('a mix of quantised and plain tensors, FP8 types or tiles, per-channel q / k, smoothed q / v, bshd, a mask of other blocks', async () => {
    const [a, b, cc] = [q(), q(), q()]
    const q8 = keep(await sk.quantize(a, { tile: 32 }))
    const k8 = keep(await sk.quantize(b, { tile: 32, smooth: true }))
    const v8 = keep(await sk.quantize(cc, { tile: 32, perChannel: true }))
    expect(await code(() => sk.attention(q8, b, v8))).toBe('ERR_SK_DTYPE')
    expect(await code(() => sk.attention(a, k8, cc))).toBe('ERR_SK_DTYPE')
    expect(await code(() => sk.attention(q8, k8, cc))).toBe('ERR_SK_DTYPE')
    const e5 = keep(await sk.quantize(b, { tile: 32, type: 'float8e5m2' }))
    expect(await code(() => sk.attention(q8, e5, v8))).toBe('ERR_SK_DTYPE')
    const t64 = keep(await sk.quantize(b, { tile: 64 }))
    expect(await code(() => sk.attention(q8, t64, v8))).toBe('ERR_SK_INVALID_ARGUMENT')
    expect(await code(() => sk.attention(v8, k8, v8))).toBe('ERR_SK_INVALID_ARGUMENT') // per-channel q
    expect(await code(() => sk.attention(k8, k8, v8))).toBe('ERR_SK_INVALID_ARGUMENT') // smoothed q
    expect(await code(() => sk.attention(q8, k8, v8, { layout: 'bshd' }))).toBe('ERR_SK_INVALID_ARGUMENT')
    const m16 = sk.BlockMask.causal({ qLen: 64, kvLen: 64, blockSize: 16 })
    expect(await code(() => sk.attention(q8, k8, v8, { mask: m16 }))).toBe('ERR_SK_INVALID_ARGUMENT')
    const m32 = sk.BlockMask.causal({ qLen: 64, kvLen: 64, blockSize: 32 })
    const ok = await sk.attention(q8, k8, v8, { mask: m32 })
    keep(ok)
    expect(ok.dims).toEqual([1, 2, 64, 16])
    const gone = await sk.quantize(a, { tile: 32 })
    gone.dispose()
    expect(await code(() => sk.attention(gone, k8, v8))).toBe('ERR_SK_DISPOSED')
  })
  it('v quantised per tile (one scale for every channel) runs too', async () => {
    const [a, b, cc] = [q(), q(), q()]
    const r = keep(
      await sk.attention(
        keep(await sk.quantize(a, { tile: 32 })),
        keep(await sk.quantize(b, { tile: 32 })),
        keep(await sk.quantize(cc, { tile: 32 })),
      ),
    )
    expect(hasNaN(r.data as Float32Array)).toBe(false)
  })
})
