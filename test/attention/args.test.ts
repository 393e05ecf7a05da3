// One rule for attention's native arguments: the CPU and the CUDA binding
// parse them with the same code (csrc/addon/attention_args.cc, codes as in
// csrc/addon/args.h), so each bad argument gets the same error code from
// both. Checked through attentionPick, which needs no buffers and no device:
// always on the CPU binding, and on the CUDA binding wherever it is built.
// What only one backend refuses (its pick()'s rules) is listed apart.
import { describe, expect, it } from 'vitest'

import type { AttentionArgs, AttentionBytes, AttentionPick, NativeMask, NativeMaskRule } from '../../lib/native.js'
import { cpuBinding } from '../../lib/native.js'
import {
  attentionArgs,
  attentionBytes,
  fp8Args,
  fp8Bytes,
  kE4M3,
  kF16,
  kF32,
  kI8,
  nativeBlockMask,
  type Shape,
} from '../fixtures/attention-args.js'
import { loadCudaAddon } from '../fixtures/cuda-addon.js'

type Pick = (args: AttentionArgs, mask: NativeMask | null, bytes?: AttentionBytes) => AttentionPick
const cuda = loadCudaAddon<{ attentionPick: Pick }>()
if (!cuda.binding) console.log(`attention args: the CUDA binding's half skipped: ${cuda.skipReason}`)
const bindings: [string, Pick][] = [['cpu', (a, m, b) => cpuBinding().attentionPick(a, m, b)]]
if (cuda.binding) bindings.push(['cuda', (a, m, b) => cuda.binding!.attentionPick(a, m, b)])

const shape: Shape = { b: 2, hq: 4, hkv: 2, sq: 100, skv: 130, d: 64 }
const m64 = () =>
  nativeBlockMask({ batch: 1, heads: 1, sq: shape.sq, skv: shape.skv, qBlock: 64, kvBlock: 64 }, (_b, _h, qb, kb) =>
    kb < qb ? 1 : kb === qb ? 2 : 0,
  )

interface Case {
  what: string
  args?: Partial<AttentionArgs> & Partial<Shape>
  mask?: (m: NativeMask) => unknown
  bytes?: Partial<AttentionBytes>
  raw?: [unknown, unknown]
  code: string
}

const rules = (r: unknown) => (m: NativeMask) => ({ ...m, rules: r as NativeMaskRule[][] })
const permuted = (extra: object) =>
  rules([[{ kind: 5, posBatch: 1, posHeads: 1, kvPos: new Int32Array(shape.skv), ...extra }]])

