// CUDA attention: the binding's checks (through attentionPick, which runs
// them without a device, so they are tested on every machine that builds the
// addon), the no-device refusal, and on a GPU the kernel against a float64
// reference written here and against the CPU op.
//
// Budgets (inputs N(0, 1), scale 1/sqrt(D), inputs rounded to the type
// first so the reference sees the same values):
//   out: max |gpu - ref64| <= 2e-3 (float16) / 1.6e-2 (bfloat16)
//   lse: max |gpu - ref64| <= 2e-3 (both: QKᵀ and the sums are float32)

import { afterEach, describe, expect, it } from 'vitest'

import * as sk from '../../lib/index.js'
import type { AttentionArgs, CudaBinding, DeviceBuffer, NativeMask, NativeMaskRule } from '../../lib/native.js'
import { loadCudaAddon } from '../fixtures/cuda-addon.js'

type Pick = { kernel: string; headDim: number; blockM: number; blockN: number; grid: number[]; maskBytes: number; vectorized: boolean }
type Binding = CudaBinding & {
  attentionPick(args: AttentionArgs, mask: NativeMask | null, bytes?: { q: number; k: number; v: number; out: number; lse: number | null }): Pick
}
const { binding, skipReason } = loadCudaAddon<Binding>()
const built = binding !== undefined
const status = binding?.status()
const hasCuda = status?.available === true
if (!built) console.log(`cuda attention tests skipped: ${skipReason}`)
else if (!hasCuda) console.log(`cuda attention GPU tests skipped: ${status?.reason}`)

const kF16 = 1, kBF16 = 2, kF32 = 0, kI8 = 5 // csrc/core/dtype.h
const kTol = { float16: 2e-3, bfloat16: 1.6e-2 } as const
const kLseTol = 2e-3

interface Shape { b: number; hq: number; hkv: number; sq: number; skv: number; d: number }

/** Contiguous [B, H, S, D] strides, or [B, S, H, D] ("bshd") expressed as BHSD strides. */
function strides(b: number, h: number, s: number, d: number, bshd = false): [number, number, number] {
  return bshd ? [s * h * d, d, h * d] : [h * s * d, s * d, d]
}

function args(sh: Shape, extra: Partial<AttentionArgs> = {}): AttentionArgs {
  return {
    dtype: kBF16, batch: sh.b, headsQ: sh.hq, headsKv: sh.hkv, seqQ: sh.sq, seqKv: sh.skv, headDim: sh.d,
    qStrides: strides(sh.b, sh.hq, sh.sq, sh.d), kStrides: strides(sh.b, sh.hkv, sh.skv, sh.d),
    vStrides: strides(sh.b, sh.hkv, sh.skv, sh.d), outStrides: strides(sh.b, sh.hq, sh.sq, sh.d),
    scale: 1 / Math.sqrt(sh.d), causal: false, ...extra,
  }
}

/** kind(b, h, qb, kb): 0 absent, 1 full, 2 partial → the kernels' layout. */
function blockMask(o: { batch: number; heads: number; sq: number; skv: number; qBlock: number; kvBlock: number; rules?: NativeMaskRule[][] },
  kind: (b: number, h: number, qb: number, kb: number) => number): NativeMask {
  const nQ = Math.ceil(o.sq / o.qBlock), nKv = Math.ceil(o.skv / o.kvBlock), rows = o.batch * o.heads * nQ
  const m: NativeMask = {
    batch: o.batch, heads: o.heads, qBlock: o.qBlock, kvBlock: o.kvBlock, nQBlocks: nQ, nKvBlocks: nKv,
    fullNum: new Int32Array(rows), fullIdx: new Int32Array(rows * nKv), partialNum: new Int32Array(rows), partialIdx: new Int32Array(rows * nKv),
    rules: o.rules ?? [[{ kind: 1 }]],
  }
  for (let b = 0; b < o.batch; ++b) for (let h = 0; h < o.heads; ++h) for (let qb = 0; qb < nQ; ++qb) {
    const r = (b * o.heads + h) * nQ + qb
    for (let kb = 0; kb < nKv; ++kb) {
      const k = kind(b, h, qb, kb)
      if (k === 1) m.fullIdx[r * nKv + m.fullNum[r]++] = kb
      if (k === 2) m.partialIdx[r * nKv + m.partialNum[r]++] = kb
    }
  }
  return m
}

