// The CUDA attention binding on its own (cuda/binding/attention.cc). The
// argument checks it shares with the CPU binding are in args.test.ts; here is
// what is its own: the instance it picks and the launch it sizes
// (attentionPick, no device needed), its refusal without a device, and on a
// GPU the kernel through the raw binding with hand-built masks (documents,
// random blocks, rule terms) against a float64 reference, within the budgets
// of cuda.test.ts (2× the error of the reference rounded to the type; lse
// within 1e-5). GPU tests are skipped, with the reason printed, without a device.
import { afterEach, describe, expect, it } from 'vitest'

import * as sk from '../../lib/index.js'
import type {
  AttentionArgs,
  AttentionBytes,
  AttentionPick,
  CudaAttentionPick,
  CudaBinding,
  DeviceBuffer,
  NativeMask,
  NativeMaskRule,
} from '../../lib/native.js'
import { attentionArgs, kBF16, kF16, kF32, nativeBlockMask, type Shape, strides } from '../fixtures/attention-args.js'
import { loadCudaAddon } from '../fixtures/cuda-addon.js'
import { maxRelErr } from '../fixtures/max-rel-err.js'
import { kLseBudget, roundTo } from './reference.js'

type RawPick = AttentionPick & CudaAttentionPick
type RawBinding = CudaBinding & {
  attentionPick(args: AttentionArgs, mask: NativeMask | null, bytes?: AttentionBytes): RawPick
}
const raw = loadCudaAddon<RawBinding>()
const built = raw.binding !== undefined
const hasCuda = raw.binding?.status().available === true
if (!built) console.log(`cuda attention binding tests skipped: ${raw.skipReason}`)
else if (!hasCuda) console.log(`cuda attention binding GPU tests skipped: ${raw.binding!.status().reason}`)
const shape: Shape = { b: 2, hq: 4, hkv: 2, sq: 100, skv: 130, d: 64 }

describe.skipIf(!built)('cuda attention binding: the instance and the launch (attentionPick, no device needed)', () => {
  const pick = (sh: Shape, extra: Partial<AttentionArgs> = {}, mask: NativeMask | null = null) =>
    raw.binding!.attentionPick(attentionArgs(sh, extra), mask)

  it('picks the smallest compiled head dim that holds the call', () => {
    const p = pick({ ...shape, d: 128 })
    expect(p).toMatchObject({ kernel: 'attn_fwd_hdim128_bf16', headDim: 128, blockM: 64, blockN: 64, vectorized: true })
    expect(p.grid).toEqual([Math.ceil(shape.sq / 64), shape.hq, shape.b])
    expect(pick({ ...shape, d: 80 }, { dtype: kF16 }).kernel).toBe('attn_fwd_hdim96_f16')
    expect(pick({ ...shape, d: 256 }).blockN).toBe(32)
    // head dim 36 is not whole 16-byte chunks: the element-wise loader
    expect(pick({ ...shape, d: 36 }).vectorized).toBe(false)
  })

  it('float32 is refused with a hint to cast', () => {
    expect(() => pick(shape, { dtype: kF32 })).toThrow(/float16 or bfloat16; cast first/)
  })

  it('a mask sizes the grid by mask rows', () => {
    const m = nativeBlockMask({ batch: 1, heads: 1, sq: 300, skv: 300, qBlock: 256, kvBlock: 48 }, () => 1)
    expect(pick({ ...shape, sq: 300, skv: 300 }, {}, m).grid[0]).toBe(2 * 4) // 2 mask rows × 4 tiles of 64
    const small = nativeBlockMask({ batch: 1, heads: 1, sq: 100, skv: 100, qBlock: 16, kvBlock: 16 }, () => 2)
    expect(pick({ ...shape, sq: 100, skv: 100 }, {}, small).grid[0]).toBe(7)
  })
})

describe.skipIf(!built || hasCuda)('cuda attention binding without a device', () => {
  it('attention() throws ERR_SK_DEVICE with the reason, before looking at its arguments', () => {
    const b = raw.binding!
    for (const call of [
      () => b.attention({} as never, {} as never, {} as never, {} as never, null, attentionArgs(shape), null),
      () => (b.attention as unknown as () => unknown)(),
    ]) {
      let err: unknown
      try {
        call()
      } catch (e) {
        err = e
      }
      expect((err as { code?: string }).code).toBe('ERR_SK_DEVICE')
      expect((err as Error).message).toContain(b.status().reason)
    }
  })
})

