/**
 * `attention` suite: prefill attention on the CPU (float32, B 1, H 8, D 64)
 * against onnxruntime-node's com.microsoft MultiHeadAttention in the same
 * process with the same thread count, and against our own dense kernel; causal
 * and block-sparse masks (random tiles that keep the diagonal, streaming) at
 * 50 / 25 / 10 / 5 % density; mask build time at 128K tokens. On CUDA:
 * bfloat16, D 128, S 4K–32K against our dense kernel (PyTorch is compared by
 * scripts/, outside Node).
 *
 * The shapes and masks are {@link AttentionCase}s: test/cases/attention.ts runs
 * the same ones against a float64 reference, so what is timed is also tested.
 * @internal
 * @module
 */
import { randn } from '../../create.js'
import { numThreads } from '../../device.js'
import { type DType, dtypeBytes } from '../../dtype.js'
import { BlockMask, type BlockSize } from '../../mask/index.js'
import { attention } from '../../ops/attention.js'
import { fmix32 } from '../../random.js'
import type { AttentionLayout } from '../../ops/layout.js'
import type { Tensor } from '../../tensor.js'
import { type BenchCase, type BenchSuite, rotationSets, type SuiteContext } from '../harness.js'
import { loadOrt, mhaModel, type Ort, ortCase } from '../onnx.js'

/** Which keys a case lets each query see, before the op's own `causal` flag. */
export type MaskSpec =
  | { kind: 'causal' } // BlockMask.causal
  | { kind: 'sliding'; window: number }
  | { kind: 'streaming'; sink: number; local: number }
  | { kind: 'random'; density: number; seed: number; diagonal?: boolean } // fromBlocks; the diagonal tile kept unless `diagonal: false`
  | { kind: 'randomDense'; density: number; seed: number; diagonal?: boolean } // the same tiles through fromDense bits
  | { kind: 'documents'; prefix: number; lengths: number[]; query: number } // BlockRank; seqQ = seqKv = the total

/** One attention problem; shared by the tests and this suite. */
export interface AttentionCase {
  name: string
  batch: number
  headsQ: number
  headsKv: number
  seqQ: number
  seqKv: number
  headDim: number
  type: DType
  layout?: AttentionLayout
  causal?: boolean
  mask?: MaskSpec
  /** Mask tile size in tokens (one number, or query and key sizes); default 128. */
  blockSize?: BlockSize
  /** Bench rows: the tile density the mask was made for (the built mask's own may differ a little). */
  density?: number
}

const kDefaultBlock = 128

/**
 * Whether a random mask keeps tile (h, qb, kb), hashed with murmur3's finalizer so it is reproducible anywhere: the diagonal always (unless `diagonal: false`), else with probability `density`. */
export function randomTileKept(
  spec: { density: number; seed: number; diagonal?: boolean },
  h: number,
  qb: number,
  kb: number,
): boolean {
  if (qb === kb && spec.diagonal !== false) return true
  const r = fmix32(spec.seed ^ fmix32(h * 0x9e3779b1 + fmix32(qb * 0x85ebca77 + fmix32(kb + 0x27d4eb2f))))
  return r / 2 ** 32 < spec.density
}

/** A case's query and key tile sizes in tokens. */
export function tileSizes(c: AttentionCase): { q: number; kv: number } {
  const b = c.blockSize ?? kDefaultBlock
  return typeof b === 'number' ? { q: b, kv: b } : b
}

/** The BlockMask a case names (per query head for random masks), or undefined for a dense case. */
export function buildMask(c: AttentionCase): BlockMask | undefined {
  const m = c.mask
  if (!m) return undefined
  const blockSize = c.blockSize ?? kDefaultBlock
  const lens = { qLen: c.seqQ, kvLen: c.seqKv, blockSize }
  switch (m.kind) {
    case 'causal':
      return BlockMask.causal(lens)
    case 'sliding':
      return BlockMask.slidingWindow({ ...lens, window: m.window })
    case 'streaming':
      return BlockMask.streaming({ ...lens, sink: m.sink, local: m.local })
    case 'random':
      return BlockMask.fromBlocks((_b, h, qb, kb) => randomTileKept(m, h, qb, kb), {
        batch: 1,
        heads: c.headsQ,
        ...lens,
      })
    case 'documents':
      return BlockMask.documents({ prefix: m.prefix, lengths: m.lengths, query: m.query, blockSize })
    case 'randomDense': {
      const nq = Math.ceil(c.seqQ / tileSizes(c).q)
      const nk = Math.ceil(c.seqKv / tileSizes(c).kv)
      const bits = new Uint8Array(c.headsQ * nq * nk)
      for (let h = 0; h < c.headsQ; ++h)
        for (let qb = 0; qb < nq; ++qb)
          for (let kb = 0; kb < nk; ++kb) bits[(h * nq + qb) * nk + kb] = randomTileKept(m, h, qb, kb) ? 1 : 0
      return BlockMask.fromDense(bits, [1, c.headsQ, nq, nk], lens)
    }
  }
}

