/**
 * `fp8` suite: block-sparse attention on the CPU over FP8 inputs
 * (sk.quantize: e4m3fn, 128-token tiles = the mask's blocks; q and k per
 * tile, k smoothed, v per channel) against the same call over float32 and
 * bfloat16 inputs. B 1, Hq 2, Hkv 1, D 128, random tiles at 10 % density
 * (diagonal kept), S 4K and 32K (quick: 4K), seeded Gaussian inputs.
 *
 * Columns: `kvMiB`, the K and V bytes the call reads (FP8: codes and
 * scales); `mem`, that over float32's; `err`, the relative L2 error of the
 * output against the float32 row's. On the 4K FP8 row, the quantisation's
 * accuracy at a 384-token sliding window (128-token tiles, float32 attention
 * as the reference): `gauss` (Gaussian q, k, v), `gen` (the prefill
 * generator, lib/bench/prefill-gen.ts), and with K offset per channel
 * (uniform in ±5) `offTile` (per-tile, smoothed) against `offTensor` (one
 * scale per tensor, unsmoothed): what smoothing and per-tile scales remove.
 * On CUDA the rows are fp8-cuda.ts's (FP8 dense and 10 % vs our bf16 dense).
 * @internal
 * @module
 */
import { randn } from '../../create.js'
import { BlockMask } from '../../mask/index.js'
import { attention } from '../../ops/attention.js'
import { quantize, quantizePerTensor, type QuantizedTensor } from '../../ops/quantize.js'
import type { Tensor } from '../../tensor.js'
import { type BenchCase, type BenchRow, type BenchSuite, type SuiteContext } from '../harness.js'
import { generatePrefill } from '../prefill-gen.js'
import { relativeError } from '../prefill-metrics.js'
import { randomTileKept } from './attention.js'
import { cudaCases } from './fp8-cuda.js'

const kHq = 2,
  kHkv = 1,
  kD = 128,
  kTile = 128,
  kDensity = 0.1,
  kTargetLen = 32768,
  kWindow = 384,
  kAccLen = 4096

type Operands = [Tensor, Tensor, Tensor] | [QuantizedTensor, QuantizedTensor, QuantizedTensor]

/** K and V bytes a call reads: the elements, and with FP8 the scales (k per tile, v per tile and channel) and k's mean. */
function kvBytes(ops: Operands): number {
  const [, k, v] = ops
  if ('codes' in k && 'codes' in v)
    return k.codes.size + v.codes.size + 4 * (k.scales.size + v.scales.size + (k.mean?.size ?? 0))
  return (k as Tensor).size * ((k as Tensor).type === 'float32' ? 4 : 2) * 2
}

/** e4m3fn operands for attention: q and k per tile, k smoothed, v per channel. */
const fp8Of = async (q: Tensor, k: Tensor, v: Tensor): Promise<Operands> => [
  await quantize(q, { tile: kTile }),
  await quantize(k, { tile: kTile, smooth: true }),
  await quantize(v, { tile: kTile, perChannel: true }),
]

const disposeAll = (ops: Operands | null) => ops?.forEach((t) => t.dispose())

/** Relative L2 error of attention over `ops` against float32 attention over q, k, v, with mask. */
async function errorOf(ops: Operands, q: Tensor, k: Tensor, v: Tensor, mask: BlockMask): Promise<number> {
  const [out, ref] = [await attention(ops[0], ops[1], ops[2], { mask }), await attention(q, k, v, { mask })]
  try {
    return relativeError(out, ref)
  } finally {
    out.dispose()
    ref.dispose()
  }
}