const shape: Shape = { b: 2, hq: 4, hkv: 2, sq: 100, skv: 130, d: 64 }
const bytes = (sh: Shape, heads: number, seq: number) => sh.b * heads * seq * sh.d * 2

function pickCode(sh: Shape, a: Partial<AttentionArgs>, mask: NativeMask | null = null, sizes?: Partial<Record<'q' | 'k' | 'v' | 'out' | 'lse', number | null>>): string {
  const s = { q: bytes(sh, sh.hq, sh.sq), k: bytes(sh, sh.hkv, sh.skv), v: bytes(sh, sh.hkv, sh.skv), out: bytes(sh, sh.hq, sh.sq), lse: sh.b * sh.hq * sh.sq * 4, ...sizes }
  try {
    binding!.attentionPick(args(sh, a), mask, { q: s.q ?? 0, k: s.k ?? 0, v: s.v ?? 0, out: s.out ?? 0, lse: s.lse ?? null })
    return 'returned'
  } catch (e) {
    expect(e).toBeInstanceOf(Error)
    return String((e as { code?: unknown }).code)
  }
}

describe.skipIf(!built)('cuda attention: argument checks (attentionPick, no device needed)', () => {
  const m64 = () => blockMask({ batch: 1, heads: 1, sq: shape.sq, skv: shape.skv, qBlock: 64, kvBlock: 64 }, (_b, _h, qb, kb) => (kb < qb ? 1 : kb === qb ? 2 : 0))

  it('picks the smallest compiled head dim that holds the call', () => {
    const p = binding!.attentionPick(args({ ...shape, d: 128 }), null)
    expect(p).toMatchObject({ kernel: 'attn_fwd_hdim128_bf16', headDim: 128, blockM: 64, blockN: 64, vectorized: true })
    expect(p.grid).toEqual([Math.ceil(shape.sq / 64), shape.hq, shape.b])
    expect(binding!.attentionPick(args({ ...shape, d: 80 }, { dtype: kF16 }), null).kernel).toBe('attn_fwd_hdim96_f16')
    expect(binding!.attentionPick(args({ ...shape, d: 256 }), null).blockN).toBe(32)
    // head dim 36 is not whole 16-byte chunks: the element-wise loader
    expect(binding!.attentionPick(args({ ...shape, d: 36 }), null).vectorized).toBe(false)
  })

  it('float32 is refused with a hint to cast; other dtypes are ERR_SK_DTYPE', () => {
    expect(pickCode(shape, { dtype: kF32 })).toBe('ERR_SK_UNSUPPORTED')
    expect(() => binding!.attentionPick(args(shape, { dtype: kF32 }), null)).toThrow(/float16 or bfloat16; cast first/)
    expect(pickCode(shape, { dtype: kI8 })).toBe('ERR_SK_DTYPE')
    expect(pickCode(shape, { dtype: 99 })).toBe('ERR_SK_DTYPE')
    expect(pickCode(shape, { dtype: kF16 })).toBe('returned')
  })

  it('shapes: GQA divisibility, head dim limit, extents', () => {
    expect(pickCode({ ...shape, hkv: 3 }, {})).toBe('ERR_SK_SHAPE')
    expect(pickCode({ ...shape, hkv: 1 }, {})).toBe('returned') // MQA
    expect(pickCode({ ...shape, d: 257 }, {})).toBe('ERR_SK_SHAPE') // the op's limit, as on the CPU (one rule: csrc/addon/args.h)
    expect(pickCode({ ...shape, d: 0 }, {})).toBe('ERR_SK_SHAPE')
    expect(pickCode({ ...shape, b: 70000 }, {}, null, { q: 1e15, k: 1e15, v: 1e15, out: 1e15, lse: 1e15 })).toBe('ERR_SK_UNSUPPORTED')
    expect(pickCode({ ...shape, sq: 1.5 }, {})).toBe('ERR_SK_INVALID_ARGUMENT')
    expect(pickCode({ ...shape, sq: 0 }, {})).toBe('returned')
    expect(pickCode({ ...shape, skv: 0 }, {})).toBe('returned')
  })

  it('buffer sizes against strides × extents, exactly, with overflow', () => {
    const q = bytes(shape, shape.hq, shape.sq)
    expect(pickCode(shape, {}, null, { q })).toBe('returned')
    expect(pickCode(shape, {}, null, { q: q - 1 })).toBe('ERR_SK_SHAPE')
    expect(pickCode(shape, {}, null, { out: q - 1 })).toBe('ERR_SK_SHAPE')
    expect(pickCode(shape, {}, null, { k: bytes(shape, shape.hkv, shape.skv) - 2 })).toBe('ERR_SK_SHAPE')
    expect(pickCode(shape, {}, null, { lse: shape.b * shape.hq * shape.sq * 4 - 4 })).toBe('ERR_SK_SHAPE')
    expect(pickCode(shape, {}, null, { lse: null })).toBe('returned')
    expect(pickCode(shape, { qStrides: [2 ** 52, 2 ** 52, 2 ** 52] })).toBe('ERR_SK_SHAPE')
    expect(pickCode(shape, { kStrides: [1, 2, -3] as never })).toBe('ERR_SK_INVALID_ARGUMENT')
    expect(pickCode(shape, { vStrides: [1, 2] as never })).toBe('ERR_SK_INVALID_ARGUMENT')
    // bshd strides span the same bytes
    expect(pickCode(shape, { qStrides: strides(shape.b, shape.hq, shape.sq, shape.d, true) })).toBe('returned')
  })

  it('scale must be finite, causal a boolean', () => {
    for (const scale of [NaN, Infinity, -Infinity, 1e39, '1'] as never[]) expect(pickCode(shape, { scale }), String(scale)).toBe('ERR_SK_INVALID_ARGUMENT')
    expect(pickCode(shape, { scale: -0.5 })).toBe('returned')
    expect(pickCode(shape, { causal: 1 as never })).toBe('ERR_SK_INVALID_ARGUMENT')
  })

  it('a valid mask passes and sizes the grid by mask rows', () => {
    expect(pickCode(shape, {}, m64())).toBe('returned')
    const m = blockMask({ batch: 1, heads: 1, sq: 300, skv: 300, qBlock: 256, kvBlock: 48 }, () => 1)
    const p = binding!.attentionPick(args({ ...shape, sq: 300, skv: 300 }), m)
    expect(p.grid[0]).toBe(2 * 4) // 2 mask rows × 4 tiles of 64
    const small = blockMask({ batch: 1, heads: 1, sq: 100, skv: 100, qBlock: 16, kvBlock: 16 }, () => 2)
    expect(binding!.attentionPick(args({ ...shape, sq: 100, skv: 100 }), small).grid[0]).toBe(7)
  })

  it('mask geometry: block sizes, block counts, broadcast dims', () => {
    const bad = (patch: Partial<NativeMask>) => pickCode(shape, {}, { ...m64(), ...patch })
    expect(bad({ qBlock: 24 })).toBe('ERR_SK_INVALID_ARGUMENT')
    expect(bad({ kvBlock: 512 })).toBe('ERR_SK_INVALID_ARGUMENT')
    expect(bad({ nKvBlocks: 2 })).toBe('ERR_SK_SHAPE')
    expect(bad({ nQBlocks: 3 })).toBe('ERR_SK_SHAPE')
    expect(bad({ batch: 3 })).toBe('ERR_SK_SHAPE')
    expect(bad({ heads: 2 })).toBe('ERR_SK_SHAPE')
    expect(pickCode(shape, {}, blockMask({ batch: 2, heads: 4, sq: shape.sq, skv: shape.skv, qBlock: 64, kvBlock: 64 }, () => 1))).toBe('returned')
  })

  it('mask arrays: type, length, counts, indices in range, increasing, full and partial disjoint', () => {
    const bad = (edit: (m: NativeMask) => void) => {
      const m = m64()
      edit(m)
      return pickCode(shape, {}, m)
    }
    expect(bad((m) => { m.fullIdx = new Int32Array(3) })).toBe('ERR_SK_SHAPE')
    expect(bad((m) => { m.partialNum = new Float32Array(2) as never })).toBe('ERR_SK_INVALID_ARGUMENT')
    expect(bad((m) => { m.fullNum[1] = 4 })).toBe('ERR_SK_INVALID_ARGUMENT') // > nKvBlocks (3)
    expect(bad((m) => { m.fullNum[1] = -1 })).toBe('ERR_SK_INVALID_ARGUMENT')
    expect(bad((m) => { m.fullIdx[3] = 3 })).toBe('ERR_SK_INVALID_ARGUMENT') // row 1, index 0: out of range
    expect(bad((m) => { m.partialIdx[0] = -1 })).toBe('ERR_SK_INVALID_ARGUMENT')
    expect(bad((m) => { m.fullNum[1] = 2; m.fullIdx[4] = 0 })).toBe('ERR_SK_INVALID_ARGUMENT') // [0, 0]: not increasing
    expect(bad((m) => { m.fullNum[1] = 2; m.fullIdx[4] = 1 })).toBe('ERR_SK_INVALID_ARGUMENT') // 1 is also partial in row 1
    expect(bad((m) => { m.fullIdx[5] = 99 })).toBe('returned') // past fullNum: padding is not read
  })

  it('mask rules: kinds, parameters, document segment lengths, term limits', () => {
    const withRules = (rules: unknown) => pickCode(shape, {}, { ...m64(), rules: rules as NativeMaskRule[][] })
    expect(withRules([])).toBe('returned')
    expect(withRules([[{ kind: 2, window: 16 }], [{ kind: 3, sink: 4, local: 32 }]])).toBe('returned')
    expect(withRules([[{ kind: 9 }]])).toBe('ERR_SK_INVALID_ARGUMENT')
    expect(withRules([[{ kind: 2 }]])).toBe('ERR_SK_INVALID_ARGUMENT') // window missing
    expect(withRules([[{ kind: 3, sink: -1, local: 4 }]])).toBe('ERR_SK_INVALID_ARGUMENT')
    expect(withRules([[{ kind: 1 }], [{ kind: 1 }], [{ kind: 1 }], [{ kind: 1 }], [{ kind: 1 }]])).toBe('ERR_SK_INVALID_ARGUMENT')
    expect(withRules([[{ kind: 1 }, { kind: 1 }, { kind: 1 }, { kind: 1 }, { kind: 1 }]])).toBe('ERR_SK_INVALID_ARGUMENT')
    expect(withRules('causal')).toBe('ERR_SK_INVALID_ARGUMENT')
    const docs = (q: number, kv: number) => withRules([[{ kind: 4, qSeg: new Int32Array(q), kvSeg: new Int32Array(kv) }]])
    expect(docs(shape.sq, shape.skv)).toBe('returned')
    expect(docs(shape.sq - 1, shape.skv)).toBe('ERR_SK_SHAPE')
    expect(docs(shape.sq, shape.skv + 1)).toBe('ERR_SK_SHAPE')
    expect(withRules([[{ kind: 4, qSeg: [0], kvSeg: new Int32Array(shape.skv) }]])).toBe('ERR_SK_INVALID_ARGUMENT')
  })

  it('junk arguments throw a coded Error, never crash', () => {
    const b = binding! as unknown as Record<string, (...a: unknown[]) => unknown>
    const junk: unknown[] = [undefined, null, -1, 1.5, NaN, 'x', {}, [], () => 0, Symbol('s'), 10n, new Int32Array(4)]
    const codeOf = (call: () => unknown) => {
      try { call(); return 'returned' } catch (e) { return String((e as { code?: unknown }).code) }
    }
    for (const j of junk) {
      expect(codeOf(() => b.attentionPick(j, j, j)), String(j)).toMatch(/^ERR_SK_/)
      expect(codeOf(() => b.attentionPick({ ...args(shape), headDim: j }, null)), String(j)).toMatch(/^ERR_SK_/)
      expect(codeOf(() => b.attentionPick({ ...args(shape), qStrides: j }, null)), String(j)).toMatch(/^ERR_SK_/)
      // a null or undefined mask means dense
      if (j !== null && j !== undefined) expect(codeOf(() => b.attentionPick(args(shape), j)), String(j)).toMatch(/^ERR_SK_/)
    }
  })
})

