/**
 * The `'csr'` sparse weight format: any pattern of non-zeros in a float32
 * [N, K] matrix, packed for XNNPACK-style SpMM kernels in blocks of 1, 2 or 4
 * output channels (chosen by measured block fill). Layout: docs/formats.md,
 * "CSR sparse weights". `sparsify(w, { format: 'csr' })` builds one;
 * `linear()` and {@link conv1x1} run it.
 * @module
 */
import {
  callNative,
  callNativeSync,
  deviceError,
  dtypeError,
  invalidArgument,
  shapeError,
  SparsekitError,
} from '../errors.js'
import { cpuBinding, type SpmmArgs, type SpmmPlan } from '../native.js'
import { hostTensor, liveStorage, type Tensor } from '../tensor.js'
import { checkOptions } from '../validate.js'
import { pruneByMagnitude } from './prune.js'
import { SparseWeight } from './weight.js'

/** Output channels per packed block: 1, 2 or 4. */
export type CsrBlockSize = 1 | 2 | 4

/** Options of `sparsify(w, { format: 'csr', ... })`. */
export interface CsrOptions {
  /**
   * Prune first: set the `round(sparsity · N · K)` smallest-magnitude entries
   * of the whole matrix to 0 (zeros already there count; NaN is never pruned).
   * A number in [0, 1). Default: keep every non-zero of `w`.
   */
  sparsity?: number
  /**
   * Output channels per block. `'auto'` (default) takes 4, else 2, when at least
   * 90% of the entries such blocks store are non-zero (XNNPACK's rule), else 1.
   */
  blocks?: CsrBlockSize | 'auto'
}

/** What packing found and chose, for inspection and tests ({@link csrLayout}). */
export interface CsrLayout {
  /** The block size the weight was packed with. */
  blockSize: CsrBlockSize
  /** Measured fill of blocks of 1, 2 and 4 channels: non-zeros over stored entries of full groups (1 when nothing is stored). */
  fill: {
    /** Blocks of 1: always 1 (only non-zeros are stored). */
    1: number
    /** Blocks of 2 channels. */
    2: number
    /** Blocks of 4 channels. */
    4: number
  }
  /** Non-zero blocks stored. */
  blocks: number
}

interface CsrState {
  plan: SpmmPlan
  layout: CsrLayout
  values: Tensor
}

const states = new WeakMap<SparseWeight, CsrState>()
const kMaxDim = 2 ** 31 - 1 // columns are int32
const kBlockSizes: readonly CsrBlockSize[] = [1, 2, 4]

function checkWeight(w: unknown): { n: number; k: number; data: Float32Array } {
  const s = liveStorage(w, 'w')
  const t = w as Tensor
  if (s.kind !== 'cpu')
    throw deviceError('w.device', "'cpu' (CSR weights are packed and run on the CPU; await w.to('cpu'))", t.device)
  if (t.type !== 'float32') throw dtypeError('w.type', 'float32 (CSR weights store float32 values)', t.type)
  if (t.dims.length !== 2) throw shapeError('w.dims', 'two dims [N, K] (output, input features)', t.dims)
  const [n, k] = t.dims
  if (n > kMaxDim || k > kMaxDim) throw shapeError('w.dims', `dims of at most ${kMaxDim}`, t.dims)
  return { n, k, data: s.data as Float32Array }
}

function checkCsrOptions(options: unknown): { sparsity: number; blocks: CsrBlockSize | 'auto' } {
  const o = checkOptions('options', options, ['format', 'sparsity', 'blocks'] as const)
  if (o.format !== undefined && o.format !== 'csr') throw invalidArgument('options.format', "'csr'", o.format)
  const sparsity = o.sparsity === undefined ? 0 : o.sparsity
  if (typeof sparsity !== 'number' || !(sparsity >= 0 && sparsity < 1))
    throw invalidArgument('options.sparsity', 'a number in [0, 1)', o.sparsity)
  const blocks = o.blocks === undefined ? 'auto' : o.blocks
  if (blocks !== 'auto' && !kBlockSizes.includes(blocks as CsrBlockSize))
    throw invalidArgument('options.blocks', "1, 2, 4 or 'auto'", o.blocks)
  return { sparsity, blocks: blocks as CsrBlockSize | 'auto' }
}

