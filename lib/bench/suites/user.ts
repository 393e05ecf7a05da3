/**
 * `user` suite ("user mode"): the CPU targets timed the way application code
 * runs them. Outputs are never disposed (left to the GC, as ORT users do with
 * theirs); cases run back to back without idling between them; onnxruntime-node
 * runs with its default (workers spin after a run) and with spinning off; and
 * each of our rows is also timed right after an ORT call on the same layer (the
 * "neighbour"), as in an app where ORT and sparsekit ops alternate. ORT's own
 * row under the same neighbour gives the slowdown ours is compared with, both
 * against the row run alone and against the row after ORT with spinning off
 * (which isolates what the spinning workers cost). Each
 * of our rows has a column for its first 100 calls after setup, with the
 * freed-block cache emptied first (a fresh process's first calls).
 * @internal
 * @module
 */
import { randn } from '../../create.js'
import { numThreads } from '../../device.js'
import { attention } from '../../ops/attention.js'
import { conv1x1 } from '../../ops/conv1x1.js'
import { linear } from '../../ops/linear.js'
import { prune } from '../../ops/prune.js'
import { sparsify } from '../../ops/sparsify.js'
import { cpuBinding } from '../../native.js'
import { sparsifyCsr } from '../../sparse/csr.js'
import type { SparseWeight } from '../../sparse/weight.js'
import type { Tensor } from '../../tensor.js'
import { type BenchCase, type BenchRow, type BenchSuite, rotationSets, type SuiteContext } from '../harness.js'
import { conv1x1Model, loadOrt, matmulB, matmulModel, type Ort, type OrtSession, ortSession } from '../onnx.js'

const kFirstRuns = 100
// Linear weights rotate through copies that together pass this many bytes, on
// both sides: a model's layers do not stay cached. Sized by measurement, not
// by the LLC that sysfs reports: on the AMD EPYC we bench on, sysfs says 32 MiB,
// yet a 64 MiB buffer re-read runs at 94 GB/s (128 MiB: 68) against 40 GB/s
// from DRAM, so one 67 MB ORT weight ran partly from cache beside our 8
// rotating copies (bench/results/tuning-notes.md).
const kColdBytes = 256 << 20

/** One target row: a layer, how to make our weight, and the least speedup over ORT (spinning off). */
interface Target {
  label: string
  kind: 'conv' | 'linear'
  m: number
  n: number
  k: number
  hw: number
  min: number
  /** Our weight from the dense [n, k] one. */
  pack(dense: Tensor): Promise<SparseWeight>
}

const csr90 = (w: Tensor) => sparsifyCsr(w, { sparsity: 0.9 })
async function bf16x24(w: Tensor): Promise<SparseWeight> {
  using pruned = await prune(w, { n: 2, m: 4 })
  using b = await pruned.cast('bfloat16')
  return sparsify(b, { format: '2:4' })
}

const kTargets: Target[] = [
  { label: 'csr 90% linear 4096x4096 M=1', kind: 'linear', m: 1, n: 4096, k: 4096, hw: 1, min: 4, pack: csr90 },
  { label: 'csr 90% conv 512→512 14×14', kind: 'conv', m: 196, n: 512, k: 512, hw: 14, min: 3, pack: csr90 },
  { label: '2:4 bf16 linear 4096x4096 M=1', kind: 'linear', m: 1, n: 4096, k: 4096, hw: 1, min: 3, pack: bf16x24 },
  { label: 'csr 90% linear 4096x4096 M=64', kind: 'linear', m: 64, n: 4096, k: 4096, hw: 1, min: 3, pack: csr90 },
]

const name = {
  ortOff: (t: Target) => `${t.label} ORT spin off`,
  ortOn: (t: Target) => `${t.label} ORT spin default`,
  ortNext: (t: Target) => `${t.label} ORT spin off, next to ORT spinning`,
  ortNextOff: (t: Target) => `${t.label} ORT spin off, next to ORT spin off`,
  ours: (t: Target) => `${t.label} sparsekit`,
  oursNextOn: (t: Target) => `${t.label} sparsekit next to ORT spinning`,
  oursNextOff: (t: Target) => `${t.label} sparsekit next to ORT spin off`,
}