/** The quantisation's accuracy figures (the 4K FP8 row's extra columns); see the module comment. */
async function accuracy(): Promise<Record<string, number>> {
  const mask = BlockMask.slidingWindow({ qLen: kAccLen, kvLen: kAccLen, window: kWindow, blockSize: kTile })
  const dims = (h: number) => [1, h, kAccLen, kD]
  const one = async (q: Tensor, k: Tensor, v: Tensor, perTensor: boolean) => {
    const ops: Operands = perTensor
      ? [
          quantizePerTensor(q, 'float8e4m3fn', kTile),
          quantizePerTensor(k, 'float8e4m3fn', kTile),
          quantizePerTensor(v, 'float8e4m3fn', kTile),
        ]
      : await fp8Of(q, k, v)
    try {
      return await errorOf(ops, q, k, v, mask)
    } finally {
      disposeAll(ops)
    }
  }
  const g = [randn(dims(kHq), { seed: 21 }), randn(dims(kHkv), { seed: 22 }), randn(dims(kHkv), { seed: 23 })] as const
  const gen = await generatePrefill({ heads: kHq, kvHeads: kHkv, seq: kAccLen, headDim: kD, seed: 11 })
  try {
    const gauss = await one(...g, false)
    const genErr = await one(gen.q, gen.k, gen.v, false)
    const k = g[1].data as Float32Array
    for (let i = 0; i < k.length; ++i) k[i] += (((i % kD) * 37) % 11) - 5 // channel offsets in [-5, 5]
    const offTile = await one(...g, false)
    const offTensor = await one(...g, true)
    return { gauss, gen: genErr, offTile, offTensor }
  } finally {
    for (const t of [...g, gen.q, gen.k, gen.v]) t.dispose()
  }
}

function casesAt(ctx: SuiteContext, S: number): BenchCase[] {
  let mask: BlockMask | null = null
  let inputs: [Tensor, Tensor, Tensor] | null = null
  let ref: Tensor | null = null
  const ready = async () => {
    if (inputs) return inputs
    mask = BlockMask.fromBlocks((_b, h, qb, kb) => randomTileKept({ density: kDensity, seed: 5 }, h, qb, kb), {
      heads: kHq,
      qLen: S,
      kvLen: S,
      blockSize: kTile,
    })
    inputs = [
      randn([1, kHq, S, kD], { seed: 1 }),
      randn([1, kHkv, S, kD], { seed: 2 }),
      randn([1, kHkv, S, kD], { seed: 3 }),
    ]
    ref = await attention(...inputs, { mask })
    return inputs
  }
  const f32Bytes = 2 * kHkv * S * kD * 4
  const blocks = S / kTile
  let kept = 0
  for (let h = 0; h < kHq; ++h)
    for (let qb = 0; qb < blocks; ++qb)
      for (let kb = 0; kb < blocks; ++kb) kept += Number(randomTileKept({ density: kDensity, seed: 5 }, h, qb, kb))
  const flops = kept * kTile * kTile * kD * 4 // q·k and p·v over every kept tile: the same work for every row
  const row = (
    label: string,
    make: (q: Tensor, k: Tensor, v: Tensor) => Promise<Operands>,
    acc: boolean,
  ): BenchCase => {
    let ops: Operands | null = null
    const c: BenchCase = {
      name: `${label} S=${S}`,
      baseline: label === 'f32' ? undefined : `f32 S=${S}`,
      flops,
      async setup() {
        const [q, k, v] = await ready()
        ops = await make(q, k, v)
        const out = await attention(ops[0] as Tensor, ops[1] as Tensor, ops[2] as Tensor, { mask: mask! })
        const asF32 = out.type === 'float32' ? out : await out.cast('float32')
        const bytes = kvBytes(ops)
        c.extra = { kvMiB: bytes / 2 ** 20, mem: bytes / f32Bytes, err: relativeError(asF32, ref!) }
        if (asF32 !== out) asF32.dispose()
        out.dispose()
        if (acc) c.extra = { ...c.extra, ...(await accuracy()) }
      },
      run: async () =>
        (await attention(ops![0] as Tensor, ops![1] as Tensor, ops![2] as Tensor, { mask: mask! })).dispose(),
      teardown: () => {
        if (label !== 'f32') disposeAll(ops)
        ops = null
      },
    }
    return c
  }
  const cast = async (t: Tensor) => t.cast('bfloat16')
  const cases = [
    row('f32', async (q, k, v) => [q, k, v], false),
    row('bf16', async (q, k, v) => [await cast(q), await cast(k), await cast(v)], false),
    row('fp8 e4m3', fp8Of, S === kAccLen),
  ]
  const free = () => {
    for (const t of inputs ?? []) t.dispose()
    ref?.dispose()
    mask = null
    inputs = null
    ref = null
  }
  const last = cases[cases.length - 1]!,
    own = last.teardown
  last.teardown = async () => {
    await own?.()
    free()
  }
  ctx.defer(free)
  return cases
}

