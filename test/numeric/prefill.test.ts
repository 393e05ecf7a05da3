// Dynamic sparse prefill, once per CPU kernel set (SPARSEKIT_ISA): the block
// scores against float64 references of the same algorithms (test/prefill/
// reference.ts), within 1e-5 relative (max norm) for float32; masks against
// the selection rules applied to those scores; permuted attention against a
// float64 reference on original positions (fp32 1e-5; bf16 2× the reference's
// own rounding error); threshold 1 against dense causal attention.
import { afterEach, describe, expect, it } from 'vitest'

import { generatePrefill } from '../../lib/bench/prefill-gen.js'
import * as sk from '../../lib/index.js'
import { planOptions, planPermutedAttention } from '../../lib/ops/prefill.js'
import { blockScores, checkQkv } from '../../lib/prefill/native.js'
import { budgetFor, kF32Budget, reference, toF64 } from '../attention/reference.js'
import {
  type Dims,
  keyImportance,
  lineScores,
  meanpoolScores,
  permutedReference,
  xattentionScores,
} from '../prefill/reference.js'
import { maxRelErr } from '../fixtures/max-rel-err.js'
import { refSelectByThreshold, refSelectTopK } from '../prefill/select-reference.js'

const made: sk.Tensor[] = []
const keep = <T extends sk.Tensor>(t: T): T => (made.push(t), t)
afterEach(() => {
  for (const t of made.splice(0)) t.dispose()
})

function inputs(d: Dims, seed: number, type: sk.DType = 'float32') {
  return {
    q: keep(sk.randn([d.B, d.Hq, d.S, d.D], { seed, type })),
    k: keep(sk.randn([d.B, d.Hkv, d.S, d.D], { seed: seed + 1, type })),
    v: keep(sk.randn([d.B, d.Hkv, d.S, d.D], { seed: seed + 2, type })),
  }
}

// batch 2, GQA 4:2, a length that is a multiple of neither block nor stride
const kGqa: Dims = { B: 2, Hq: 4, Hkv: 2, S: 301, D: 24 }

describe(`block scores vs float64 [${process.env.SPARSEKIT_ISA}]`, () => {
  for (const [stride, causal] of [
    [8, true],
    [16, true],
    [4, false],
  ] as const)
    it(`xattention stride ${stride}${causal ? ' causal' : ''}: B 2, GQA 4:2, S 301, block 32`, async () => {
      const { q, k } = inputs(kGqa, 10 + stride)
      const got = await blockScores(q, k, checkQkv(q, k), {
        method: 1,
        block: 32,
        stride,
        segmentBlocks: 0,
        keyCount: kGqa.S,
        causal,
      })
      expect(maxRelErr(got, xattentionScores(toF64(q), toF64(k), kGqa, 32, stride, causal))).toBeLessThan(kF32Budget)
    })

  for (const [causal, seg] of [
    [true, 0],
    [true, 2],
    [false, 0],
  ] as const)
    it(`meanpool${causal ? ' causal' : ''}${seg ? ', own segment of 2 blocks excluded' : ''}`, async () => {
      const { q, k } = inputs(kGqa, 20)
      const got = await blockScores(q, k, checkQkv(q, k), {
        method: 2,
        block: 32,
        stride: 1,
        segmentBlocks: seg,
        keyCount: kGqa.S,
        causal,
      })
      expect(maxRelErr(got, meanpoolScores(toF64(q), toF64(k), kGqa, 32, causal, seg))).toBeLessThan(kF32Budget)
    })

  it('key importance of the last block over complete segments', async () => {
    const { q, k } = inputs(kGqa, 30)
    const got = await blockScores(q, k, checkQkv(q, k), {
      method: 3,
      block: 32,
      stride: 1,
      segmentBlocks: 0,
      keyCount: 256,
      causal: true,
    })
    expect(maxRelErr(got, keyImportance(toF64(q), toF64(k), kGqa, 32, 256))).toBeLessThan(kF32Budget)
  })

  for (const [queries, type] of [
    [32, 'float32'],
    [64, 'float32'],
    [32, 'bfloat16'],
  ] as const)
    it(`vertical and slash lines of the last ${queries} queries (causal), ${type}`, async () => {
      const { q, k } = inputs(kGqa, 35, type)
      const got = await blockScores(q, k, checkQkv(q, k), {
        method: 4,
        block: queries,
        stride: 1,
        segmentBlocks: 0,
        keyCount: kGqa.S,
        causal: true,
      })
      expect(maxRelErr(got, lineScores(toF64(q), toF64(k), kGqa, queries))).toBeLessThan(kF32Budget)
    })

  it('bfloat16 inputs score like their float32 values', async () => {
    const { q, k } = inputs(kGqa, 40, 'bfloat16')
    const got = await blockScores(q, k, checkQkv(q, k), {
      method: 1,
      block: 32,
      stride: 8,
      segmentBlocks: 0,
      keyCount: kGqa.S,
      causal: true,
    })
    expect(maxRelErr(got, xattentionScores(toF64(q), toF64(k), kGqa, 32, 8, true))).toBeLessThan(kF32Budget)
  })
})