/** One target's operands and ORT sessions, made by the first case's setup and freed once. */
class Layer {
  dense: Tensor | null = null
  weights: SparseWeight[] = []
  xs: Tensor[] = []
  /**
   * ORT with spinning off: one session per weight copy (initializers are per
   * session). ORT spinning: one session, as an app has, since each session
   * has its own pool, and rotating several spinning pools would pile their
   * spinning threads onto 2 cores.
   */
  quiet: OrtSession[] = []
  spinning: OrtSession[] = []
  feeds: Record<string, unknown>[] = []
  #opened: Promise<void> | null = null
  constructor(
    readonly t: Target,
    readonly ort: Ort | null,
  ) {}

  open(): Promise<void> {
    this.#opened ??= this.#make()
    return this.#opened
  }
  async #make(): Promise<void> {
    const t = this.t
    this.dense = randn([t.n, t.k], { seed: t.n + t.k })
    // Linear weights rotate past kColdBytes on both sides; conv weights stay cached on both sides.
    const first = await t.pack(this.dense)
    this.weights.push(first)
    const copies = (bytes: number) => (t.kind === 'linear' ? Math.ceil(kColdBytes / bytes) : 1)
    for (let i = 1; i < copies(first.bytes); ++i) this.weights.push(await t.pack(this.dense))
    const dims = t.kind === 'conv' ? [1, t.k, t.hw, t.hw] : [t.m, t.k]
    for (let i = 0; i < Math.min(16, rotationSets(4 * t.m * (t.k + t.n))); ++i)
      this.xs.push(randn(dims, { seed: 100 + i }))
    if (!this.ort) return
    const w = this.dense.data as Float32Array
    const model =
      t.kind === 'conv' ? conv1x1Model(1, t.k, t.n, t.hw, t.hw, w) : matmulModel(t.m, t.k, t.n, matmulB(w, t.n, t.k))
    this.spinning.push(await ortSession(this.ort, model, numThreads(), true))
    for (let i = 0; i < copies(4 * t.n * t.k); ++i)
      this.quiet.push(await ortSession(this.ort, model, numThreads(), false))
    this.feeds = this.xs.map((x) => ({ x: new this.ort!.Tensor('float32', x.data as Float32Array, [...x.dims]) }))
  }
  /** Our op; the output is left to the GC. */
  async ours(i: number): Promise<void> {
    const x = this.xs[i % this.xs.length]
    const w = this.weights[i % this.weights.length]
    await (this.t.kind === 'conv' ? conv1x1(x, w, null) : linear(x, w))
  }
  /** One ORT run on run i's copy; its outputs are left to the GC, as ORT users leave them. */
  async ortRun(sessions: OrtSession[], i: number): Promise<void> {
    await sessions[i % sessions.length].run(this.feeds[i % this.feeds.length])
  }
  async close(): Promise<void> {
    const sessions = [...this.spinning, ...this.quiet]
    this.spinning = []
    this.quiet = []
    this.feeds = []
    for (const x of [this.dense, ...this.weights, ...this.xs]) x?.dispose()
    this.dense = null
    this.weights = []
    this.xs = []
    await Promise.all(sessions.map((s) => s.release()))
  }
}

const flopsOf = (t: Target) => 2 * t.m * t.n * t.k

function layerCases(t: Target, ort: Ort | null): BenchCase[] {
  const l = new Layer(t, ort)
  const flops = flopsOf(t)
  const base = ort ? name.ortOff(t) : undefined
  const make = (caseName: string, run: (i: number) => Promise<void>, extra: Partial<BenchCase> = {}): BenchCase => ({
    name: caseName,
    flops,
    baseline: caseName === base ? undefined : base,
    setup: () => l.open(),
    run,
    teardown: () => l.close(),
    ...extra,
  })
  const ours = make(name.ours(t), (i) => l.ours(i), {
    firstRuns: kFirstRuns,
    async setup() {
      await l.open()
      cpuBinding().emptyHostCache()
    },
  })
  if (!ort) return [ours]
  return [
    make(name.ortOff(t), (i) => l.ortRun(l.quiet, i)),
    make(name.ortOn(t), (i) => l.ortRun(l.spinning, i)),
    make(name.ortNext(t), (i) => l.ortRun(l.quiet, i), { before: (i) => l.ortRun(l.spinning, i) }),
    make(name.ortNextOff(t), (i) => l.ortRun(l.quiet, i), { before: (i) => l.ortRun(l.quiet, i) }),
    ours,
    make(name.oursNextOn(t), (i) => l.ours(i), { before: (i) => l.ortRun(l.spinning, i) }),
    make(name.oursNextOff(t), (i) => l.ours(i), { before: (i) => l.ortRun(l.quiet, i) }),
  ]
}