const cases: Case[] = [
  { what: 'a valid call', code: 'returned' },
  { what: 'MQA (one key head)', args: { hkv: 1 }, code: 'returned' },
  { what: 'no keys (seqKv 0)', args: { skv: 0 }, code: 'returned' },
  {
    what: 'bshd strides',
    args: { qStrides: [shape.sq * shape.hq * shape.d, shape.d, shape.hq * shape.d] },
    code: 'returned',
  },
  { what: 'a valid mask', mask: (m) => m, code: 'returned' },
  { what: 'args is not an object', raw: [7, null], code: 'ERR_SK_INVALID_ARGUMENT' },
  { what: 'dtype 99', args: { dtype: 99 }, code: 'ERR_SK_DTYPE' },
  { what: 'dtype int8', args: { dtype: kI8 }, code: 'ERR_SK_DTYPE' },
  { what: "dtype 'x'", args: { dtype: 'x' as never }, code: 'ERR_SK_INVALID_ARGUMENT' },
  { what: 'batch -1', args: { batch: -1 }, code: 'ERR_SK_SHAPE' },
  { what: 'batch 1.5', args: { batch: 1.5 }, code: 'ERR_SK_INVALID_ARGUMENT' },
  { what: 'headsQ 0', args: { headsQ: 0 }, code: 'ERR_SK_SHAPE' },
  { what: 'headsKv 3 does not divide headsQ 4', args: { headsKv: 3 }, code: 'ERR_SK_SHAPE' },
  { what: 'seqQ 1.5', args: { seqQ: 1.5 }, code: 'ERR_SK_INVALID_ARGUMENT' },
  { what: 'seqKv -1', args: { seqKv: -1 }, code: 'ERR_SK_SHAPE' },
  { what: 'seqQ 0', args: { seqQ: 0 }, code: 'returned' },
  { what: 'headDim 0', args: { headDim: 0 }, code: 'ERR_SK_SHAPE' },
  { what: 'headDim 257', args: { headDim: 257 }, code: 'ERR_SK_SHAPE' },
  { what: 'headDim a string', args: { headDim: 'a' as never }, code: 'ERR_SK_INVALID_ARGUMENT' },
  { what: 'kStrides with a negative', args: { kStrides: [1, 2, -3] }, code: 'ERR_SK_INVALID_ARGUMENT' },
  { what: 'vStrides of 2', args: { vStrides: [1, 2] as never }, code: 'ERR_SK_INVALID_ARGUMENT' },
  { what: 'qStrides spanning 2^53 bytes', args: { qStrides: [2 ** 52, 2 ** 52, 2 ** 52] }, code: 'ERR_SK_SHAPE' },
  ...[NaN, Infinity, -Infinity, 1e39, '1'].map((scale) => ({
    what: `scale ${String(scale)}`,
    args: { scale: scale as number },
    code: 'ERR_SK_INVALID_ARGUMENT',
  })),
  { what: 'a negative scale', args: { scale: -0.5 }, code: 'returned' },
  { what: 'causal 1', args: { causal: 1 as never }, code: 'ERR_SK_INVALID_ARGUMENT' },
  { what: 'q a byte short', bytes: { q: attentionBytes(shape).q - 1 }, code: 'ERR_SK_SHAPE' },
  { what: 'out a byte short', bytes: { out: attentionBytes(shape).out - 1 }, code: 'ERR_SK_SHAPE' },
  { what: 'k an element short', bytes: { k: attentionBytes(shape).k - 2 }, code: 'ERR_SK_SHAPE' },
  { what: 'lse a float short', bytes: { lse: attentionBytes(shape).lse! - 4 }, code: 'ERR_SK_SHAPE' },
  { what: 'no lse', bytes: { lse: null }, code: 'returned' },
  { what: 'mask a string', mask: () => 'x', code: 'ERR_SK_INVALID_ARGUMENT' },
  { what: 'mask batch 3 (batch 2)', mask: (m) => ({ ...m, batch: 3 }), code: 'ERR_SK_SHAPE' },
  { what: 'mask batch 0', mask: (m) => ({ ...m, batch: 0 }), code: 'ERR_SK_SHAPE' },
  { what: 'mask batch 1.5', mask: (m) => ({ ...m, batch: 1.5 }), code: 'ERR_SK_INVALID_ARGUMENT' },
  { what: 'mask heads 2 (4 query heads)', mask: (m) => ({ ...m, heads: 2 }), code: 'ERR_SK_SHAPE' },
  { what: 'mask qBlock 24', mask: (m) => ({ ...m, qBlock: 24 }), code: 'ERR_SK_INVALID_ARGUMENT' },
  { what: 'mask kvBlock 512', mask: (m) => ({ ...m, kvBlock: 512 }), code: 'ERR_SK_INVALID_ARGUMENT' },
  { what: 'mask nQBlocks 3 (2)', mask: (m) => ({ ...m, nQBlocks: 3 }), code: 'ERR_SK_SHAPE' },
  { what: 'mask nQBlocks -1', mask: (m) => ({ ...m, nQBlocks: -1 }), code: 'ERR_SK_SHAPE' },
  { what: 'mask nKvBlocks 2 (3)', mask: (m) => ({ ...m, nKvBlocks: 2 }), code: 'ERR_SK_SHAPE' },
  {
    what: 'a mask per batch and head',
    mask: () => nativeBlockMask({ batch: 2, heads: 4, sq: shape.sq, skv: shape.skv, qBlock: 64, kvBlock: 64 }, () => 1),
    code: 'returned',
  },
  { what: 'mask fullIdx of 3', mask: (m) => ({ ...m, fullIdx: new Int32Array(3) }), code: 'ERR_SK_SHAPE' },
  {
    what: 'mask partialNum a Float32Array',
    mask: (m) => ({ ...m, partialNum: new Float32Array(2) }),
    code: 'ERR_SK_INVALID_ARGUMENT',
  },
  { what: 'mask fullNum past nKvBlocks', mask: (m) => ((m.fullNum[1] = 4), m), code: 'ERR_SK_INVALID_ARGUMENT' },
  { what: 'mask fullNum -1', mask: (m) => ((m.fullNum[1] = -1), m), code: 'ERR_SK_INVALID_ARGUMENT' },
  { what: 'mask partial index -1', mask: (m) => ((m.partialIdx[0] = -1), m), code: 'ERR_SK_INVALID_ARGUMENT' },
  { what: 'mask index out of range', mask: (m) => ((m.fullIdx[3] = 3), m), code: 'ERR_SK_INVALID_ARGUMENT' },
  {
    what: 'mask indices not increasing',
    mask: (m) => ((m.fullNum[1] = 2), (m.fullIdx[4] = 0), m),
    code: 'ERR_SK_INVALID_ARGUMENT',
  },
  {
    what: 'mask block both full and partial',
    mask: (m) => ((m.fullNum[1] = 2), (m.fullIdx[4] = 1), m),
    code: 'ERR_SK_INVALID_ARGUMENT',
  },
  { what: 'mask padding past the counts is not read', mask: (m) => ((m.fullIdx[5] = 99), m), code: 'returned' },
  { what: 'no rules (partial blocks show every token)', mask: rules([]), code: 'returned' },
  {
    what: 'window OR streaming',
    mask: rules([[{ kind: 2, window: 16 }], [{ kind: 3, sink: 4, local: 32 }]]),
    code: 'returned',
  },
  {
    what: '5 rules in a term',
    mask: rules([[{ kind: 1 }, { kind: 1 }, { kind: 1 }, { kind: 1 }, { kind: 1 }]]),
    code: 'ERR_SK_INVALID_ARGUMENT',
  },
  {
    what: 'documents',
    mask: rules([[{ kind: 4, qSeg: new Int32Array(shape.sq), kvSeg: new Int32Array(shape.skv) }]]),
    code: 'returned',
  },
  {
    what: 'documents kvSeg one long',
    mask: rules([[{ kind: 4, qSeg: new Int32Array(shape.sq), kvSeg: new Int32Array(shape.skv + 1) }]]),
    code: 'ERR_SK_SHAPE',
  },
  { what: "rules 'causal'", mask: rules('causal'), code: 'ERR_SK_INVALID_ARGUMENT' },
  { what: 'rule kind 9', mask: rules([[{ kind: 9 }]]), code: 'ERR_SK_INVALID_ARGUMENT' },
  { what: 'window rule without a window', mask: rules([[{ kind: 2 }]]), code: 'ERR_SK_INVALID_ARGUMENT' },
  { what: 'streaming sink -1', mask: rules([[{ kind: 3, sink: -1, local: 4 }]]), code: 'ERR_SK_INVALID_ARGUMENT' },
  {
    what: '5 terms',
    mask: rules([[{ kind: 1 }], [{ kind: 1 }], [{ kind: 1 }], [{ kind: 1 }], [{ kind: 1 }]]),
    code: 'ERR_SK_INVALID_ARGUMENT',
  },
  {
    what: 'documents qSeg one short',
    mask: rules([[{ kind: 4, qSeg: new Int32Array(shape.sq - 1), kvSeg: new Int32Array(shape.skv) }]]),
    code: 'ERR_SK_SHAPE',
  },
  {
    what: 'documents qSeg a plain array',
    mask: rules([[{ kind: 4, qSeg: [0], kvSeg: new Int32Array(shape.skv) }]]),
    code: 'ERR_SK_INVALID_ARGUMENT',
  },
  { what: 'permuted causal', mask: permuted({}), code: 'returned' },
  { what: 'permuted posHeads 3 (2 key heads)', mask: permuted({ posHeads: 3 }), code: 'ERR_SK_SHAPE' },
  { what: 'permuted posBatch 0', mask: permuted({ posBatch: 0 }), code: 'ERR_SK_SHAPE' },
  { what: 'permuted kvPos one short', mask: permuted({ kvPos: new Int32Array(shape.skv - 1) }), code: 'ERR_SK_SHAPE' },
  { what: 'FP8 without scales', args: { dtype: kE4M3 }, code: 'ERR_SK_DTYPE' },
  { what: 'FP8 scales not an object', args: { ...fp8Args(shape), fp8: 7 as never }, code: 'ERR_SK_INVALID_ARGUMENT' },
  { what: 'float32 with FP8 scales', args: { ...fp8Args(shape), dtype: kF32 }, code: 'ERR_SK_INVALID_ARGUMENT' },
  { what: 'FP8 tile 24', args: fp8Args(shape, 24), code: 'ERR_SK_INVALID_ARGUMENT' },
  { what: 'FP8 tile 512', args: fp8Args(shape, 512), code: 'ERR_SK_INVALID_ARGUMENT' },
  {
    what: 'FP8 qScale one short',
    args: fp8Args(shape, 64, { qScale: new Float32Array(2 * 4 * 2 - 1) }),
    code: 'ERR_SK_SHAPE',
  },
  {
    what: 'FP8 vScale per tile, not per channel',
    args: fp8Args(shape, 64, { vScale: new Float32Array(2 * 2 * 3) }),
    code: 'ERR_SK_SHAPE',
  },
  {
    what: 'FP8 kScale an Int32Array',
    args: fp8Args(shape, 64, { kScale: new Int32Array(12) as never }),
    code: 'ERR_SK_INVALID_ARGUMENT',
  },
  {
    what: 'FP8 kScale negative',
    args: fp8Args(shape, 64, { kScale: new Float32Array(12).fill(-1) }),
    code: 'ERR_SK_INVALID_ARGUMENT',
  },
  {
    what: 'FP8 qScale NaN',
    args: fp8Args(shape, 64, { qScale: new Float32Array(16).fill(NaN) }),
    code: 'ERR_SK_INVALID_ARGUMENT',
  },
  {
    what: 'FP8 kMean Infinity',
    args: fp8Args(shape, 64, { kMean: new Float32Array(2 * 2 * 64).fill(Infinity) }),
    code: 'ERR_SK_INVALID_ARGUMENT',
  },
  {
    what: 'FP8 kMean one short',
    args: fp8Args(shape, 64, { kMean: new Float32Array(2 * 2 * 64 - 1) }),
    code: 'ERR_SK_SHAPE',
  },
  {
    what: 'FP8 tiles of 32 with a mask of 64-token blocks',
    args: fp8Args(shape, 32),
    mask: (m) => m,
    code: 'ERR_SK_INVALID_ARGUMENT',
  },
]