type Half = 'float16' | 'bfloat16'
interface RawCase extends Shape {
  name: string
  type: Half
  causal?: boolean
  bshd?: boolean
  mask?: (sh: Shape) => NativeMask
  lse?: boolean
}

/** xorshift32 + Box–Muller: N(0, 1) test data independent of the code under test. */
function normals(n: number, seed: number): Float32Array {
  const out = new Float32Array(n)
  let x = seed >>> 0 || 1
  const next = () => {
    x ^= x << 13
    x ^= x >>> 17
    x ^= x << 5
    return ((x >>> 0) + 0.5) / 4294967296
  }
  for (let i = 0; i < n; i += 2) {
    const r = Math.sqrt(-2 * Math.log(next())),
      t = 2 * Math.PI * next()
    out[i] = r * Math.cos(t)
    if (i + 1 < n) out[i + 1] = r * Math.sin(t)
  }
  return out
}

/** Token visibility of a rule, written here (kinds 1 causal, 2 window, 3 streaming, 4 documents). */
function ruleVisible(r: NativeMaskRule, i: number, j: number, off: number): boolean {
  const last = i + off
  if (r.kind === 1) return j <= last
  if (r.kind === 2) return j <= last && last - r.window! < j
  if (r.kind === 3) return j <= last && (j < r.sink! || last - j < r.local!)
  if (r.kind === 4) return r.kvSeg![j] === -1 || r.qSeg![i] === -2 || r.qSeg![i] === r.kvSeg![j]
  return false
}

/** out [B, Hq, Sq, D] and lse in float64 from the rounded inputs (element (b, h, s, d) at the args' strides). */
function rawReference(
  c: RawCase,
  a: AttentionArgs,
  q: Float32Array,
  k: Float32Array,
  v: Float32Array,
  mask: NativeMask | null,
) {
  const out = new Float64Array(c.b * c.hq * c.sq * c.d),
    lse = new Float64Array(c.b * c.hq * c.sq)
  const off = c.skv - c.sq,
    group = c.hq / c.hkv
  const s = new Float64Array(c.skv)
  for (let b = 0; b < c.b; ++b)
    for (let h = 0; h < c.hq; ++h)
      for (let i = 0; i < c.sq; ++i) {
        const g = Math.floor(h / group)
        let mx = -Infinity
        for (let j = 0; j < c.skv; ++j) {
          let vis = !c.causal || j <= i + off
          if (vis && mask) {
            const row =
              ((mask.batch === 1 ? 0 : b) * mask.heads + (mask.heads === 1 ? 0 : h)) * mask.nQBlocks +
              Math.floor(i / mask.qBlock)
            const kb = Math.floor(j / mask.kvBlock),
              n = mask.nKvBlocks
            const full = mask.fullIdx.subarray(row * n, row * n + mask.fullNum[row]!).includes(kb)
            const part = mask.partialIdx.subarray(row * n, row * n + mask.partialNum[row]!).includes(kb)
            vis =
              full ||
              (part && (mask.rules.length === 0 || mask.rules.some((t) => t.every((r) => ruleVisible(r, i, j, off)))))
          }
          if (!vis) {
            s[j] = -Infinity
            continue
          }
          let dot = 0
          for (let d = 0; d < c.d; ++d)
            dot +=
              q[b * a.qStrides[0] + h * a.qStrides[1] + i * a.qStrides[2] + d]! *
              k[b * a.kStrides[0] + g * a.kStrides[1] + j * a.kStrides[2] + d]!
          s[j] = dot * a.scale
          mx = Math.max(mx, s[j]!)
        }
        const o = (b * c.hq + h) * c.sq + i
        if (mx === -Infinity) {
          lse[o] = -Infinity
          continue
        }
        let sum = 0
        for (let j = 0; j < c.skv; ++j) sum += s[j] = Math.exp(s[j]! - mx)
        lse[o] = mx + Math.log(sum)
        for (let j = 0; j < c.skv; ++j)
          if (s[j] !== 0)
            for (let d = 0; d < c.d; ++d)
              out[o * c.d + d] += (s[j]! / sum) * v[b * a.vStrides[0] + g * a.vStrides[1] + j * a.vStrides[2] + d]!
      }
  return { out, lse }
}

const buffers: DeviceBuffer[] = []
afterEach(() => {
  for (const buf of buffers.splice(0)) buf.free()
})

async function toType(f: Float32Array, type: Half): Promise<{ bits: Uint16Array; values: Float32Array }> {
  const t = await sk.tensor(f, [f.length]).cast(type)
  const back = await t.cast('float32')
  return { bits: t.data as Uint16Array, values: back.data as Float32Array }
}