describe.skipIf(!built || hasCuda)('cuda attention without a device', () => {
  it('attention() throws ERR_SK_DEVICE with the reason, before looking at its arguments', () => {
    for (const call of [() => binding!.attention({} as never, {} as never, {} as never, {} as never, null, args(shape), null), () => (binding!.attention as unknown as () => unknown)()]) {
      let err: unknown
      try { call() } catch (e) { err = e }
      expect((err as { code?: string }).code).toBe('ERR_SK_DEVICE')
      expect((err as Error).message).toContain(status!.reason)
    }
  })
})

// ---------------------------------------------------------------------------
// GPU: the kernel against a float64 reference.

type Float = 'float16' | 'bfloat16'
interface Case extends Shape { type: Float; causal?: boolean; bshd?: boolean; mask?: (sh: Shape) => NativeMask; lse?: boolean; name: string }

/** xorshift32 + Box–Muller: N(0, 1) test data independent of the code under test. */
function normals(n: number, seed: number): Float32Array {
  const out = new Float32Array(n)
  let x = seed >>> 0 || 1
  const next = () => { x ^= x << 13; x ^= x >>> 17; x ^= x << 5; return ((x >>> 0) + 0.5) / 4294967296 }
  for (let i = 0; i < n; i += 2) {
    const r = Math.sqrt(-2 * Math.log(next())), t = 2 * Math.PI * next()
    out[i] = r * Math.cos(t)
    if (i + 1 < n) out[i + 1] = r * Math.sin(t)
  }
  return out
}