/** The targets (issue 22), judged on the timed rows and the accuracy columns. */
function targetNotes(rows: readonly BenchRow[]): string[] {
  const notes: string[] = []
  const met = (ok: boolean) => (ok ? 'met' : 'NOT met')
  const at = (label: string, S: number) => rows.find((r) => r.name === `${label} S=${S}`)
  const f = at('fp8 e4m3', kTargetLen),
    base = at('f32', kTargetLen)
  if (f?.extra && base) {
    const time = f.medianMs / base.medianMs
    notes.push(
      `target S ${kTargetLen}: FP8 K/V ≤ 0.3× float32's memory: ${f.extra.mem!.toFixed(3)}× ${met(f.extra.mem! <= 0.3)}; ` +
        `≤ 1.3× float32's time: ${time.toFixed(3)}× ${met(time <= 1.3)}`,
    )
  }
  const bf = rows.find((r) => r.name.startsWith('bf16 dense S=')) // the CUDA rows (fp8-cuda.ts)
  for (const [label, want] of [
    ['fp8 dense', 1.5],
    [`fp8 ${100 * kDensity}%`, 10],
  ] as const) {
    const r = rows.find((x) => x.name.startsWith(`${label} S=`))
    const x = bf && r ? bf.medianMs / r.medianMs : undefined
    if (x !== undefined)
      notes.push(`target GPU: ${label} ≥ ${want}× our bf16 dense: ${x.toFixed(2)}× ${met(x >= want)}`)
  }
  const a = at('fp8 e4m3', kAccLen)?.extra
  if (a?.gauss !== undefined) {
    const gain = a.offTensor! / a.offTile!
    notes.push(
      `target e4m3, 128-token tiles, window ${kWindow}: rel L2 ≤ 5e-2: Gaussian ${a.gauss.toExponential(2)} ${met(a.gauss <= 5e-2)}, ` +
        `generator ${a.gen!.toExponential(2)} ${met(a.gen! <= 5e-2)}; K with channel offsets, per tensor ÷ per tile smoothed ≥ 1.5: ` +
        `${gain.toFixed(2)} (${a.offTensor!.toExponential(2)} / ${a.offTile!.toExponential(2)}) ${met(gain >= 1.5)}`,
    )
  }
  return notes
}

/** The fp8 suite; see the module comment. */
export const fp8Suite: BenchSuite = {
  name: 'fp8',
  description:
    `Block-sparse attention on FP8 inputs (e4m3fn, ${kTile}-token tiles, k smoothed, v per channel) vs float32 and bfloat16 inputs, ` +
    `B 1, Hq ${kHq}, Hkv ${kHkv}, D ${kD}, random tiles at ${100 * kDensity} %`,
  devices: ['cpu', 'cuda'],
  rounds: 4,
  cases(ctx) {
    if (ctx.device !== 'cpu') return cudaCases(ctx)
    ctx.note(
      'one input set per S (a call reads K/V for seconds: cache warmth is noise); rows of one S timed in 4 alternating rounds',
    )
    ctx.note(
      'GFLOP/s counts q·k and p·v over the kept tiles (the same work in every row, so vs baseline is the speedup)',
    )
    ctx.note(
      "kvMiB / mem: K and V bytes, and over float32's; err: rel L2 vs the f32 row; 4K FP8 row: the quantisation's accuracy (module comment)",
    )
    return (ctx.quick ? [kAccLen] : [kAccLen, kTargetLen]).flatMap((S) => casesAt(ctx, S))
  },
  summary: targetNotes,
}