async function upload(bits: ArrayBufferView): Promise<DeviceBuffer> {
  const buf = raw.binding!.alloc(0, Math.max(bits.byteLength, 16))
  buffers.push(buf)
  await raw.binding!.copyToDevice(bits, buf, bits.byteLength)
  return buf
}

async function runRaw(c: RawCase) {
  const b = raw.binding!
  const a = attentionArgs(c, { dtype: c.type === 'float16' ? kF16 : kBF16, causal: c.causal ?? false })
  if (c.bshd)
    Object.assign(a, {
      qStrides: strides(c.b, c.hq, c.sq, c.d, true),
      kStrides: strides(c.b, c.hkv, c.skv, c.d, true),
      vStrides: strides(c.b, c.hkv, c.skv, c.d, true),
      outStrides: strides(c.b, c.hq, c.sq, c.d, true),
    })
  const mask = c.mask ? c.mask(c) : null
  const q = await toType(normals(c.b * c.hq * c.sq * c.d, 1), c.type)
  const k = await toType(normals(c.b * c.hkv * c.skv * c.d, 2), c.type)
  const v = await toType(normals(c.b * c.hkv * c.skv * c.d, 3), c.type)
  const outBytes = c.b * c.hq * c.sq * c.d * 2
  const [qd, kd, vd] = [await upload(q.bits), await upload(k.bits), await upload(v.bits)]
  const od = b.alloc(0, Math.max(outBytes, 16)),
    ld = b.alloc(0, Math.max(c.b * c.hq * c.sq * 4, 16))
  buffers.push(od, ld)
  await b.attention(qd, kd, vd, od, c.lse === false ? null : ld, a, mask)
  const outBits = new Uint16Array(outBytes / 2),
    lse = new Float32Array(c.b * c.hq * c.sq)
  await b.copyToHost(od, outBits, outBytes)
  await b.copyToHost(ld, lse, lse.byteLength)
  const strided = (await sk.tensor(outBits, [outBits.length], c.type).cast('float32')).data as Float32Array
  const out = new Float64Array(c.b * c.hq * c.sq * c.d) // the output in [B, Hq, Sq, D] order, like the reference
  for (let bi = 0; bi < c.b; ++bi)
    for (let h = 0; h < c.hq; ++h)
      for (let i = 0; i < c.sq; ++i)
        for (let d = 0; d < c.d; ++d)
          out[((bi * c.hq + h) * c.sq + i) * c.d + d] =
            strided[bi * a.outStrides[0] + h * a.outStrides[1] + i * a.outStrides[2] + d]!
  const ref = rawReference(c, a, q.values, k.values, v.values, mask)
  const err = maxRelErr(out, ref.out)
  const budget =
    2 *
    maxRelErr(
      ref.out.map((x) => roundTo(c.type, x)),
      ref.out,
    ) // FlashAttention's rule
  let lseErr = 0
  if (c.lse !== false)
    for (let o = 0; o < lse.length; ++o) {
      if (ref.lse[o] === -Infinity) expect(lse[o], `lse row ${o}`).toBe(-Infinity)
      else lseErr = Math.max(lseErr, Math.abs(lse[o]! - ref.lse[o]!) / Math.max(1, Math.abs(ref.lse[o]!)))
    }
  console.log(
    `${c.name}: out error ${err.toExponential(2)} (budget ${budget.toExponential(2)}), lse error ${lseErr.toExponential(2)}`,
  )
  expect(err).toBeLessThanOrEqual(budget)
  expect(lseErr).toBeLessThanOrEqual(kLseBudget)
}