function ruleVisible(r: NativeMaskRule, i: number, j: number, off: number): boolean {
  const last = i + off
  switch (r.kind) {
    case 1: return j <= last
    case 2: return j <= last && last - r.window! < j
    case 3: return j <= last && (j < r.sink! || last - j < r.local!)
    case 4: { const qs = r.qSeg![i], ks = r.kvSeg![j]; return ks === -1 || qs === -2 || qs === ks }
    default: return false
  }
}

/** out, lse in float64 from the rounded inputs (element (b,h,s,d) at the given BHSD strides). */
function reference(c: Case, a: AttentionArgs, q: Float32Array, k: Float32Array, v: Float32Array, mask: NativeMask | null) {
  const out = new Float64Array(c.b * c.hq * c.sq * c.d), lse = new Float64Array(c.b * c.hq * c.sq)
  const off = c.skv - c.sq, group = c.hq / c.hkv
  const s = new Float64Array(c.skv)
  for (let b = 0; b < c.b; ++b) for (let h = 0; h < c.hq; ++h) for (let i = 0; i < c.sq; ++i) {
    const g = Math.floor(h / group)
    let mx = -Infinity
    for (let j = 0; j < c.skv; ++j) {
      let vis = !c.causal || j <= i + off
      if (vis && mask) {
        const row = ((mask.batch === 1 ? 0 : b) * mask.heads + (mask.heads === 1 ? 0 : h)) * mask.nQBlocks + Math.floor(i / mask.qBlock)
        const kb = Math.floor(j / mask.kvBlock), nKv = mask.nKvBlocks
        const full = mask.fullIdx.subarray(row * nKv, row * nKv + mask.fullNum[row]).includes(kb)
        const part = mask.partialIdx.subarray(row * nKv, row * nKv + mask.partialNum[row]).includes(kb)
        vis = full || (part && (mask.rules.length === 0 || mask.rules.some((t) => t.every((r) => ruleVisible(r, i, j, off)))))
      }
      if (!vis) { s[j] = -Infinity; continue }
      let dot = 0
      for (let d = 0; d < c.d; ++d) dot += q[b * a.qStrides[0] + h * a.qStrides[1] + i * a.qStrides[2] + d] * k[b * a.kStrides[0] + g * a.kStrides[1] + j * a.kStrides[2] + d]
      s[j] = dot * a.scale
      mx = Math.max(mx, s[j])
    }
    const o = (b * c.hq + h) * c.sq + i
    if (mx === -Infinity) { lse[o] = -Infinity; continue }
    let sum = 0
    for (let j = 0; j < c.skv; ++j) { s[j] = Math.exp(s[j] - mx); sum += s[j] }
    lse[o] = mx + Math.log(sum)
    for (let j = 0; j < c.skv; ++j) {
      if (s[j] === 0) continue
      for (let d = 0; d < c.d; ++d) out[o * c.d + d] += (s[j] / sum) * v[b * a.vStrides[0] + g * a.vStrides[1] + j * a.vStrides[2] + d]
    }
  }
  return { out, lse }
}

