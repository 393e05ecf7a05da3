/**
 * `conv1x1`: 1×1 convolution (stride 1, no padding, one group) with sparse
 * weights, in the channel-major layout XNNPACK's sparse path uses: each input
 * channel's H·W pixels are contiguous, so the kernels vectorise along pixels.
 * @module
 */
import { dtypeError, invalidArgument, shapeError, SparsekitError, deviceError } from '../errors.js'
import { runCsr } from '../sparse/csr.js'
import { SparseWeight } from '../sparse/weight.js'
import { empty, filling, liveStorage, Tensor } from '../tensor.js'
import { checkOptions, is } from '../validate.js'

/**
 * The activation fused into the output store: `'none'` (default), `'relu'`
 * (max(0, y)), `'relu6'` (min(max(0, y), 6)), or a clamp `{ min, max }`
 * (numbers, min ≤ max, ±Infinity allowed). NaN outputs pass through.
 */
export type Activation = 'none' | 'relu' | 'relu6' | ClampActivation

/** A clamp activation: outputs below `min` become `min`, above `max` become `max`. */
export interface ClampActivation {
  /** Lower bound; a number (not NaN), `-Infinity` for none. Default `-Infinity`. */
  min: number
  /** Upper bound; a number (not NaN) ≥ `min`, `Infinity` for none. Default `Infinity`. */
  max: number
}

/** Options of {@link conv1x1}. */
export interface Conv1x1Options {
  /** Fused activation; default `'none'`. */
  activation?: Activation
  /** Dim order of x and the output: `'nchw'` only (default); channels-last input must be transposed first. */
  layout?: 'nchw'
}

/** The clamp bounds of an activation. @internal */
export function clampOf(name: string, a: unknown): { min: number; max: number } {
  if (a === undefined || a === 'none') return { min: -Infinity, max: Infinity }
  if (a === 'relu') return { min: 0, max: Infinity }
  if (a === 'relu6') return { min: 0, max: 6 }
  if (is.plainObject(a)) {
    const { min, max } = a as { min?: unknown; max?: unknown }
    const lo = min ?? -Infinity
    const hi = max ?? Infinity
    if (typeof lo !== 'number' || Number.isNaN(lo)) throw invalidArgument(`${name}.min`, 'a number (not NaN)', min)
    if (typeof hi !== 'number' || Number.isNaN(hi)) throw invalidArgument(`${name}.max`, 'a number (not NaN)', max)
    if (lo > hi) throw invalidArgument(`${name}.max`, `a number ≥ min (${lo})`, max)
    for (const k of Object.keys(a))
      if (k !== 'min' && k !== 'max') throw invalidArgument(name, 'only the keys min, max', k)
    return { min: lo, max: hi }
  }
  throw invalidArgument(name, "'none', 'relu', 'relu6' or { min, max }", a)
}

/**
 * 1×1 convolution with a sparse weight, bias and a fused activation:
 *
 * `out[b, o, y, x] = act(bias[o] + Σ_c w[o, c] · x[b, c, y, x])`
 *
 * The pixels of each channel are the vector dimension (XNNPACK's SpMM over
 * CHW), so only the non-zeros of `w` cost work. float32 only.
 *
 * @param x - float32 [B, C, H, W] (channel-major) on the CPU.
 * @param w - a `'csr'` {@link SparseWeight} [Cout, C] from `sparsify(w, { format: 'csr' })`.
 * @param bias - float32 [Cout] on the CPU, or null / undefined for none.
 * @param options - `activation`: `'none'` (default), `'relu'`, `'relu6'` or `{ min, max }`; `layout`: `'nchw'` (default, the only one).
 * @returns float32 [B, Cout, H, W] on the CPU.
 * @throws ERR_SK_INVALID_ARGUMENT for a non-tensor x or bias, a w that is not a SparseWeight, a bad option or activation;
 *   ERR_SK_SHAPE for x not 4-D, C ≠ w's input channels, bias not [Cout];
 *   ERR_SK_DTYPE for x or bias not float32; ERR_SK_DEVICE for CUDA tensors;
 *   ERR_SK_UNSUPPORTED for a weight format other than `'csr'`, layout `'nhwc'`, or C·H·W ≥ 2^31;
 *   ERR_SK_DISPOSED for a disposed operand.
 * @example
 * ```ts
 * using w = sk.randn([256, 256], { seed: 1 })
 * using sw = await sk.sparsify(w, { format: 'csr', sparsity: 0.9 })
 * using x = sk.randn([1, 256, 28, 28], { seed: 2 })
 * using y = await sk.conv1x1(x, sw, null, { activation: 'relu6' }) // [1, 256, 28, 28]
 * ```
 */
export function conv1x1(x: Tensor, w: SparseWeight, bias?: Tensor | null, options?: Conv1x1Options): Promise<Tensor> {
  const opts = checkOptions('options', options, ['activation', 'layout'] as const)
  if (opts.layout !== undefined && opts.layout !== 'nchw') {
    if (opts.layout === 'nhwc')
      throw new SparsekitError(
        'ERR_SK_UNSUPPORTED',
        "Expected layout 'nchw' for options.layout but received 'nhwc': the sparse kernels vectorise along each channel's pixels; transpose x to [B, C, H, W] first",
      )
    throw invalidArgument('options.layout', "'nchw'", opts.layout)
  }
  const { min, max } = clampOf('options.activation', opts.activation)
  const xs = liveStorage(x, 'x')
  if (!(w instanceof SparseWeight)) throw invalidArgument('w', "a SparseWeight (sparsify(w, { format: 'csr' }))", w)
  if (!w.alive)
    throw new SparsekitError('ERR_SK_DISPOSED', 'Expected a live SparseWeight for w but received a disposed one')
  if (w.format !== 'csr')
    throw new SparsekitError(
      'ERR_SK_UNSUPPORTED',
      `Expected a 'csr' SparseWeight for w but received format '${w.format}'`,
    )
  if (xs.kind !== 'cpu') throw deviceError('x.device', "'cpu' (sparse conv1x1 runs on the CPU)", x.device)
  if (x.type !== 'float32') throw dtypeError('x.type', 'float32', x.type)
  if (x.dims.length !== 4) throw shapeError('x.dims', '4 dims [B, C, H, W] (channel-major)', x.dims)
  const [batch, channels, height, width] = x.dims
  const [cout, cin] = w.dims
  if (channels !== cin)
    throw shapeError('x.dims', `${cin} channels (w's input channels) at dim 1 of [B, C, H, W]`, x.dims)
  let b: Tensor | null = null
  if (bias !== undefined && bias !== null) {
    const bs = liveStorage(bias, 'bias')
    if (bs.kind !== 'cpu') throw deviceError('bias.device', "'cpu'", bias.device)
    if (bias.type !== 'float32') throw dtypeError('bias.type', 'float32', bias.type)
    if (bias.dims.length !== 1 || bias.dims[0] !== cout)
      throw shapeError('bias.dims', `[${cout}] (w's output channels)`, bias.dims)
    b = bias
  }
  const pixels = height * width
  if (cin > 0 && pixels > 0 && (cin - 1) * pixels > 2 ** 31 - 1)
    throw new SparsekitError('ERR_SK_UNSUPPORTED', `Expected C·H·W below 2^31 for x but received ${cin}·${pixels}`)
  const out = empty('float32', [batch, cout, height, width], batch * cout * pixels, { kind: 'cpu' })
  if (out.size === 0) return Promise.resolve(out)
  return filling(out, () => runCsr(w, x, b, out, { layout: 0, batch, m: pixels, min, max }))
}
