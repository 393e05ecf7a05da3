// CUDA dynamic sparse prefill: the binding's checks through blockScoresPick /
// gatherRowsPick, which run them on byte sizes without a device (so they are
// tested on every machine that builds the addon), and on a GPU the block
// scores and lines against the float64 references of test/prefill/reference.ts
// (and the CPU op), the gather, and the ops end to end (PBS-Attn and the
// vertical-slash plan from device lines).
//
// Budgets: scores (probabilities, from inputs already rounded to the type, so
// the reference sees the same values): max relative error ≤ 2 · 2^-8
// (bfloat16) / 2 · 2^-11 (float16) — twice the type's unit roundoff;
// attention: the CUDA attention budgets (max |out − ref| ≤ 1.6e-2 bf16).
import { afterEach, describe, expect, it } from 'vitest'

import { generatePrefill } from '../../lib/bench/prefill-gen.js'
import * as sk from '../../lib/index.js'
import { planOptions, planPermutedAttention } from '../../lib/ops/prefill.js'
import type { BlockScoresArgs, CudaBinding, GatherRowsArgs } from '../../lib/native.js'
import { blockScores, checkQkv, gatherRows } from '../../lib/prefill/native.js'
import { toF64 } from '../attention/reference.js'
import { thrownCode } from '../fixtures/expect-errors.js'
import { loadCudaAddon } from '../fixtures/cuda-addon.js'
import { type Dims, keyImportance, lineScores, meanpoolScores, xattentionScores } from '../prefill/reference.js'
import { maxRelErr } from '../fixtures/max-rel-err.js'

const { binding, skipReason } = loadCudaAddon<CudaBinding>()
const built = binding !== undefined
const hasCuda = binding?.status().available === true
if (!built) console.log(`cuda prefill tests skipped: ${skipReason}`)
else if (!hasCuda)
  console.log(`cuda prefill GPU tests skipped (host-side checks still run): ${binding!.status().reason}`)

const kF32 = 0,
  kF16 = 1,
  kBF16 = 2 // csrc/core/dtype.h
const st = (h: number, s: number, d: number): [number, number, number] => [h * s * d, s * d, d]

function scoreArgs(o: Partial<BlockScoresArgs> = {}): BlockScoresArgs {
  const a = {
    dtype: kBF16,
    method: 1 as const,
    batch: 2,
    headsQ: 4,
    headsKv: 2,
    seq: 301,
    headDim: 24,
    block: 32,
    stride: 8,
    segmentBlocks: 0,
    keyCount: 301,
    scale: 0.2,
    causal: true,
    ...o,
  }
  return {
    ...a,
    qStrides: o.qStrides ?? st(a.headsQ, a.seq, a.headDim),
    kStrides: o.kStrides ?? st(a.headsKv, a.seq, a.headDim),
  }
}
const bytesOf = (a: BlockScoresArgs) => ({
  q: a.batch * a.headsQ * a.seq * a.headDim * 2,
  k: a.batch * a.headsKv * a.seq * a.headDim * 2,
  out: a.batch * a.headsQ * (a.method === 3 ? a.seq : a.method === 4 ? 2 * a.seq : Math.ceil(a.seq / a.block) ** 2) * 4,
})