function codeOf(pick: Pick, c: Case): string {
  try {
    const { b, hq, hkv, sq, skv, d, ...extra } = c.args ?? {}
    const sh = {
      ...shape,
      ...Object.fromEntries(Object.entries({ b, hq, hkv, sq, skv, d }).filter(([, x]) => x !== undefined)),
    }
    const [args, mask] = c.raw ?? [attentionArgs(sh, extra), c.mask ? c.mask(m64()) : null]
    pick(args as AttentionArgs, mask as NativeMask | null, { ...attentionBytes(sh), ...c.bytes })
    return 'returned'
  } catch (e) {
    expect(e).toBeInstanceOf(Error)
    return String((e as { code?: unknown }).code)
  }
}

describe('attention args: one rule for the codes, on every binding', () => {
  for (const [name, pick] of bindings)
    for (const c of cases) it(`${name}: ${c.what} → ${c.code}`, () => expect(codeOf(pick, c)).toBe(c.code))
})

describe('attention args: junk never crashes a binding', () => {
  const junk: unknown[] = [undefined, null, -1, 1.5, NaN, 'x', {}, [], () => 0, Symbol('s'), 10n, new Int32Array(4)]
  const codeOfCall = (call: () => unknown) => {
    try {
      call()
      return 'returned'
    } catch (e) {
      return String((e as { code?: unknown }).code)
    }
  }
  for (const [name, pick] of bindings)
    it(`${name}: every argument, every junk value → a coded error`, () => {
      const p = pick as (...a: unknown[]) => unknown
      for (const j of junk) {
        expect(
          codeOfCall(() => p(j, j, j)),
          String(j),
        ).toMatch(/^ERR_SK_/)
        expect(
          codeOfCall(() => p({ ...attentionArgs(shape), headDim: j }, null)),
          String(j),
        ).toMatch(/^ERR_SK_/)
        expect(
          codeOfCall(() => p({ ...attentionArgs(shape), qStrides: j }, null)),
          String(j),
        ).toMatch(/^ERR_SK_/)
        // a null or undefined mask means dense
        if (j !== null && j !== undefined)
          expect(
            codeOfCall(() => p(attentionArgs(shape), j)),
            String(j),
          ).toMatch(/^ERR_SK_/)
      }
    })
})