describe(`estimateBlockMask [${process.env.SPARSEKIT_ISA}]`, () => {
  const d: Dims = { B: 2, Hq: 4, Hkv: 2, S: 700, D: 32 }
  const nb = Math.ceil(700 / 64)

  for (const method of ['xattention', 'meanpool', 'topk'] as const)
    it(`${method}: the mask is the selection rule applied to the scores, ANDed with causal`, async () => {
      const { q, k } = inputs(d, 50)
      const mask = await sk.estimateBlockMask(q, k, {
        method,
        blockSize: 64,
        stride: 8,
        threshold: 0.8,
        budget: method === 'topk' ? 3 : undefined,
      })
      const scores = await blockScores(q, k, checkQkv(q, k), {
        method: method === 'meanpool' ? 2 : 1,
        block: 64,
        stride: method === 'meanpool' ? 1 : 8,
        segmentBlocks: 0,
        keyCount: 700,
        causal: true,
      })
      const rows = d.B * d.Hq * nb
      const bits =
        method === 'topk' ? refSelectTopK(scores, rows, nb, 3, true) : refSelectByThreshold(scores, rows, nb, 0.8, true)
      expect(Array.from(mask.toDense().bits)).toEqual(Array.from(bits))
      const dense = mask.toDense().bits
      for (let r = 0; r < rows; r++) {
        const qb = r % nb
        expect(dense[r * nb]).toBe(1) // sink
        expect(dense[r * nb + qb]).toBe(1) // diagonal
        for (let kb = qb + 1; kb < nb; kb++) expect(dense[r * nb + kb]).toBe(0) // block-causal
        if (method === 'topk')
          expect(dense.subarray(r * nb, (r + 1) * nb).reduce((s, x) => s + x, 0)).toBe(Math.min(3, qb + 1))
      }
      expect(mask.batch).toBe(2)
      expect(mask.heads).toBe(4)
    })

  it('threshold 1 keeps every causal block: attention equals dense causal within 1e-5', async () => {
    const { q, k, v } = inputs(d, 60)
    const mask = await sk.estimateBlockMask(q, k, { blockSize: 64, threshold: 1 })
    expect(mask.density).toBeCloseTo(sk.BlockMask.causal({ qLen: 700, kvLen: 700, blockSize: 64 }).density, 12)
    const out = keep(await sk.attention(q, k, v, { mask }))
    const ref = keep(await sk.attention(q, k, v, { causal: true }))
    expect(maxRelErr(toF64(out), toF64(ref))).toBeLessThan(kF32Budget)
  })
})