/** Causal against our own dense attention, S 4096, outputs left to the GC. */
function attentionCases(): BenchCase[] {
  const [b, h, s, d] = [1, 8, 4096, 64]
  let sets: Tensor[][] = []
  const open = () => {
    if (sets.length) return
    for (let i = 0; i < rotationSets(4 * b * h * s * d * 4); ++i)
      sets.push([1, 2, 3].map((j) => randn([b, h, s, d], { seed: 3 * i + j })))
  }
  const close = () => {
    for (const x of sets.flat()) x.dispose()
    sets = []
  }
  const flops = 4 * b * h * s * s * d
  const one = (causal: boolean): BenchCase => ({
    name: `attention ${causal ? 'causal' : 'dense'} S=${s}`,
    flops,
    baseline: causal ? `attention dense S=${s}` : undefined,
    setup: open,
    async run(i) {
      const [q, k, v] = sets[i % sets.length]
      await attention(q, k, v, { causal })
    },
    teardown: close,
  })
  return [one(false), one(true)]
}

async function cases(ctx: SuiteContext): Promise<BenchCase[]> {
  const ort = await loadOrt()
  if (typeof ort === 'string') ctx.note(ort)
  else
    ctx.note(
      `ORT = onnxruntime-node Conv / MatMul, constant weights, ${numThreads()} intra-op threads; "spin off" sets session.intra_op.allow_spinning 0`,
    )
  ctx.note(
    "every output is left to the GC (never disposed), ORT's and ours; cases of a layer alternate in rounds with no idle time between them",
  )
  ctx.note('"next to ORT …": an untimed ORT run on the same layer right before each timed run')
  ctx.note(
    `linear weights rotate past ${kColdBytes >> 20} MiB on both sides: ours and ORT spin off (a session per copy); ORT spinning is one session (one pool, as one model in an app)`,
  )
  ctx.note(
    `first ${kFirstRuns} ms: median of the first ${kFirstRuns} calls after setup, freed-block cache emptied, outputs kept`,
  )
  return [...kTargets.flatMap((t) => layerCases(t, typeof ort === 'string' ? null : ort)), ...attentionCases()]
}

/** Each target with its ratio, and each neighbour's slowdown of ours against ORT's own. */
function summary(rows: readonly BenchRow[]): string[] {
  const get = (n: string) => rows.find((r) => r.name === n)
  const notes: string[] = []
  const verdict = (r: number, min: number) => `${r.toFixed(2)}× ${r >= min ? '(met)' : '(missed)'}`
  for (const t of kTargets) {
    const ours = get(name.ours(t))
    const r = ours?.ratio
    if (r !== undefined) notes.push(`target ${t.label}: ≥ ${t.min}× ORT spin off; measured ${verdict(r, t.min)}`)
    const slowdown = (next: string, alone: string) => {
      const [a, b] = [get(next), get(alone)]
      return a && b ? a.medianMs / b.medianMs : undefined
    }
    // Two views of a neighbour: against the row run alone (the whole cost of
    // running right after another op: our threads then wake from sleep), and
    // against the same row after ORT with spinning off (what the spinning
    // workers alone cost: the busy neighbour of issue 21).
    const views: [string, number | undefined, number | undefined][] = [
      ['vs alone', slowdown(name.oursNextOn(t), name.ours(t)), slowdown(name.ortNext(t), name.ortOff(t))],
      [
        'vs next to ORT spin off',
        slowdown(name.oursNextOn(t), name.oursNextOff(t)),
        slowdown(name.ortNext(t), name.ortNextOff(t)),
      ],
    ]
    for (const [view, mine, theirs] of views)
      if (mine !== undefined && theirs !== undefined)
        notes.push(
          `neighbour ${t.label}: next to ORT spinning ${view}, ours ${mine.toFixed(2)}× slower, ORT ${theirs.toFixed(2)}× ${mine <= theirs ? '(no worse)' : '(worse)'}`,
        )
  }
  const causal = get('attention causal S=4096')?.ratio
  if (causal !== undefined) notes.push(`target causal vs own dense S=4096: ≥ 1.7×; measured ${verdict(causal, 1.7)}`)
  return notes
}

/** The user suite; see the module comment. */
export const userSuite: BenchSuite = {
  name: 'user',
  description:
    "the CPU targets in users' conditions: outputs left to the GC, ORT spinning on and off beside ours, no idle between cases",
  devices: ['cpu'],
  skipReason: 'user mode measures the CPU targets',
  cases,
  rounds: 4,
  settleMs: 0,
  summary,
}