describe('attention args: what one backend refuses (its pick)', () => {
  it('cpu: every attention dtype runs', () => {
    const pick = bindings[0]![1]
    expect(codeOf(pick, { what: '', args: { dtype: kF32 }, bytes: attentionBytes(shape, 4), code: '' })).toBe(
      'returned',
    )
    expect(codeOf(pick, { what: '', args: { dtype: kF16 }, code: '' })).toBe('returned')
    expect(codeOf(pick, { what: '', args: fp8Args(shape), bytes: fp8Bytes(shape), code: '' })).toBe('returned')
    expect(
      codeOf(pick, {
        what: '',
        args: fp8Args(shape, 64, { kMean: null }),
        mask: (m) => m,
        bytes: fp8Bytes(shape),
        code: '',
      }),
    ).toBe('returned')
    expect(codeOf(pick, { what: '', args: fp8Args(shape), bytes: { out: fp8Bytes(shape).out - 1 }, code: '' })).toBe(
      'ERR_SK_SHAPE',
    )
  })
  it.skipIf(!cuda.binding)('cuda: FP8 attention picks an FP8 tensor-core kernel (sm_89+ checked at run time)', () => {
    const pick = bindings[1]![1]
    expect(codeOf(pick, { what: '', args: fp8Args(shape), bytes: fp8Bytes(shape), code: '' })).toBe('returned')
    expect(pick(attentionArgs(shape, fp8Args(shape)), null)).toMatchObject({
      kernel: expect.stringMatching(/^attn_fwd_hdim\d+_e4m3_sm89$/),
    })
    // out is float32: the FP8 byte count of out is too short
    expect(codeOf(pick, { what: '', args: fp8Args(shape), bytes: { out: fp8Bytes(shape).out - 1 }, code: '' })).toBe(
      'ERR_SK_SHAPE',
    )
  })
  it.skipIf(!cuda.binding)('cuda: float32, and a batch past the grid, are ERR_SK_UNSUPPORTED', () => {
    const pick = bindings[1]![1]
    expect(codeOf(pick, { what: '', args: { dtype: kF32 }, code: '' })).toBe('ERR_SK_UNSUPPORTED')
    expect(
      codeOf(pick, {
        what: '',
        args: { b: 70000 },
        bytes: { q: 1e15, k: 1e15, v: 1e15, out: 1e15, lse: 1e15 },
        code: '',
      }),
    ).toBe('ERR_SK_UNSUPPORTED')
  })
})