describe(`permuted attention, PBS-Attn [${process.env.SPARSEKIT_ISA}]`, () => {
  const d: Dims = { B: 2, Hq: 4, Hkv: 2, S: 600, D: 32 } // 2 complete segments of 256 and a tail of 88

  it('segmentPermutation: bijections inside each complete segment, the tail in order, importance decreasing', async () => {
    const { q, k } = inputs(d, 70)
    const perm = await sk.segmentPermutation(q, k, { blockSize: 64, segmentSize: 256 })
    expect(perm.dims).toEqual([2, 2, 600])
    const imp = keyImportance(toF64(q), toF64(k), d, 64, 512)
    for (let r = 0; r < 4; r++) {
      const row = Array.from(perm.indices.subarray(r * 600, (r + 1) * 600))
      for (const s0 of [0, 256]) {
        const seg = row.slice(s0, s0 + 256)
        expect([...seg].sort((a, b) => a - b)).toEqual(Array.from({ length: 256 }, (_, t) => s0 + t))
        // GQA: importance is the mean over the key head's query heads
        const b = Math.floor(r / 2),
          g = r % 2,
          w = (j: number) => imp[(b * 4 + 2 * g) * 600 + j]! + imp[(b * 4 + 2 * g + 1) * 600 + j]!
        for (let t = 1; t < 256; t++) expect(w(seg[t - 1]!)).toBeGreaterThanOrEqual(w(seg[t]!) - 1e-6)
      }
      expect(row.slice(512)).toEqual(Array.from({ length: 88 }, (_, t) => 512 + t))
    }
  })

  for (const type of ['float32', 'bfloat16'] as const)
    it(`${type}: permutedAttention equals a float64 reference on original positions (B 2, GQA, S 600)`, async () => {
      const { q, k, v } = inputs(d, 80, type)
      const plan = await planPermutedAttention(
        q,
        k,
        planOptions({ method: 'pbs', blockSize: 64, segmentSize: 256, threshold: 0.7 }),
      )
      plan.kPerm.dispose()
      const out = keep(
        await sk.permutedAttention(q, k, v, { method: 'pbs', blockSize: 64, segmentSize: 256, threshold: 0.7 }),
      )
      const ref = permutedReference(
        toF64(q),
        toF64(k),
        toF64(v),
        d,
        plan.permutation.indices,
        plan.mask.toDense().bits,
        64,
      )
      const budget = type === 'float32' ? kF32Budget : 2 * maxRelErr(ref.map(bf16), ref)
      expect(maxRelErr(toF64(out), ref)).toBeLessThan(budget)
      const all = await planPermutedAttention(
        q,
        k,
        planOptions({ method: 'pbs', blockSize: 64, segmentSize: 256, threshold: 1 }),
      ) // every block of earlier segments
      all.kPerm.dispose()
      expect(plan.mask.density).toBeLessThan(all.mask.density) // threshold 0.7 skipped some
    })

  it('threshold 1 reproduces dense causal attention (output in the original order, lse too)', async () => {
    const { q, k, v } = inputs(d, 90)
    const got = await sk.permutedAttention(q, k, v, {
      method: 'pbs',
      blockSize: 64,
      segmentSize: 128,
      threshold: 1,
      returnLse: true,
    })
    ;(keep(got.out), keep(got.lse))
    const ref = reference(
      {
        name: 'dense',
        batch: 2,
        headsQ: 4,
        headsKv: 2,
        seqQ: 600,
        seqKv: 600,
        headDim: 32,
        type: 'float32',
        causal: true,
      },
      toF64(q),
      toF64(k),
      toF64(v),
    )
    expect(maxRelErr(toF64(got.out), ref.out)).toBeLessThan(budgetFor('float32', ref, 32))
    expect(maxRelErr(got.lse.data as Float32Array, ref.lse)).toBeLessThan(1e-5)
  })

  it('causality inside segments: perturbing a key changes no output before its original position', async () => {
    const { q, k, v } = inputs(d, 100)
    const perm = await sk.segmentPermutation(q, k, { blockSize: 64, segmentSize: 256 })
    const base = keep(await sk.permutedBlockAttention(q, k, v, { permutation: perm }))
    for (const j of [5, 300, 599]) {
      const k2 = keep(sk.tensor(Float32Array.from(k.data as Float32Array), k.dims))
      const v2 = keep(sk.tensor(Float32Array.from(v.data as Float32Array), v.dims))
      for (let r = 0; r < 4; r++)
        for (let e = 0; e < 32; e++)
          (((k2.data as Float32Array)[(r * 600 + j) * 32 + e] = 9),
            ((v2.data as Float32Array)[(r * 600 + j) * 32 + e] = -9))
      const out = keep(await sk.permutedBlockAttention(q, k2, v2, { permutation: perm }))
      const a = out.data as Float32Array,
        b = base.data as Float32Array
      for (let bh = 0; bh < 8; bh++) {
        expect(a.subarray(bh * 600 * 32, (bh * 600 + j) * 32)).toEqual(b.subarray(bh * 600 * 32, (bh * 600 + j) * 32))
        expect(a.subarray((bh * 600 + j) * 32, (bh * 600 + j + 1) * 32)).not.toEqual(
          b.subarray((bh * 600 + j) * 32, (bh * 600 + j + 1) * 32),
        )
      }
    }
  })

  it('the identity permutation is causal attention; one segment falls back to dense', async () => {
    const { q, k, v } = inputs(d, 110)
    const indices = new Int32Array(4 * 600).map((_, i) => i % 600)
    const out = keep(await sk.permutedBlockAttention(q, k, v, { permutation: { indices, dims: [2, 2, 600] } }))
    const ref = keep(await sk.attention(q, k, v, { causal: true }))
    expect(maxRelErr(toF64(out), toF64(ref))).toBeLessThan(kF32Budget)
    const small = inputs({ ...d, S: 200 }, 120)
    const fallback = keep(await sk.permutedAttention(small.q, small.k, small.v, { method: 'pbs', segmentSize: 256 }))
    const dense = keep(await sk.attention(small.q, small.k, small.v, { causal: true }))
    expect(fallback.data).toEqual(dense.data)
  })
})