const ratio = (a: number, b: number) => (b === 0 ? 1 : a / b)

/**
 * Packs a float32 [N, K] CPU tensor as a `'csr'` {@link SparseWeight}
 * (what `sparsify(w, { format: 'csr' })` runs). Analyses the block fill, then
 * packs with the block size chosen (or forced by `options.blocks`).
 * `toDense()` gives back exactly the (pruned) matrix, -0 as +0.
 *
 * @param w - float32 [N, K] on the CPU (out = x·wᵀ); N and K up to 2^31 − 1.
 * @param options - `sparsity` in [0, 1) to prune by magnitude first (default none); `blocks` 1, 2, 4 or `'auto'` (default).
 * @returns the packed weight; its `tensors` are `nnzmap`, `cols` (int32) and `values` (float32).
 * @throws ERR_SK_INVALID_ARGUMENT for a non-tensor, an unknown option, or a sparsity outside [0, 1) (NaN included);
 *   ERR_SK_DTYPE for a type other than float32; ERR_SK_SHAPE for dims other than [N, K];
 *   ERR_SK_DEVICE for a CUDA tensor; ERR_SK_DISPOSED for a disposed tensor.
 * @example
 * ```ts
 * using w = sk.randn([1024, 1024], { seed: 1 })
 * using sw = await sparsifyCsr(w, { sparsity: 0.9 })
 * console.log(sw.format, sw.density) // 'csr' 0.1
 * ```
 */
export function sparsifyCsr(w: Tensor, options?: CsrOptions): Promise<SparseWeight> {
  const { n, k, data } = checkWeight(w)
  return packCsr(data, n, k, checkCsrOptions(options))
}

/** Prunes (when asked), analyses and packs a checked float32 [n, k] weight. */
async function packCsr(
  data: Float32Array,
  n: number,
  k: number,
  opts: { sparsity: number; blocks: CsrBlockSize | 'auto' },
): Promise<SparseWeight> {
  const source = opts.sparsity > 0 ? await pruneByMagnitude(data, n, k, opts.sparsity) : data
  const binding = cpuBinding()
  const a = new Float64Array(14)
  await callNative(() => binding.spmmAnalyze(source, n, k, a))
  const nr: CsrBlockSize = opts.blocks === 'auto' ? (a[13] as CsrBlockSize) : opts.blocks
  const at = kBlockSizes.indexOf(nr)
  const groups = Math.floor(n / nr) + (n % nr)
  const blocks = a[1 + at]
  const made: Tensor[] = []
  try {
    const nnzmap = hostTensor('int32', [groups], groups, false)
    made.push(nnzmap)
    const cols = hostTensor('int32', [blocks], blocks, false)
    made.push(cols)
    const values = hostTensor('float32', [a[4 + at]], a[4 + at], false)
    made.push(values)
    const nm = nnzmap.data as Int32Array
    const cl = cols.data as Int32Array
    await callNative(() => binding.spmmPack(source, n, k, nr, nm, cl, values.data as Float32Array))
    const plan = callNativeSync(() => binding.spmmPlan(nm, cl, n, k, nr, values.size))
    const layout: CsrLayout = {
      blockSize: nr,
      fill: { 1: 1, 2: ratio(a[8], 2 * a[11]), 4: ratio(a[9], 4 * a[12]) },
      blocks,
    }
    const sw = new SparseWeight({
      format: 'csr',
      type: 'float32',
      dims: [n, k],
      device: 'cpu',
      nnz: a[0],
      tensors: { nnzmap, cols, values },
      toDense: () => Promise.resolve(unpack(n, k, nr, nm, cl, values.data as Float32Array)),
      disposeExtra: () => binding.spmmRelease(plan),
    })
    states.set(sw, { plan, layout, values })
    return sw
  } catch (err) {
    for (const t of made) t.dispose()
    throw err
  }
}

