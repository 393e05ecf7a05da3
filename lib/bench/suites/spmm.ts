/**
 * `spmm` suite: CSR sparse weights on the CPU at 50 / 70 / 80 / 90 / 95 %
 * sparsity, on MobileNet-v1's 1×1 convolutions (256→256 at 28×28, 512→512 at
 * 14×14, 1024→1024 at 7×7) and on a 4096×4096 linear layer with M 64 and
 * M 1 (decode). Every row is compared with onnxruntime-node's dense op on the
 * same shape in the same process (Conv / MatMul with constant weights,
 * intra-op threads = sparsekit's), and every row's GFLOP/s counts the dense
 * 2·M·N·K, so GFLOP/s is effective (dense-equivalent) throughput and the ratio
 * is the speedup over ORT. Our dense rows: for linear layers the dense GEMM /
 * GEMV of `linear()`; "csr 0%" is the CSR kernels with every weight stored.
 * @internal
 * @module
 */
import { randn } from '../../create.js'
import { numThreads } from '../../device.js'
import { conv1x1 } from '../../ops/conv1x1.js'
import { linear } from '../../ops/linear.js'
import { linearCsr, sparsifyCsr } from '../../sparse/csr.js'
import type { SparseWeight } from '../../sparse/weight.js'
import { hostTensor, type Tensor } from '../../tensor.js'
import { type BenchCase, type BenchRow, type BenchSuite, lastLevelCacheBytes, type SuiteContext } from '../harness.js'
import { conv1x1Model, loadOrt, matmulB, matmulModel, type Ort, ortCase } from '../onnx.js'

/** One layer: a 1×1 convolution (m = H·W pixels) or a linear layer (m rows). */
export interface SpmmLayer {
  name: string
  kind: 'conv' | 'linear'
  n: number // output channels / features
  k: number // input channels / features
  h: number // conv only
  w: number // conv only
  m: number // pixels (conv) or rows (linear)
}

export const kSpmmSparsities = [0.5, 0.7, 0.8, 0.9, 0.95] as const

/** The layers timed; the numeric tests cover the same kernels on smaller shapes. */
export function spmmLayers(): SpmmLayer[] {
  const conv = (c: number, hw: number): SpmmLayer => ({
    name: `conv ${c}→${c} ${hw}×${hw}`,
    kind: 'conv',
    n: c,
    k: c,
    h: hw,
    w: hw,
    m: hw * hw,
  })
  const linear = (m: number): SpmmLayer => ({
    name: `linear 4096×4096 M=${m}`,
    kind: 'linear',
    n: 4096,
    k: 4096,
    h: 1,
    w: 1,
    m,
  })
  return [conv(256, 28), conv(512, 14), conv(1024, 7), linear(64), linear(1)]
}

/** The target for a row: the least speedup over ORT's dense op, 0 when none is set. */
export function spmmTarget(layer: SpmmLayer, sparsity: number): number {
  if (sparsity === 0.9) return layer.kind === 'linear' && layer.m === 1 ? 4 : 3
  return sparsity === 0.7 ? 1.3 : 0
}

const pct = (s: number) => `${Math.round(s * 100)}%`
const dims = (l: SpmmLayer) => (l.kind === 'conv' ? [1, l.k, l.h, l.w] : [l.m, l.k])
const outDims = (l: SpmmLayer) => (l.kind === 'conv' ? [1, l.n, l.h, l.w] : [l.m, l.n])
const flops = (l: SpmmLayer) => 2 * l.m * l.n * l.k

/** A layer's dense weight, its packed copies per sparsity, and rotated inputs; built on first use. */
class LayerData {
  dense: Tensor | null = null
  xs: Tensor[] = []
  outs: Tensor[] = []
  packed = new Map<number, SparseWeight[]>()
  constructor(readonly layer: SpmmLayer) {}

  weight(): Tensor {
    this.dense ??= randn([this.layer.n, this.layer.k], { seed: this.layer.n + this.layer.k })
    return this.dense
  }
  inputs(): { xs: Tensor[]; outs: Tensor[] } {
    if (this.xs.length) return { xs: this.xs, outs: this.outs }
    const l = this.layer
    const bytes = 4 * l.m * (l.k + l.n)
    const sets = Math.min(16, Math.max(2, Math.ceil((2 * lastLevelCacheBytes()) / bytes)))
    for (let i = 0; i < sets; ++i) {
      this.xs.push(randn(dims(l), { seed: 100 + i }))
      const shape = outDims(l)
      this.outs.push(hostTensor('float32', shape, l.m * l.n, true))
    }
    return { xs: this.xs, outs: this.outs }
  }
  /**
   * Packed copies at one sparsity: linear weights are rotated among enough
   * copies to exceed 2× the last-level cache, as a model's many layers would
   * (ORT's dense 64 MiB already does); conv weights stay cache-resident on both sides.
   */
  async sparse(s: number): Promise<SparseWeight[]> {
    const have = this.packed.get(s)
    if (have) return have
    const first = await sparsifyCsr(this.weight(), { sparsity: s })
    const copies = [first]
    if (this.layer.kind === 'linear') {
      const want = Math.min(8, Math.ceil((2 * lastLevelCacheBytes()) / Math.max(1, first.bytes)))
      if (want > 1) {
        const pruned = await first.toDense() // prune once; copies pack the same matrix
        for (let i = 1; i < want; ++i) copies.push(await sparsifyCsr(pruned))
        pruned.dispose()
      }
    }
    this.packed.set(s, copies)
    return copies
  }
  dropSparse(s: number): void {
    for (const w of this.packed.get(s) ?? []) w.dispose()
    this.packed.delete(s)
  }
  dispose(): void {
    this.dense?.dispose()
    this.dense = null
    for (const t of [...this.xs, ...this.outs]) t.dispose()
    this.xs = []
    this.outs = []
    for (const s of [...this.packed.keys()]) this.dropSparse(s)
  }
}