describe.skipIf(!built)('cuda prefill: host-side checks (no device needed)', () => {
  it('blockScoresPick names the kernel and sizes the scratch for each method', () => {
    const b = binding!
    for (const [method, dtype, kernel] of [
      [1, kBF16, 'sk_bf16_xattn_scores_mma'],
      [2, kF16, 'sk_f16_meanpool_scores'],
      [3, kBF16, 'sk_bf16_key_importance_mma'],
      [4, kF16, 'sk_f16_vslash_lines_mma'],
    ] as const) {
      const a = scoreArgs({ method, dtype, stride: method === 1 ? 8 : 1 })
      const s = bytesOf(a)
      const r = b.blockScoresPick(s.q, s.k, s.out, a)
      expect(r.kernel).toBe(kernel)
      const nb = Math.ceil(301 / 32)
      const scratch =
        method === 1
          ? 2 * 4 * nb * 4 * nb * 4
          : method === 2
            ? 2 * 6 * nb * 24 * 4
            : 2 * 4 * Math.ceil(301 / 64) * 32 * 8 + 2 * 4 * 32 * 4 // 3, 4: every key
      expect(r.scratchBytes).toBe(scratch)
    }
  })

  it('blockScoresPick refuses bad sizes, strides, dtypes and buffers with codes', () => {
    const b = binding!
    const code = (o: Partial<BlockScoresArgs>, shrink: Partial<Record<'q' | 'k' | 'out', number>> = {}) => {
      const a = scoreArgs(o),
        s = bytesOf(a)
      return thrownCode(() =>
        b.blockScoresPick(s.q - (shrink.q ?? 0), s.k - (shrink.k ?? 0), s.out - (shrink.out ?? 0), a),
      )
    }
    expect(code({})).toBe('returned')
    expect(code({}, { q: 1 })).toBe('ERR_SK_SHAPE')
    expect(code({}, { k: 2 })).toBe('ERR_SK_SHAPE')
    expect(code({}, { out: 4 })).toBe('ERR_SK_SHAPE')
    expect(code({ dtype: kF32 })).toBe('ERR_SK_DTYPE') // float32: cast first on CUDA
    expect(code({ dtype: 99 })).toBe('ERR_SK_DTYPE')
    expect(code({ stride: 5 })).toBe('ERR_SK_INVALID_ARGUMENT') // does not divide 32
    expect(code({ stride: 0 })).toBe('ERR_SK_INVALID_ARGUMENT')
    expect(code({ method: 2, stride: 8 })).toBe('ERR_SK_INVALID_ARGUMENT')
    expect(code({ method: 5 as 1 })).toBe('ERR_SK_INVALID_ARGUMENT')
    expect(code({ method: 4, stride: 8 })).toBe('ERR_SK_INVALID_ARGUMENT')
    expect(code({ method: 4, stride: 1 }, { out: 4 })).toBe('ERR_SK_SHAPE') // the lines: 2 · seq floats per head
    expect(code({ block: 8 })).toBe('ERR_SK_INVALID_ARGUMENT')
    expect(code({ block: 512 })).toBe('ERR_SK_INVALID_ARGUMENT')
    expect(code({ headsKv: 3 })).toBe('ERR_SK_SHAPE')
    expect(code({ headDim: 257 })).toBe('ERR_SK_SHAPE')
    expect(code({ keyCount: 302 })).toBe('ERR_SK_INVALID_ARGUMENT')
    expect(code({ keyCount: 0 })).toBe('ERR_SK_INVALID_ARGUMENT')
    expect(code({ scale: Number.NaN })).toBe('ERR_SK_INVALID_ARGUMENT')
    expect(code({ causal: 1 as unknown as boolean })).toBe('ERR_SK_INVALID_ARGUMENT')
    expect(code({ qStrides: [1, 2] as unknown as [number, number, number] })).toBe('ERR_SK_INVALID_ARGUMENT')
    expect(code({ qStrides: [-1, 0, 0] })).toBe('ERR_SK_INVALID_ARGUMENT')
    expect(code({ kStrides: [2 ** 52, 2 ** 52, 2 ** 52] })).toBe('ERR_SK_SHAPE') // overflows, never wraps
    expect(code({ batch: 2 ** 31 })).toBe('ERR_SK_SHAPE')
    expect(thrownCode(() => b.blockScoresPick(-1, 0, 0, scoreArgs()))).toBe('ERR_SK_INVALID_ARGUMENT')
    expect(thrownCode(() => b.blockScoresPick(0, 0, 0, null as unknown as BlockScoresArgs))).toBe(
      'ERR_SK_INVALID_ARGUMENT',
    )
  })

  const gArgs = (o: Partial<GatherRowsArgs> = {}): GatherRowsArgs => ({
    elemSize: 2,
    batch: 2,
    heads: 3,
    seq: 5,
    row: 8,
    srcStrides: st(3, 5, 8),
    ...o,
  })
  const ident = (n: number, seq: number) => Int32Array.from({ length: n }, (_, i) => i % seq)

  it('gatherRowsPick checks every index on the host before any kernel could read it', () => {
    const b = binding!
    const bytes = 2 * 3 * 5 * 8 * 2
    expect(b.gatherRowsPick(bytes, ident(30, 5), bytes, gArgs())).toEqual({ kernel: 'sk_gather_rows', indexBytes: 120 })
    for (const [at, bad] of [
      [0, -1],
      [7, 5],
      [29, 2 ** 31 - 1],
    ] as const) {
      const idx = ident(30, 5)
      idx[at] = bad
      expect(thrownCode(() => b.gatherRowsPick(bytes, idx, bytes, gArgs()))).toBe('ERR_SK_INVALID_ARGUMENT')
    }
    expect(thrownCode(() => b.gatherRowsPick(bytes, ident(29, 5), bytes, gArgs()))).toBe('ERR_SK_SHAPE')
    expect(
      thrownCode(() => b.gatherRowsPick(bytes, new Float32Array(30) as unknown as Int32Array, bytes, gArgs())),
    ).toBe('ERR_SK_INVALID_ARGUMENT')
    expect(thrownCode(() => b.gatherRowsPick(bytes - 2, ident(30, 5), bytes, gArgs()))).toBe('ERR_SK_SHAPE')
    expect(thrownCode(() => b.gatherRowsPick(bytes, ident(30, 5), bytes - 1, gArgs()))).toBe('ERR_SK_SHAPE')
    expect(thrownCode(() => b.gatherRowsPick(bytes, ident(30, 5), bytes, gArgs({ elemSize: 3 })))).toBe(
      'ERR_SK_INVALID_ARGUMENT',
    )
    expect(thrownCode(() => b.gatherRowsPick(bytes, ident(30, 5), bytes, gArgs({ srcStrides: [2 ** 53, 0, 0] })))).toBe(
      'ERR_SK_INVALID_ARGUMENT',
    )
    expect(thrownCode(() => b.gatherRowsPick(bytes, ident(30, 5), bytes, gArgs({ srcStrides: [2 ** 52, 0, 0] })))).toBe(
      'ERR_SK_SHAPE',
    )
    expect(b.gatherRowsPick(0, new Int32Array(0), 0, gArgs({ batch: 0 })).indexBytes).toBe(0)
  })
})