const made: DeviceBuffer[] = []
afterEach(() => { for (const buf of made.splice(0)) buf.free() })

async function toType(f: Float32Array, type: Float): Promise<{ bits: Uint16Array; values: Float32Array }> {
  const t = await sk.tensor(f, [f.length]).cast(type)
  const back = await t.cast('float32')
  return { bits: t.data as Uint16Array, values: back.data as Float32Array }
}

async function upload(bits: ArrayBufferView): Promise<DeviceBuffer> {
  const buf = binding!.alloc(0, Math.max(bits.byteLength, 16))
  made.push(buf)
  await binding!.copyToDevice(bits, buf, bits.byteLength)
  return buf
}

async function runCase(c: Case) {
  const a = args(c, { dtype: c.type === 'float16' ? kF16 : kBF16, causal: c.causal ?? false })
  if (c.bshd) {
    a.qStrides = strides(c.b, c.hq, c.sq, c.d, true)
    a.kStrides = strides(c.b, c.hkv, c.skv, c.d, true)
    a.vStrides = strides(c.b, c.hkv, c.skv, c.d, true)
    a.outStrides = strides(c.b, c.hq, c.sq, c.d, true)
  }
  const mask = c.mask ? c.mask(c) : null
  const q = await toType(normals(c.b * c.hq * c.sq * c.d, 1), c.type)
  const k = await toType(normals(c.b * c.hkv * c.skv * c.d, 2), c.type)
  const v = await toType(normals(c.b * c.hkv * c.skv * c.d, 3), c.type)
  const outBytes = c.b * c.hq * c.sq * c.d * 2
  const [qd, kd, vd] = [await upload(q.bits), await upload(k.bits), await upload(v.bits)]
  const od = binding!.alloc(0, Math.max(outBytes, 16)), ld = binding!.alloc(0, Math.max(c.b * c.hq * c.sq * 4, 16))
  made.push(od, ld)
  await binding!.attention(qd, kd, vd, od, c.lse === false ? null : ld, a, mask)
  const outBits = new Uint16Array(outBytes / 2), lse = new Float32Array(c.b * c.hq * c.sq)
  await binding!.copyToHost(od, outBits, outBytes)
  await binding!.copyToHost(ld, lse, lse.byteLength)
  const out = (await sk.tensor(outBits, [outBits.length], c.type).cast('float32')).data as Float32Array
  const ref = reference(c, a, q.values, k.values, v.values, mask)
  let outErr = 0, lseErr = 0
  for (let b = 0; b < c.b; ++b) for (let h = 0; h < c.hq; ++h) for (let i = 0; i < c.sq; ++i) {
    const o = (b * c.hq + h) * c.sq + i
    for (let d = 0; d < c.d; ++d) {
      const got = out[b * a.outStrides[0] + h * a.outStrides[1] + i * a.outStrides[2] + d]
      expect(Number.isNaN(got), `NaN at ${o},${d}`).toBe(false)
      outErr = Math.max(outErr, Math.abs(got - ref.out[o * c.d + d]))
    }
    if (c.lse !== false) {
      if (ref.lse[o] === -Infinity) expect(lse[o], `lse row ${o}`).toBe(-Infinity)
      else lseErr = Math.max(lseErr, Math.abs(lse[o] - ref.lse[o]))
    }
  }
  console.log(`${c.name}: max |out - ref64| = ${outErr.toExponential(2)} (budget ${kTol[c.type]}), max |lse - ref64| = ${lseErr.toExponential(2)}`)
  expect(outErr).toBeLessThanOrEqual(kTol[c.type])
  expect(lseErr).toBeLessThanOrEqual(kLseTol)
}