const csrName = (l: SpmmLayer, s: number) => `${l.name} csr ${pct(s)}${s === 0 ? ' (dense-equivalent)' : ''}`

function csrCase(d: LayerData, s: number, baseline: string | undefined): BenchCase {
  const l = d.layer
  let ws: SparseWeight[] = []
  let xs: Tensor[] = []
  let outs: Tensor[] = []
  return {
    name: csrName(l, s),
    flops: flops(l),
    baseline,
    async setup() {
      ws = await d.sparse(s)
      ;({ xs, outs } = d.inputs())
      // A weight's first linear call with many rows cuts its arrays into K slices (once per weight, as a
      // model's first call would): do it here for every rotated copy, not in a timed run.
      if (l.kind === 'linear') for (const w of ws) await linearCsr(xs[0], w, null, outs[0])
    },
    async run(i) {
      const w = ws[i % ws.length]
      const x = xs[i % xs.length]
      if (l.kind === 'conv') (await conv1x1(x, w, null)).dispose()
      else await linearCsr(x, w, null, outs[i % outs.length])
    },
    teardown() {
      d.dropSparse(s)
    },
  }
}

function layerOrtCase(d: LayerData, ort: Ort): BenchCase {
  const l = d.layer
  return ortCase(`${l.name} ORT ${l.kind === 'conv' ? 'Conv' : 'MatMul'} (dense)`, flops(l), ort, async () => {
    const w = d.weight().data as Float32Array
    const model =
      l.kind === 'conv' ? conv1x1Model(1, l.k, l.n, l.h, l.w, w) : matmulModel(l.m, l.k, l.n, matmulB(w, l.n, l.k))
    return {
      model,
      feeds: d.inputs().xs.map((x) => ({ x: new ort.Tensor('float32', x.data as Float32Array, [...x.dims]) })),
    }
  })
}

/** Our dense linear (the GEMM / GEMV of `linear()`) on the layer's dense weight, 64 MiB at 4096²: not cache-resident either. */
function denseLinearCase(d: LayerData, baseline: string | undefined): BenchCase {
  const l = d.layer
  let xs: Tensor[] = []
  return {
    name: `${l.name} sparsekit dense linear`,
    flops: flops(l),
    baseline,
    setup() {
      d.weight()
      ;({ xs } = d.inputs())
    },
    async run(i) {
      ;(await linear(xs[i % xs.length], d.weight())).dispose()
    },
  }
}

async function cases(ctx: SuiteContext): Promise<BenchCase[]> {
  const ort = await loadOrt()
  if (typeof ort === 'string') ctx.note(ort)
  else
    ctx.note(
      `ORT = onnxruntime-node Conv / MatMul with constant weights, ${numThreads()} intra-op threads (sparsekit's count)`,
    )
  ctx.note(
    "GFLOP/s = dense-equivalent 2·M·N·K per second for every row (XNNPACK's EffFLOPS); ratio = speedup over the ORT row of the layer",
  )
  ctx.note(
    'our dense: linear layers run the dense GEMM / GEMV of linear(); "csr 0%" stores every weight in the CSR kernels (conv has no dense sparsekit kernel)',
  )
  ctx.note(
    "linear weights rotate among copies totalling > 2× the last-level cache (a model's layers do not stay cached); conv weights stay cached for both",
  )
  const out: BenchCase[] = []
  for (const layer of spmmLayers()) {
    const d = new LayerData(layer)
    ctx.defer(() => d.dispose())
    const withOrt = typeof ort !== 'string'
    const base = withOrt ? `${layer.name} ORT ${layer.kind === 'conv' ? 'Conv' : 'MatMul'} (dense)` : undefined
    if (withOrt) out.push(layerOrtCase(d, ort))
    if (layer.kind === 'linear') out.push(denseLinearCase(d, base))
    for (const s of [0, ...kSpmmSparsities]) out.push(csrCase(d, s, base))
    const last = out[out.length - 1]
    const own = last.teardown
    last.teardown = () => {
      own?.()
      d.dispose()
    }
  }
  return out
}

/** Each target with the ratio measured against it. */
function targetNotes(rows: readonly BenchRow[]): string[] {
  const notes: string[] = []
  for (const layer of spmmLayers())
    for (const s of kSpmmSparsities) {
      const min = spmmTarget(layer, s)
      const r = rows.find((row) => row.name === csrName(layer, s))?.ratio
      if (min > 0 && r !== undefined)
        notes.push(
          `target ${layer.name} ${pct(s)}: ≥ ${min}× ORT; measured ${r.toFixed(2)}× ${r >= min ? '(met)' : '(missed)'}`,
        )
    }
  return notes
}

/** The spmm suite; see the module comment. */
export const spmmSuite: BenchSuite = {
  name: 'spmm',
  description: 'CSR sparse 1×1 conv and linear (XNNPACK-style SpMM / SpMV) vs onnxruntime-node dense, float32',
  devices: ['cpu'],
  skipReason: 'CSR sparse kernels run on the CPU',
  cases,
  rounds: 4,
  summary: targetNotes,
}