// ---- on a GPU ----

const made: sk.Tensor[] = []
const keep = <T extends sk.Tensor>(t: T): T => (made.push(t), t)
afterEach(() => {
  for (const t of made.splice(0)) t.dispose()
})

const kBudget = { bfloat16: 2 * 2 ** -8, float16: 2 * 2 ** -11 } as const
const kAttnBudget = { bfloat16: 1.6e-2, float16: 2e-3 } as const

async function inputs(d: Dims, seed: number, type: 'bfloat16' | 'float16') {
  const host = {
    q: keep(sk.randn([d.B, d.Hq, d.S, d.D], { seed, type })),
    k: keep(sk.randn([d.B, d.Hkv, d.S, d.D], { seed: seed + 1, type })),
    v: keep(sk.randn([d.B, d.Hkv, d.S, d.D], { seed: seed + 2, type })),
  }
  const dev = {
    q: keep(await host.q.to('cuda:0')),
    k: keep(await host.k.to('cuda:0')),
    v: keep(await host.v.to('cuda:0')),
  }
  return { host, dev }
}

const kGqa: Dims = { B: 2, Hq: 4, Hkv: 2, S: 301, D: 24 } // lengths that are multiples of neither block nor stride
const kWide: Dims = { B: 1, Hq: 2, Hkv: 1, S: 1000, D: 64 } // vectorized loads, several 64-column tiles