const causalBlocks = (qBlock: number, kvBlock: number) => (sh: Shape) => {
  const off = sh.skv - sh.sq
  return blockMask({ batch: 1, heads: 1, sq: sh.sq, skv: sh.skv, qBlock, kvBlock }, (_b, _h, qb, kb) => {
    const qFirst = qb * qBlock, qLast = Math.min(sh.sq, (qb + 1) * qBlock) - 1, kFirst = kb * kvBlock, kLast = Math.min(sh.skv, (kb + 1) * kvBlock) - 1
    return kFirst > qLast + off ? 0 : kLast <= qFirst + off ? 1 : 2
  })
}
/** A random ~50% block pattern per (batch, head), half of it partial under a window rule. */
const randomBlocks = (qBlock: number, kvBlock: number, rules: NativeMaskRule[][]) => (sh: Shape) => {
  let x = 12345
  const rnd = () => { x ^= x << 13; x ^= x >>> 17; x ^= x << 5; return (x >>> 0) / 4294967296 }
  return blockMask({ batch: sh.b, heads: sh.hq, sq: sh.sq, skv: sh.skv, qBlock, kvBlock, rules }, () => { const r = rnd(); return r < 0.25 ? 1 : r < 0.5 ? 2 : 0 })
}
const documents = (sh: Shape): NativeMask => {
  const qSeg = new Int32Array(sh.sq), kvSeg = new Int32Array(sh.skv)
  for (let j = 0; j < sh.skv; ++j) kvSeg[j] = j < 20 ? -1 : Math.floor(j / 50)
  for (let i = 0; i < sh.sq; ++i) qSeg[i] = i >= sh.sq - 10 ? -2 : Math.floor((i + sh.skv - sh.sq) / 50)
  return blockMask({ batch: 1, heads: 1, sq: sh.sq, skv: sh.skv, qBlock: 32, kvBlock: 32, rules: [[{ kind: 4, qSeg, kvSeg }]] }, () => 2)
}