describe(`permuted attention, vertical-slash [${process.env.SPARSEKIT_ISA}]`, () => {
  const d: Dims = { B: 2, Hq: 4, Hkv: 2, S: 900, D: 32 } // 28.1 blocks of 32
  const o = { blockSize: 32, threshold: 0.998, budget: 200 }
  /** Generated heads (heavy columns, slash lines, local and near-uniform heads), so the plan takes every branch. */
  async function generated(type: sk.DType = 'float32') {
    const x = await generatePrefill({
      pattern: 'mixed',
      batch: d.B,
      heads: d.Hq,
      kvHeads: d.Hkv,
      seq: d.S,
      headDim: d.D,
      seed: 5,
      type,
    })
    return { q: keep(x.q), k: keep(x.k), v: keep(x.v) }
  }

  for (const type of ['float32', 'bfloat16'] as const)
    it(`${type}: the kernel computes exactly the planned keys: a float64 reference on original positions (B 2, GQA, S 900)`, async () => {
      const { q, k, v } = await generated(type)
      const plan = await planPermutedAttention(q, k, planOptions(o))
      plan.kPerm.dispose()
      const out = keep(await sk.permutedAttention(q, k, v, o))
      const ref = permutedReference(
        toF64(q),
        toF64(k),
        toF64(v),
        d,
        plan.permutation.indices,
        plan.mask.toDense().bits,
        32,
      )
      const budget = type === 'float32' ? kF32Budget : 2 * maxRelErr(ref.map(bf16), ref)
      expect(maxRelErr(toF64(out), ref)).toBeLessThan(budget)
      const causal = sk.BlockMask.causal({ qLen: d.S, kvLen: d.S, blockSize: 32 }).density
      expect(plan.mask.density).toBeLessThan(0.6 * causal) // it is sparse
    })

  it('a single heavy key far from the diagonal is always kept, at its full mass', async () => {
    const S = 2000,
      D = d.D,
      heavy = 37
    const { q, k, v } = inputs({ ...d, B: 1, S }, 130)
    const qd = q.data as Float32Array,
      kd = k.data as Float32Array
    for (let h = 0; h < d.Hq; h++) for (let i = 0; i < S; i++) qd[(h * S + i) * D] = 3 // every query: a logit near 3·16/√32 ≈ 8.5
    for (let g = 0; g < d.Hkv; g++) kd[(g * S + heavy) * D] = 16 // on key 37, about e^8 times any other key's
    const opts = { blockSize: 64, budget: 256 } // a small budget: the key must be chosen, not swept up
    const plan = await planPermutedAttention(q, k, planOptions(opts))
    plan.kPerm.dispose()
    const bits = plan.mask.toDense().bits,
      nb = Math.ceil(S / 64)
    for (let g = 0; g < d.Hkv; g++) {
      const slot = plan.permutation.indices.subarray(g * S, (g + 1) * S).indexOf(heavy)
      for (let h = g * 2; h < g * 2 + 2; h++)
        for (let qb = 1; qb < nb; qb++) expect(bits[(h * nb + qb) * nb + Math.floor(slot / 64)]).toBe(1) // every later query block
    }
    const got = await sk.permutedAttention(q, k, v, { ...opts, returnLse: true })
    ;(keep(got.out), keep(got.lse))
    const lse = got.lse.data as Float32Array
    for (const i of [100, 1000, 1999])
      // the heavy key's exp is in every later row's sum
      for (let h = 0; h < 4; h++) {
        const logit = dotRow(qd, (h * S + i) * D, kd, (Math.floor(h / 2) * S + heavy) * D, D) / Math.sqrt(D)
        expect(lse[h * S + i]!).toBeGreaterThanOrEqual(logit)
      }
  })

  it('threshold 1 reproduces dense causal attention through the gathered layout (output and lse)', async () => {
    const { q, k, v } = await generated()
    const plan = await planPermutedAttention(q, k, planOptions({ ...o, threshold: 1 }))
    plan.kPerm.dispose()
    expect(Array.from(plan.permutation.indices.subarray(0, d.S))).not.toEqual(Array.from({ length: d.S }, (_, j) => j)) // not the identity
    const got = await sk.permutedAttention(q, k, v, { ...o, threshold: 1, returnLse: true })
    const ref = await sk.attention(q, k, v, { causal: true, returnLse: true }) // dense, tested against float64 in test/attention
    ;(keep(got.out), keep(got.lse), keep(ref.out), keep(ref.lse))
    expect(maxRelErr(toF64(got.out), toF64(ref.out))).toBeLessThan(kF32Budget)
    expect(maxRelErr(got.lse.data as Float32Array, ref.lse.data as Float32Array)).toBeLessThan(1e-5)
  })

  it('causality: perturbing a key changes no output before its original position', async () => {
    const { q, k, v } = await generated()
    const base = keep(await sk.permutedAttention(q, k, v, o))
    const plan = await planPermutedAttention(q, k, planOptions(o))
    plan.kPerm.dispose()
    for (const j of [plan.permutation.indices[5]!, 500, 899]) {
      // a column, and two other keys
      const k2 = keep(sk.tensor(Float32Array.from(k.data as Float32Array), k.dims))
      const v2 = keep(sk.tensor(Float32Array.from(v.data as Float32Array), v.dims))
      for (let r = 0; r < 4; r++) for (let e = 0; e < 32; e++) (v2.data as Float32Array)[(r * d.S + j) * 32 + e] = -9
      const perm = { indices: plan.permutation.indices, dims: plan.permutation.dims }
      const out = keep(await sk.permutedBlockAttention(q, k2, v2, { permutation: perm, mask: plan.mask }))
      const a = out.data as Float32Array,
        b = base.data as Float32Array
      for (let bh = 0; bh < 8; bh++)
        expect(a.subarray(bh * d.S * 32, (bh * d.S + j) * 32)).toEqual(b.subarray(bh * d.S * 32, (bh * d.S + j) * 32))
    }
  })
})

const dotRow = (a: Float32Array, ao: number, b: Float32Array, bo: number, n: number) => {
  let s = 0
  for (let e = 0; e < n; e++) s += a[ao + e]! * b[bo + e]!
  return s
}

/** x rounded to bfloat16 (nearest even), as a number. */
function bf16(x: number): number {
  const f = new Float32Array([x]),
    u = new Uint32Array(f.buffer)
  u[0] = (u[0]! + 0x7fff + ((u[0]! >>> 16) & 1)) & 0xffff0000
  return f[0]!
}