/** Streaming parameters whose tiles cover about `density` of a causal-free S × S grid: one sink tile plus a local band. */
function streamingFor(seq: number, density: number, blockSize: number): MaskSpec {
  return { kind: 'streaming', sink: blockSize, local: Math.max(blockSize, Math.round(density * seq) - blockSize) }
}

export const kSparseDensities = [0.5, 0.25, 0.1, 0.05] as const
const pct = (d: number) => `${Math.round(d * 100)}%`

/** What the CPU rows are timed on; also checked by the tests (against float64 on sampled rows). */
export function cpuBenchCases(quick: boolean): AttentionCase[] {
  const seqs = quick ? [1024, 4096] : [1024, 4096, 8192]
  return seqs.flatMap((s) => {
    const base = { batch: 1, headsQ: 8, headsKv: 8, seqQ: s, seqKv: s, headDim: 64, type: 'float32' as DType }
    return [{ ...base, name: `dense S=${s}` }, { ...base, name: `causal S=${s}`, causal: true }, ...sparseRows(base, s)]
  })
}

/** Random tiles (diagonal kept) and streaming masks at each of {@link kSparseDensities}. */
function sparseRows(base: Omit<AttentionCase, 'name'>, s: number): AttentionCase[] {
  return [
    ...kSparseDensities.map((d) => ({
      ...base,
      name: `random ${pct(d)} S=${s}`,
      density: d,
      mask: { kind: 'random', density: d, seed: 7 } as MaskSpec,
    })),
    ...kSparseDensities.map((d) => ({
      ...base,
      name: `streaming ${pct(d)} S=${s}`,
      density: d,
      mask: streamingFor(s, d, kDefaultBlock),
    })),
  ]
}

/** What the CUDA rows are timed on: bfloat16, D 128, 16 heads. */
export function cudaBenchCases(quick: boolean): AttentionCase[] {
  const seqs = quick ? [4096, 8192] : [4096, 8192, 16384, 32768]
  return seqs.flatMap((s) => {
    const base = { batch: 1, headsQ: 16, headsKv: 16, seqQ: s, seqKv: s, headDim: 128, type: 'bfloat16' as DType }
    return [{ ...base, name: `dense S=${s}` }, { ...base, name: `causal S=${s}`, causal: true }, ...sparseRows(base, s)]
  })
}

/**
 * Proposed targets (never asserted in tests): a row's speedup over the row it
 * is compared with. Printed as notes until the table has a target column.
 */
export function targetFor(c: AttentionCase, device: 'cpu' | 'cuda'): string {
  if (!c.mask && !c.causal) return device === 'cpu' ? '≥ 1.0× ORT MHA' : 'baseline'
  if (c.causal && !c.mask) return '≥ 1.7× dense'
  return `≥ ${(0.7 / (c.density ?? 1)).toFixed(1)}× dense`
}

/** 4·B·Hq·Sq·Skv·D: the dense work, given to every row of one S so the ratio column is the speedup. */
const denseFlops = (c: AttentionCase) => 4 * c.batch * c.headsQ * c.seqQ * c.seqKv * c.headDim

/** Rotated q, k, v sets of one shape, made once per S and shared by its rows. */
class Inputs {
  sets: Tensor[][] = []
  constructor(
    readonly c: AttentionCase,
    readonly device: SuiteContext['device'],
  ) {}
  async get(): Promise<Tensor[][]> {
    if (this.sets.length) return this.sets
    const { batch, headsQ, headsKv, seqQ, seqKv, headDim, type } = this.c
    const bytes = batch * (2 * headsQ * seqQ + 2 * headsKv * seqKv) * headDim * dtypeBytes(type) // q, k, v, out
    const n = rotationSets(bytes, this.device === 'cpu' ? 0 : 128 << 20)
    for (let i = 0; i < n; ++i) {
      const make = async (h: number, s: number, seed: number) => {
        const t = randn([batch, h, s, headDim], { type, seed })
        if (this.device === 'cpu') return t
        const d = await t.to(this.device)
        t.dispose()
        return d
      }
      this.sets.push([
        await make(headsQ, seqQ, 3 * i + 1),
        await make(headsKv, seqKv, 3 * i + 2),
        await make(headsKv, seqKv, 3 * i + 3),
      ])
    }
    return this.sets
  }
  dispose(): void {
    for (const t of this.sets.flat()) t.dispose()
    this.sets = []
  }
}

function opCase(c: AttentionCase, inputs: Inputs, baseline: string | undefined): BenchCase {
  let sets: Tensor[][] = []
  let mask: BlockMask | undefined
  return {
    name: c.name,
    flops: denseFlops(c),
    baseline,
    async setup() {
      sets = await inputs.get()
      mask = buildMask(c)
    },
    async run(i) {
      const [q, k, v] = sets[i % sets.length]
      ;(await attention(q, k, v, { causal: c.causal, mask })).dispose()
    },
  }
}