const causalBlocks = (qBlock: number, kvBlock: number) => (sh: Shape) => {
  const off = sh.skv - sh.sq
  return nativeBlockMask({ batch: 1, heads: 1, sq: sh.sq, skv: sh.skv, qBlock, kvBlock }, (_b, _h, qb, kb) => {
    const qFirst = qb * qBlock,
      qLast = Math.min(sh.sq, (qb + 1) * qBlock) - 1,
      kFirst = kb * kvBlock,
      kLast = Math.min(sh.skv, (kb + 1) * kvBlock) - 1
    return kFirst > qLast + off ? 0 : kLast <= qFirst + off ? 1 : 2
  })
}
/** A random ~50% block pattern per (batch, head), half of it partial under the given rules. */
const randomBlocks = (qBlock: number, kvBlock: number, rules: NativeMaskRule[][]) => (sh: Shape) => {
  let x = 12345
  const rnd = () => {
    x ^= x << 13
    x ^= x >>> 17
    x ^= x << 5
    return (x >>> 0) / 4294967296
  }
  return nativeBlockMask({ batch: sh.b, heads: sh.hq, sq: sh.sq, skv: sh.skv, qBlock, kvBlock, rules }, () => {
    const r = rnd()
    return r < 0.25 ? 1 : r < 0.5 ? 2 : 0
  })
}
const documents = (sh: Shape): NativeMask => {
  const qSeg = new Int32Array(sh.sq),
    kvSeg = new Int32Array(sh.skv)
  for (let j = 0; j < sh.skv; ++j) kvSeg[j] = j < 20 ? -1 : Math.floor(j / 50)
  for (let i = 0; i < sh.sq; ++i) qSeg[i] = i >= sh.sq - 10 ? -2 : Math.floor((i + sh.skv - sh.sq) / 50)
  return nativeBlockMask(
    { batch: 1, heads: 1, sq: sh.sq, skv: sh.skv, qBlock: 32, kvBlock: 32, rules: [[{ kind: 4, qSeg, kvSeg }]] },
    () => 2,
  )
}

/** A case: name, type, [b, hq, hkv, sq, skv, d], and what else it sets. */
const rc = (name: string, type: Half, [b, hq, hkv, sq, skv, d]: number[], more: Partial<RawCase> = {}): RawCase => ({
  ...{ name, type, b: b!, hq: hq!, hkv: hkv!, sq: sq!, skv: skv!, d: d! },
  ...more,
})

const rawCases: RawCase[] = [
  rc('dense bf16 d128 GQA, lengths not multiples of the tile', 'bfloat16', [2, 4, 2, 130, 203, 128]),
  rc('dense fp16 d64 MQA causal, Sq < Skv (chunked prefill)', 'float16', [1, 3, 1, 77, 200, 64], { causal: true }),
  rc('causal fp16 d64, Sq > Skv: leading rows see nothing (zeros, lse -inf)', 'float16', [1, 2, 2, 150, 40, 64], {
    causal: true,
  }),
  rc('causal bf16 d128 square 256', 'bfloat16', [1, 2, 1, 256, 256, 128], { causal: true }),
  rc('bf16 d80 (runs on the 96 kernel, zero padding), bshd strides', 'bfloat16', [2, 2, 1, 65, 97, 80], { bshd: true }),
  rc('fp16 d36: element-wise loads (rows not 16-byte chunks)', 'float16', [1, 2, 2, 70, 90, 36], { causal: true }),
  rc('fp16 d32', 'float16', [1, 1, 1, 64, 100, 32]),
  rc('bf16 d256 causal', 'bfloat16', [1, 2, 1, 100, 100, 256], { causal: true }),
  rc('empty keys: Skv = 0', 'float16', [1, 1, 1, 20, 0, 64]),
  rc('mask: causal blocks 64×64 with the causal rule', 'bfloat16', [1, 2, 1, 200, 200, 128], {
    mask: causalBlocks(64, 64),
  }),
  rc('mask: causal blocks 128×128 + causal flag, Sq < Skv', 'float16', [1, 2, 2, 180, 300, 64], {
    causal: true,
    mask: causalBlocks(128, 128),
  }),
  rc('mask: q block 32 (< tile), kv block 48 (not a multiple of the key tile)', 'float16', [2, 2, 1, 150, 170, 64], {
    mask: randomBlocks(32, 48, [[{ kind: 2, window: 40 }]]),
  }),
  rc('mask: per (batch, head) random blocks 128×256, streaming rule OR window', 'bfloat16', [2, 2, 2, 300, 600, 128], {
    mask: randomBlocks(128, 256, [[{ kind: 3, sink: 8, local: 64 }], [{ kind: 2, window: 100 }]]),
  }),
  rc('mask: documents rule (prefix, query segment)', 'bfloat16', [1, 2, 1, 120, 250, 64], { mask: documents }),
  rc('mask: rows with no blocks output zeros', 'float16', [1, 1, 1, 128, 128, 64], {
    mask: (sh) =>
      nativeBlockMask({ batch: 1, heads: 1, sq: sh.sq, skv: sh.skv, qBlock: 64, kvBlock: 64 }, (_b, _h, qb) =>
        qb === 0 ? 1 : 0,
      ),
  }),
  rc('no lse requested', 'float16', [1, 1, 1, 33, 33, 64], { lse: false }),
]

describe.skipIf(!hasCuda)(
  'cuda attention binding: the kernel vs a float64 reference (2× the rounding of the reference)',
  () => {
    for (const c of rawCases) it(c.name, () => runRaw(c))
  },
)