/** The dense [N, K] matrix from the packed arrays. */
function unpack(n: number, k: number, nr: number, nnzmap: Int32Array, cols: Int32Array, values: Float32Array): Tensor {
  const out = hostTensor('float32', [n, k], n * k, true)
  const d = out.data as Float32Array
  const full = Math.floor(n / nr)
  let b = 0
  let v = 0
  for (let g = 0; g < nnzmap.length; ++g) {
    const width = g < full ? nr : 1
    const row0 = g < full ? g * nr : full * nr + (g - full)
    for (let i = 0; i < nnzmap[g]; ++i, ++b) for (let j = 0; j < width; ++j) d[(row0 + j) * k + cols[b]] = values[v++]
  }
  return out
}

function stateOf(w: unknown, name: string): CsrState {
  if (!(w instanceof SparseWeight)) throw invalidArgument(name, 'a SparseWeight', w)
  if (!w.alive)
    throw new SparsekitError('ERR_SK_DISPOSED', `Expected a live SparseWeight for ${name} but received a disposed one`)
  const s = states.get(w)
  if (!s)
    throw new SparsekitError(
      'ERR_SK_UNSUPPORTED',
      `Expected a 'csr' SparseWeight for ${name} but received format '${w.format}'`,
    )
  return s
}

/**
 * How a `'csr'` weight was packed: block size, measured fill per block size, blocks stored.
 * @throws ERR_SK_INVALID_ARGUMENT for a non-SparseWeight; ERR_SK_UNSUPPORTED for another format; ERR_SK_DISPOSED after dispose().
 * @example
 * ```ts
 * const { blockSize, fill } = csrLayout(sw) // e.g. 1, { 1: 1, 2: 0.55, 4: 0.3 }
 * ```
 */
export function csrLayout(w: SparseWeight): CsrLayout {
  const l = stateOf(w, 'w').layout
  return { ...l, fill: { ...l.fill } }
}

/**
 * Runs out = clamp(W·x + bias) with a `'csr'` weight: the one native call
 * {@link linearCsr} and {@link conv1x1} make. Tensors are already validated.
 * @internal
 */
export function runCsr(w: SparseWeight, x: Tensor, bias: Tensor | null, out: Tensor, args: SpmmArgs): Promise<void> {
  const s = stateOf(w, 'w')
  const xs = liveStorage(x, 'x')
  const os = liveStorage(out, 'out')
  const bs = bias ? liveStorage(bias, 'bias') : null
  const vs = liveStorage(s.values, 'w.values')
  if (xs.kind !== 'cpu' || os.kind !== 'cpu' || bs?.kind === 'cuda' || vs.kind !== 'cpu')
    throw deviceError('x.device', "'cpu' (CSR weights run on the CPU)", x.device)
  return callNative(() =>
    cpuBinding().spmm(
      s.plan,
      vs.data as Float32Array,
      xs.data as Float32Array,
      os.data as Float32Array,
      bs ? (bs.data as Float32Array) : null,
      args,
    ),
  )
}

/**
 * `linear()` for a `'csr'` weight: out [M, N] = x2d [M, K] · wᵀ + bias. One
 * row (decode) streams the packed weights through the matrix-vector kernels;
 * more rows run the SpMM kernels on row panels of x.
 * @param x2d - float32 [M, K], CPU, contiguous (validated by `linear`).
 * @param w - a `'csr'` SparseWeight [N, K].
 * @param bias - float32 [N] or null.
 * @param out - float32 [M, N], allocated by the caller.
 * @throws ERR_SK_UNSUPPORTED for a weight of another format; ERR_SK_DISPOSED for a disposed weight; ERR_SK_SHAPE if x2d's K differs.
 * @example
 * ```ts
 * await linearCsr(x, sw, null, out) // what sk.linear(x, sw) runs
 * ```
 * @internal
 */
export function linearCsr(x2d: Tensor, w: SparseWeight, bias: Tensor | null, out: Tensor): Promise<void> {
  stateOf(w, 'w')
  if (x2d.dims.length !== 2 || x2d.dims[1] !== w.dims[1])
    throw shapeError('x.dims', `[M, ${w.dims[1]}] (w's K)`, x2d.dims)
  return runCsr(w, x2d, bias, out, { layout: 1, batch: 1, m: x2d.dims[0], min: -Infinity, max: Infinity })
}
