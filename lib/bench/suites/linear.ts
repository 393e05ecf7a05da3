/**
 * `linear` suite: y = x·wᵀ on the CPU, float32 activations, M ∈ {1, 16, 128}
 * rows (decode and prefill) at K = N = 4096 and an LLM MLP shape (K 4096,
 * N 11008): our 2:4 weights (float32 and bfloat16 values) and our dense
 * kernel against onnxruntime-node's MatMul with the weight as a constant
 * initializer, in the same process with the same thread count. Every row of a
 * shape counts the dense 2·M·N·K, so the ratio column is the speedup over ORT.
 * The notes end with each target and the ratio measured against it.
 * @internal
 * @module
 */
import { randn } from '../../create.js'
import { numThreads } from '../../device.js'
import { linear } from '../../ops/linear.js'
import { prune } from '../../ops/prune.js'
import { sparsify } from '../../ops/sparsify.js'
import type { SparseWeight } from '../../sparse/weight.js'
import type { Tensor } from '../../tensor.js'
import { type BenchCase, type BenchRow, type BenchSuite, lastLevelCacheBytes, type SuiteContext } from '../harness.js'
import { loadOrt, matmulB, matmulModel, type Ort, ortCase } from '../onnx.js'

/** The weight shapes: square, and LLaMA-7B's MLP up-projection. */
const kShapes = [
  { k: 4096, n: 4096 },
  { k: 4096, n: 11008 },
] as const
const kRows = [1, 16, 128] as const

/** Targets (speedup over ORT's dense MatMul); never asserted in tests. */
const kTargets: { row: string; m: number; min: number }[] = [
  { row: '2:4 f32', m: 1, min: 1.6 },
  { row: '2:4 bf16', m: 1, min: 3 },
  { row: '2:4 f32', m: 128, min: 1.2 },
  { row: 'dense f32', m: 128, min: 0.7 },
]

/**
 * Copies of a weight to rotate among so the copies together exceed twice the
 * last-level cache: a weight that fits in L3 would otherwise be timed from it.
 */
const copiesFor = (bytes: number) => Math.max(1, Math.ceil((2 * Math.max(lastLevelCacheBytes(), 32 << 20)) / bytes))

/** One weight shape's operands, made on first use and shared by its rows. */
class Weights {
  dense: Tensor[] = []
  sp32: SparseWeight[] = []
  sp16: SparseWeight[] = []
  x = new Map<number, Tensor>()
  constructor(
    readonly k: number,
    readonly n: number,
  ) {}
  async prepare(): Promise<void> {
    if (this.dense.length) return
    const { k, n } = this
    for (let i = 0; i < copiesFor(n * k * 4); ++i) {
      using w = randn([n, k], { seed: 100 + i })
      this.dense.push(await prune(w, { n: 2, m: 4 }))
    }
    for (let i = 0; i < copiesFor((n * k * 17) / 32); ++i)
      this.sp32.push(await sparsify(this.dense[i % this.dense.length], { format: '2:4' }))
    for (let i = 0; i < copiesFor((n * k * 9) / 16); ++i) {
      using b = await this.dense[i % this.dense.length].cast('bfloat16')
      this.sp16.push(await sparsify(b, { format: '2:4' }))
    }
  }
  input(m: number): Tensor {
    if (!this.x.has(m)) this.x.set(m, randn([m, this.k], { seed: m }))
    return this.x.get(m)!
  }
  dispose(): void {
    for (const t of [...this.dense, ...this.sp32, ...this.sp16, ...this.x.values()]) t.dispose()
    this.dense = []
    this.sp32 = []
    this.sp16 = []
    this.x.clear()
  }
}

const label = (row: string, m: number, k: number, n: number) => `${row} M=${m} ${k}x${n}`

function oursCase(
  name: string,
  baseline: string | undefined,
  flops: number,
  w: Weights,
  m: number,
  pick: (i: number) => Tensor | SparseWeight,
): BenchCase {
  let i = 0
  return {
    name,
    flops,
    baseline,
    setup: () => w.prepare(),
    async run() {
      ;(await linear(w.input(m), pick(i++))).dispose()
    },
  }
}

function matmulOrtCase(name: string, flops: number, w: Weights, m: number, ort: Ort): BenchCase {
  const prepare = async () => {
    await w.prepare()
    const model = matmulModel(m, w.k, w.n, matmulB(w.dense[0].data as Float32Array, w.n, w.k))
    return { model, feeds: [{ x: new ort.Tensor('float32', w.input(m).data as Float32Array, [m, w.k]) }] }
  }
  return ortCase(name, flops, ort, prepare)
}

async function cpuCases(ctx: SuiteContext): Promise<BenchCase[]> {
  const ort = await loadOrt()
  const withOrt = typeof ort !== 'string'
  ctx.note(
    withOrt
      ? `ORT = onnxruntime-node MatMul, weight a constant initializer, ${numThreads()} intra-op threads (sparsekit's count)`
      : (ort as string),
  )
  ctx.note(
    'weights: randn pruned 2:4 (the dense rows use the same pruned weight); copies rotate so they exceed 2× the last-level cache',
  )
  const out: BenchCase[] = []
  const shapes = ctx.quick ? kShapes.slice(0, 1) : kShapes
  for (const { k, n } of shapes) {
    const w = new Weights(k, n)
    ctx.defer(() => w.dispose())
    for (const m of kRows) {
      const flops = 2 * m * n * k
      const ortName = label('ORT MatMul f32', m, k, n)
      if (withOrt) out.push(matmulOrtCase(ortName, flops, w, m, ort))
      const base = withOrt ? ortName : undefined
      out.push(oursCase(label('dense f32', m, k, n), base, flops, w, m, (i) => w.dense[i % w.dense.length]))
      out.push(oursCase(label('2:4 f32', m, k, n), base, flops, w, m, (i) => w.sp32[i % w.sp32.length]))
      out.push(oursCase(label('2:4 bf16', m, k, n), base, flops, w, m, (i) => w.sp16[i % w.sp16.length]))
    }
    out[out.length - 1].teardown = () => w.dispose()
  }
  return out
}

/** Each target with the ratio measured against it (rows of shapes not run are skipped). */
function targetNotes(rows: readonly BenchRow[]): string[] {
  const notes: string[] = []
  for (const { k, n } of kShapes)
    for (const t of kTargets) {
      const r = rows.find((row) => row.name === label(t.row, t.m, k, n))?.ratio
      if (r !== undefined)
        notes.push(
          `target ${k}x${n} ${t.row} M=${t.m}: ≥ ${t.min}× ORT; measured ${r.toFixed(2)}× ${r >= t.min ? '(met)' : '(missed)'}`,
        )
    }
  return notes
}

/** The linear suite; see the module comment. */
export const linearSuite: BenchSuite = {
  name: 'linear',
  description: 'y = x·wᵀ, float32 x, dense and 2:4 weights vs onnxruntime-node MatMul; outputs allocated per call',
  devices: ['cpu'],
  skipReason: 'CUDA 2:4 linear is benchmarked by the CUDA module',
  cases: cpuCases,
  rounds: 4,
  summary: targetNotes,
}