function mhaOrtCase(c: AttentionCase, inputs: Inputs, ort: Ort): BenchCase {
  const hidden = c.headsQ * c.headDim
  return ortCase(`ORT MHA S=${c.seqQ}`, denseFlops(c), ort, async () => {
    // Our bhsd inputs seen as [B, S, H·D]: other values, same sizes, no copy (values do not change the timing).
    const view = (t: Tensor, s: number) => new ort.Tensor('float32', t.data as Float32Array, [c.batch, s, hidden])
    const feeds = (await inputs.get()).map(([q, k, v]) => ({
      query: view(q, c.seqQ),
      key: view(k, c.seqKv),
      value: view(v, c.seqKv),
    }))
    return { model: mhaModel(c.batch, c.seqQ, c.seqKv, c.headsQ, c.headDim), feeds }
  })
}

const kMaskBuildTokens = 128 * 1024

function maskBuildCases(): BenchCase[] {
  const lens = { qLen: kMaskBuildTokens, kvLen: kMaskBuildTokens, blockSize: kDefaultBlock }
  const c: AttentionCase = {
    name: '',
    batch: 1,
    headsQ: 1,
    headsKv: 1,
    seqQ: kMaskBuildTokens,
    seqKv: kMaskBuildTokens,
    headDim: 64,
    type: 'float32',
  }
  const build = (name: string, make: () => BlockMask): BenchCase => ({
    name: `mask build ${name} 128K`,
    run: () => void make(),
  })
  return [
    build('causal', () => BlockMask.causal(lens)),
    build('streaming', () => BlockMask.streaming({ ...lens, sink: 128, local: 4096 })),
    build('random 10% (fromBlocks, 1 head)', () =>
      buildMask({ ...c, mask: { kind: 'random', density: 0.1, seed: 7 } })!,
    ),
  ]
}

/** Per S: the ORT row, then ours; that S's inputs are freed after its last row (the next S needs the memory). */
async function cpuCases(ctx: SuiteContext): Promise<BenchCase[]> {
  const ort = await loadOrt()
  if (typeof ort === 'string') ctx.note(ort)
  else
    ctx.note(
      `ORT MHA = com.microsoft MultiHeadAttention on [B, S, H·D] inputs, ${numThreads()} intra-op threads (sparsekit's count)`,
    )
  return [...perSeq(ctx, cpuBenchCases(ctx.quick), ort), ...maskBuildCases()]
}

function perSeq(ctx: SuiteContext, all: AttentionCase[], ort: Ort | string | null): BenchCase[] {
  const out: BenchCase[] = []
  for (const s of [...new Set(all.map((c) => c.seqQ))]) {
    const rows = all.filter((c) => c.seqQ === s)
    const dense = rows.find((c) => !c.mask && !c.causal)!
    const inputs = new Inputs(dense, ctx.device)
    ctx.defer(() => inputs.dispose())
    const withOrt = ort !== null && typeof ort !== 'string'
    if (withOrt) out.push(mhaOrtCase(dense, inputs, ort))
    for (const c of rows)
      out.push(opCase(c, inputs, c === dense ? (withOrt ? `ORT MHA S=${s}` : undefined) : dense.name))
    const last = out[out.length - 1]
    const own = last.teardown
    last.teardown = () => {
      own?.()
      inputs.dispose()
    }
  }
  const kind = ctx.device === 'cpu' ? 'cpu' : 'cuda'
  const seen = new Map<string, string[]>()
  for (const c of all) {
    const t = targetFor(c, kind)
    const label = c.name.replace(/ S=\d+$/, '')
    if (!seen.has(t)) seen.set(t, [])
    if (!seen.get(t)!.includes(label)) seen.get(t)!.push(label)
  }
  ctx.note(
    `targets (speedup vs the compared row): ${[...seen].map(([t, names]) => `${names.join(', ')} ${t}`).join('; ')}`,
  )
  for (const s of [...new Set(all.map((c) => c.seqQ))]) {
    const dens = all
      .filter((c) => c.seqQ === s && c.mask)
      .map((c) => `${c.name.replace(/ S=\d+$/, '')} ${(buildMask(c)!.density * 100).toFixed(1)}%`)
    if (dens.length) ctx.note(`S=${s} tile density as built: ${dens.join(', ')}`)
  }
  return out
}

/** The attention suite; see the module comment. */
export const attentionSuite: BenchSuite = {
  name: 'attention',
  description: 'prefill attention forward (FlashAttention), dense, causal and block-sparse; outputs allocated per call',
  devices: ['cpu', 'cuda'],
  async cases(ctx: SuiteContext): Promise<BenchCase[]> {
    ctx.note('GFLOP/s counts the dense 4·B·H·Sq·Skv·D for every row of one S, so the ratio is the speedup')
    if (ctx.device === 'cpu') return cpuCases(ctx)
    ctx.note('CUDA baseline: our dense kernel (PyTorch SDPA / FlashAttention are compared by scripts/, outside Node)')
    return perSeq(ctx, cudaBenchCases(ctx.quick), null)
  },
}