const cases: Case[] = [
  { name: 'dense bf16 d128 GQA, lengths not multiples of the tile', type: 'bfloat16', b: 2, hq: 4, hkv: 2, sq: 130, skv: 203, d: 128 },
  { name: 'dense fp16 d64 MQA causal, Sq < Skv (chunked prefill)', type: 'float16', b: 1, hq: 3, hkv: 1, sq: 77, skv: 200, d: 64, causal: true },
  { name: 'causal fp16 d64, Sq > Skv: leading rows see nothing (zeros, lse -inf)', type: 'float16', b: 1, hq: 2, hkv: 2, sq: 150, skv: 40, d: 64, causal: true },
  { name: 'causal bf16 d128 square 256', type: 'bfloat16', b: 1, hq: 2, hkv: 1, sq: 256, skv: 256, d: 128, causal: true },
  { name: 'bf16 d80 (runs on the 96 kernel, zero padding), bshd strides', type: 'bfloat16', b: 2, hq: 2, hkv: 1, sq: 65, skv: 97, d: 80, bshd: true },
  { name: 'fp16 d36: element-wise loads (rows not 16-byte chunks)', type: 'float16', b: 1, hq: 2, hkv: 2, sq: 70, skv: 90, d: 36, causal: true },
  { name: 'fp16 d32', type: 'float16', b: 1, hq: 1, hkv: 1, sq: 64, skv: 100, d: 32 },
  { name: 'bf16 d256 causal', type: 'bfloat16', b: 1, hq: 2, hkv: 1, sq: 100, skv: 100, d: 256, causal: true },
  { name: 'empty keys: Skv = 0', type: 'float16', b: 1, hq: 1, hkv: 1, sq: 20, skv: 0, d: 64 },
  { name: 'mask: causal blocks 64×64 with the causal rule', type: 'bfloat16', b: 1, hq: 2, hkv: 1, sq: 200, skv: 200, d: 128, mask: causalBlocks(64, 64) },
  { name: 'mask: causal blocks 128×128 + causal flag, Sq < Skv', type: 'float16', b: 1, hq: 2, hkv: 2, sq: 180, skv: 300, d: 64, causal: true, mask: causalBlocks(128, 128) },
  { name: 'mask: q block 32 (< tile), kv block 48 (not a multiple of the key tile)', type: 'float16', b: 2, hq: 2, hkv: 1, sq: 150, skv: 170, d: 64, mask: randomBlocks(32, 48, [[{ kind: 2, window: 40 }]]) },
  { name: 'mask: per (batch, head) random blocks 128×256, streaming rule OR window', type: 'bfloat16', b: 2, hq: 2, hkv: 2, sq: 300, skv: 600, d: 128, mask: randomBlocks(128, 256, [[{ kind: 3, sink: 8, local: 64 }], [{ kind: 2, window: 100 }]]) },
  { name: 'mask: documents rule (prefix, query segment)', type: 'bfloat16', b: 1, hq: 2, hkv: 1, sq: 120, skv: 250, d: 64, mask: documents },
  { name: 'mask: rows with no blocks output zeros', type: 'float16', b: 1, hq: 1, hkv: 1, sq: 128, skv: 128, d: 64, mask: (sh) => blockMask({ batch: 1, heads: 1, sq: sh.sq, skv: sh.skv, qBlock: 64, kvBlock: 64 }, (_b, _h, qb) => (qb === 0 ? 1 : 0)) },
  { name: 'no lse requested', type: 'float16', b: 1, hq: 1, hkv: 1, sq: 33, skv: 33, d: 64, lse: false },
]