describe.skipIf(!hasCuda)('cuda prefill on a GPU: block scores vs float64', () => {
  for (const type of ['bfloat16', 'float16'] as const)
    for (const d of [kGqa, kWide]) {
      const tag = `${type} B ${d.B} H ${d.Hq}:${d.Hkv} S ${d.S} D ${d.D}`
      for (const [stride, causal, block] of [
        [8, true, 32],
        [16, false, 64],
        [1, true, 16],
      ] as const)
        it(`xattention stride ${stride}${causal ? ' causal' : ''} block ${block}, ${tag}`, async () => {
          const { host, dev } = await inputs(d, 10 + stride, type)
          const o = { method: 1, block, stride, segmentBlocks: 0, keyCount: d.S, causal } as const
          const got = await blockScores(dev.q, dev.k, checkQkv(dev.q, dev.k), o)
          const err = maxRelErr(got, xattentionScores(toF64(host.q), toF64(host.k), d, block, stride, causal))
          console.log(
            `xattention ${tag} stride ${stride}: max rel ${err.toExponential(2)} (budget ${kBudget[type].toExponential(2)})`,
          )
          expect(err).toBeLessThanOrEqual(kBudget[type])
        })
      for (const seg of [0, 2])
        it(`meanpool causal${seg ? ', own segment excluded' : ''}, ${tag}`, async () => {
          const { host, dev } = await inputs(d, 20, type)
          const got = await blockScores(dev.q, dev.k, checkQkv(dev.q, dev.k), {
            method: 2,
            block: 32,
            stride: 1,
            segmentBlocks: seg,
            keyCount: d.S,
            causal: true,
          })
          expect(maxRelErr(got, meanpoolScores(toF64(host.q), toF64(host.k), d, 32, true, seg))).toBeLessThanOrEqual(
            kBudget[type],
          )
        })
      it(`key importance of the last block, ${tag}`, async () => {
        const { host, dev } = await inputs(d, 30, type)
        const keyCount = Math.floor(d.S / 64) * 64
        const got = await blockScores(dev.q, dev.k, checkQkv(dev.q, dev.k), {
          method: 3,
          block: 32,
          stride: 1,
          segmentBlocks: 0,
          keyCount,
          causal: true,
        })
        expect(maxRelErr(got, keyImportance(toF64(host.q), toF64(host.k), d, 32, keyCount))).toBeLessThanOrEqual(
          kBudget[type],
        )
      })
      for (const queries of [32, 64])
        it(`vertical and slash lines of the last ${queries} queries, ${tag}`, async () => {
          const { host, dev } = await inputs(d, 35, type)
          const got = await blockScores(dev.q, dev.k, checkQkv(dev.q, dev.k), {
            method: 4,
            block: queries,
            stride: 1,
            segmentBlocks: 0,
            keyCount: d.S,
            causal: true,
          })
          const err = maxRelErr(got, lineScores(toF64(host.q), toF64(host.k), d, queries))
          console.log(
            `lines ${tag} queries ${queries}: max rel ${err.toExponential(2)} (budget ${kBudget[type].toExponential(2)})`,
          )
          expect(err).toBeLessThanOrEqual(kBudget[type])
        })
    }

  it('gatherRows on the device matches the CPU gather bit for bit', async () => {
    const { host, dev } = await inputs(kGqa, 40, 'bfloat16')
    const n = kGqa.B * kGqa.Hkv,
      idx = new Int32Array(n * kGqa.S)
    for (let r = 0; r < n; r++) for (let j = 0; j < kGqa.S; j++) idx[r * kGqa.S + j] = (j * 7 + r) % kGqa.S
    const a = keep(await gatherRows(host.k, idx)),
      b = keep(await gatherRows(dev.k, idx))
    expect(b.device).toBe('cuda:0')
    expect(Array.from(await b.getData())).toEqual(Array.from(await a.getData()))
  })
})