describe.skipIf(!hasCuda)('cuda attention kernel vs a float64 reference', () => {
  for (const c of cases) it(c.name, () => runCase(c))
})

describe.skipIf(!hasCuda)('cuda attention vs the CPU op (sk.attention)', () => {
  const attention = (sk as unknown as Record<string, unknown>).attention as
    | ((q: sk.Tensor, k: sk.Tensor, v: sk.Tensor, o?: Record<string, unknown>) => Promise<sk.Tensor | { out: sk.Tensor; lse: sk.Tensor }>)
    | undefined
  it.skipIf(!attention)('bf16 d128 causal GQA: cuda within the bf16 budget of the cpu result', async () => {
    const dims = (h: number, s: number) => [1, h, s, 128]
    const q = await sk.tensor(normals(4 * 190 * 128, 7), dims(4, 190)).cast('bfloat16')
    const k = await sk.tensor(normals(2 * 250 * 128, 8), dims(2, 250)).cast('bfloat16')
    const v = await sk.tensor(normals(2 * 250 * 128, 9), dims(2, 250)).cast('bfloat16')
    const unwrap = (r: sk.Tensor | { out: sk.Tensor }) => ('out' in r ? r.out : r)
    const cpu = unwrap(await attention!(q, k, v, { causal: true }))
    const gpu = unwrap(await attention!(await q.to('cuda'), await k.to('cuda'), await v.to('cuda'), { causal: true }))
    const a = (await cpu.cast('float32')).data as Float32Array
    const b = (await (await gpu.to('cpu')).cast('float32')).data as Float32Array
    let err = 0
    for (let i = 0; i < a.length; ++i) err = Math.max(err, Math.abs(a[i] - b[i]))
    console.log(`cuda vs cpu sk.attention: max abs diff ${err.toExponential(2)}`)
    expect(err).toBeLessThanOrEqual(kTol.bfloat16)
  })
})