describe.skipIf(!hasCuda)('cuda prefill on a GPU: the ops end to end', () => {
  const d: Dims = { B: 1, Hq: 4, Hkv: 2, S: 1100, D: 64 }
  const maxAbs = (a: ArrayLike<number>, b: ArrayLike<number>) =>
    Array.from(a).reduce((m, x, i) => Math.max(m, Math.abs(x - b[i]!)), 0)

  it('estimateBlockMask: the CUDA mask keeps what the CPU mask keeps, up to ties at the threshold', async () => {
    const { host, dev } = await inputs(d, 50, 'bfloat16')
    for (const method of ['xattention', 'meanpool'] as const) {
      const [a, b] = [
        await sk.estimateBlockMask(host.q, host.k, { method, blockSize: 64 }),
        await sk.estimateBlockMask(dev.q, dev.k, { method, blockSize: 64 }),
      ]
      const [da, db] = [a.toDense().bits, b.toDense().bits]
      let diff = 0
      for (let i = 0; i < da.length; i++) diff += da[i] !== db[i] ? 1 : 0
      console.log(`estimateBlockMask ${method}: ${diff} of ${da.length} blocks differ between CPU and CUDA`)
      expect(diff / da.length).toBeLessThan(0.02)
    }
  })

  for (const o of [
    { method: 'pbs', segmentSize: 256 },
    { method: 'vslash', budget: 256 },
  ] as const)
    it(`permutedAttention ${o.method} with threshold 1 is dense causal attention (lines or importance, gather, permuted mask, CUDA attention)`, async () => {
      const { dev } = await inputs(d, 60, 'bfloat16')
      const dense = keep(await sk.attention(dev.q, dev.k, dev.v, { causal: true }))
      const sparse = keep(await sk.permutedAttention(dev.q, dev.k, dev.v, { ...o, blockSize: 64, threshold: 1 }))
      expect(sparse.device).toBe('cuda:0')
      expect(maxAbs(await sparse.getData(), await dense.getData())).toBeLessThanOrEqual(kAttnBudget.bfloat16)
    })

  it('vertical-slash on CUDA: the plan from device lines keeps what the CPU plan keeps, and one plan gives one output', async () => {
    const x = await generatePrefill({
      pattern: 'mixed',
      heads: 4,
      kvHeads: 2,
      seq: 3000,
      headDim: 64,
      seed: 9,
      type: 'bfloat16',
    })
    const host = { q: keep(x.q), k: keep(x.k), v: keep(x.v) }
    const dev = {
      q: keep(await host.q.to('cuda:0')),
      k: keep(await host.k.to('cuda:0')),
      v: keep(await host.v.to('cuda:0')),
    }
    const o = planOptions({ blockSize: 64, budget: 512 })
    const [a, b] = [await planPermutedAttention(host.q, host.k, o), await planPermutedAttention(dev.q, dev.k, o)]
    ;(a.kPerm.dispose(), b.kPerm.dispose())
    const [da, db] = [a.mask.toDense().bits, b.mask.toDense().bits]
    let diff = 0
    for (let i = 0; i < da.length; i++) diff += da[i] !== db[i] ? 1 : 0
    console.log(`vslash plan: ${diff} of ${da.length} blocks differ between CPU and CUDA lines`)
    expect(diff / da.length).toBeLessThan(0.02)
    const cpu = keep(
      await sk.permutedBlockAttention(host.q, host.k, host.v, { permutation: a.permutation, mask: a.mask }),
    )
    const gpu = keep(await sk.permutedBlockAttention(dev.q, dev.k, dev.v, { permutation: a.permutation, mask: a.mask }))
    expect(maxAbs(await gpu.getData(), await cpu.getData())).toBeLessThanOrEqual(kAttnBudget.bfloat16)
  })

  it('permutedBlockAttention: CUDA and CPU agree on one permutation and mask', async () => {
    const { host, dev } = await inputs(d, 70, 'bfloat16')
    const permutation = await sk.segmentPermutation(host.q, host.k, { blockSize: 64, segmentSize: 256 })
    const devPerm = await sk.segmentPermutation(dev.q, dev.k, { blockSize: 64, segmentSize: 256 })
    expect(devPerm.dims).toEqual(permutation.dims)
    const a = keep(await sk.permutedBlockAttention(host.q, host.k, host.v, { permutation }))
    const b = keep(await sk.permutedBlockAttention(dev.q, dev.k, dev.v, { permutation }))
    expect(maxAbs(await b.getData(), await a.getData())).toBeLessThanOrEqual(kAttnBudget.bfloat16)
  })

  it('float32 CUDA tensors are refused with a cast hint', async () => {
    const q = keep(await keep(sk.randn([1, 1, 64, 16], { seed: 1 })).to('cuda:0'))
    expect(() => sk.estimateBlockMask(q, q)).toThrow(/cast/)
  })
})
