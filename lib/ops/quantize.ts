/**
 * `quantize` / `dequantize`: FP8 tensors with per-tile scales whose tiles are
 * a BlockMask's blocks, the input of FP8 block-sparse attention (docs/fp8.md).
 * The arithmetic is float64 throughout and rounds once, to nearest even, into
 * the FP8 code, so a float64 model of the same scales reproduces every bit.
 * @module
 */
import type { DeviceName } from '../device.js'
import { checkDType } from '../dtype.js'
import { allocating, dtypeError, invalidArgument, shapeError, SparsekitError } from '../errors.js'
import { liveStorage, Tensor } from '../tensor.js'
import { tensor } from '../create.js'
import { checkBool, checkOptions, is } from '../validate.js'

/** The FP8 formats {@link quantize} writes. */
export type Fp8Type = 'float8e4m3fn' | 'float8e5m2'

/** Options of {@link quantize}. */
export interface QuantizeOptions {
  /** FP8 format of the codes. Default `'float8e4m3fn'`. */
  type?: Fp8Type
  /** Tokens per tile along the sequence: the BlockMask's block size (a multiple of 16 from 16 to 256). */
  tile: number
  /** Subtract each channel's mean over the tokens first (for K; attention's softmax is unchanged by it). Default `false`. */
  smooth?: boolean
  /** One scale per channel of each tile instead of one per tile (for V). Default `false`. */
  perChannel?: boolean
}

/** One FP8 format: mantissa bits, exponent bias, largest finite value and its code. */
interface Fp8Format {
  man: number
  bias: number
  max: number
  maxCode: number
}

const kFormats: Record<Fp8Type, Fp8Format> = {
  float8e4m3fn: { man: 3, bias: 7, max: 448, maxCode: 0x7e },
  float8e5m2: { man: 2, bias: 15, max: 57344, maxCode: 0x7b },
}

// Tile sizes a BlockMask block can have.
const kMinTile = 16
const kMaxTile = 256

/** floor(log2 a) for a finite a > 0, exactly. */
function exponentOf(a: number): number {
  let e = Math.floor(Math.log2(a))
  if (2 ** e > a) --e
  if (2 ** (e + 1) <= a) ++e
  return e
}

/** x rounded to an integer, ties to even; x ≥ 0. */
function roundEven(x: number): number {
  const f = Math.floor(x)
  const d = x - f
  return d > 0.5 || (d === 0.5 && f % 2 === 1) ? f + 1 : f
}

/** The FP8 code nearest to y (ties to even), ±max for anything beyond it (saturating). */
function encode(f: Fp8Format, y: number): number {
  const sign = y < 0 || Object.is(y, -0) ? 0x80 : 0
  const a = Math.abs(y)
  if (a >= f.max) return sign | f.maxCode
  const minExp = 1 - f.bias
  const quantum = 2 ** (Math.max(minExp, a === 0 ? minExp : exponentOf(a)) - f.man)
  const r = roundEven(a / quantum) * quantum // exact: a / quantum < 2^(man + 2)
  if (r > f.max) return sign | f.maxCode
  if (r === 0) return sign
  const e = exponentOf(r)
  if (e < minExp) return sign | (r / 2 ** (minExp - f.man)) // subnormal
  return sign | ((e + f.bias) << f.man) | (r / 2 ** (e - f.man) - 2 ** f.man)
}

/** The 256 codes' values (NaN codes, which quantize never writes, as NaN). */
function decodeTable(f: Fp8Format): Float64Array {
  const table = new Float64Array(256)
  const minExp = 1 - f.bias
  for (let c = 0; c < 256; ++c) {
    const mag = c & 0x7f
    const exp = mag >> f.man
    const mant = mag & ((1 << f.man) - 1)
    const v = exp === 0 ? mant * 2 ** (minExp - f.man) : (1 + mant / 2 ** f.man) * 2 ** (exp - f.bias)
    table[c] = (c & 0x80 ? -1 : 1) * (v > f.max ? NaN : v)
  }
  return table
}

const kTables: Record<Fp8Type, Float64Array> = {
  float8e4m3fn: decodeTable(kFormats.float8e4m3fn),
  float8e5m2: decodeTable(kFormats.float8e5m2),
}

/**
 * An FP8 tensor made by {@link quantize}: codes [B, H, S, D], their float32
 * scales, per (batch, head, tile) or, with `perChannel`, per (batch, head,
 * tile, channel), and with `smooth` the float32 channel means [B, H, D] that
 * were subtracted first. Value of element (b, h, s, d):
 * `fround(code · scale[b, h, floor(s / tile)(, d)] + mean[b, h, d])`.
 * Pass it to {@link attention} (q, k and v all quantised, one tile) or
 * {@link dequantize}. Dispose it (or `using`) to free the three tensors.
 */
export class QuantizedTensor {
  /** The FP8 codes, [B, H, S, D]. */
  readonly codes: Tensor
  /** float32 [B, H, ceil(S / tile)], or [B, H, ceil(S / tile), D] with `perChannel`. */
  readonly scales: Tensor
  /** float32 [B, H, D] channel means over the tokens (`smooth`), else null. */
  readonly mean: Tensor | null
  /** Tokens per tile. */
  readonly tile: number
  /** Whether each tile has a scale per channel. */
  readonly perChannel: boolean

  /** @internal Made by {@link quantize} only. */
  constructor(codes: Tensor, scales: Tensor, mean: Tensor | null, tile: number, perChannel: boolean) {
    this.codes = codes
    this.scales = scales
    this.mean = mean
    this.tile = tile
    this.perChannel = perChannel
  }

  /** The FP8 format of the codes. */
  get type(): Fp8Type {
    return this.codes.type as Fp8Type
  }

  /** [B, H, S, D]. */
  get dims(): readonly number[] {
    return this.codes.dims
  }

  /** Whether dispose() has been called. */
  get disposed(): boolean {
    return this.codes.disposed
  }

  /** Frees the codes, scales and mean. */
  dispose(): void {
    this.codes.dispose()
    this.scales.dispose()
    this.mean?.dispose()
  }

  /**
   * A copy whose codes live on `device` (for {@link attention} there: CUDA
   * runs FP8 attention on sm_89 and newer). The scales and the mean are
   * copied too and stay on the CPU: attention reads them on the host and
   * uploads them with each call.
   *
   * @param device - `'cpu'`, `'cuda'` or `'cuda:N'`.
   * @returns a new QuantizedTensor (dispose it on its own).
   * @throws (the promise rejects) ERR_SK_DISPOSED once disposed; otherwise as {@link Tensor.to} does.
   * @example
   * ```ts
   * using k8 = await (await sk.quantize(k, { tile: 128, smooth: true })).to('cuda')
   * ```
   */
  async to(device: DeviceName): Promise<QuantizedTensor> {
    checkQuantized('this', this)
    const made: Tensor[] = []
    try {
      made.push(await cloneOn(this.codes, device))
      made.push(await cloneOn(this.scales, 'cpu'))
      if (this.mean) made.push(await cloneOn(this.mean, 'cpu'))
    } catch (err) {
      for (const m of made) m.dispose()
      throw err
    }
    return new QuantizedTensor(made[0], made[1], made[2] ?? null, this.tile, this.perChannel)
  }

  /** `using q8 = await sk.quantize(…)` support: {@link dispose}. */
  [Symbol.dispose](): void {
    this.dispose()
  }
}

/** A new tensor holding `t`'s contents on `device` (Tensor.to gives `t` itself on its own device). */
async function cloneOn(t: Tensor, device: DeviceName): Promise<Tensor> {
  const moved = await t.to(device)
  if (moved !== t) return moved
  if (t.device === 'cpu') return tensor((t.data as Uint8Array | Float32Array).slice(), t.dims, t.type)
  const host = await t.to('cpu')
  try {
    return await host.to(device)
  } finally {
    host.dispose()
  }
}

/** A live QuantizedTensor argument, or a coded error naming `name`. */
export function checkQuantized(name: string, v: unknown): QuantizedTensor {
  if (!(v instanceof QuantizedTensor)) throw invalidArgument(name, 'a QuantizedTensor (from sk.quantize)', v)
  if (v.disposed || v.scales.disposed || (v.mean?.disposed ?? false))
    throw new SparsekitError('ERR_SK_DISPOSED', `${name} was disposed`)
  return v
}

/** A live CPU float tensor quantize can read (checked at once: argument errors throw, not reject). */
function floatSource(name: string, t: unknown): Tensor {
  const s = liveStorage(t, name)
  const src = t as Tensor
  if (s.kind !== 'cpu')
    throw new SparsekitError(
      'ERR_SK_UNSUPPORTED',
      `Expected a CPU tensor for ${name}: quantize runs on the CPU only for now (use await t.to('cpu'))`,
    )
  if (src.type !== 'float32' && src.type !== 'float16' && src.type !== 'bfloat16')
    throw dtypeError(`${name}.type`, 'float32, float16 or bfloat16', src.type)
  return src
}

/** float32 values of a floatSource() tensor (16-bit types widened exactly). */
async function floatValues(src: Tensor): Promise<{ values: Float32Array; wide: Tensor | null }> {
  if (src.type === 'float32') return { values: src.data as Float32Array, wide: null }
  const wide = await src.cast('float32')
  return { values: wide.data as Float32Array, wide }
}

/**
 * Quantises a [B, H, S, D] tensor to FP8 with one scale per tile of `tile`
 * tokens (per batch and head; per channel too with `perChannel`), the tiles
 * lining up with a BlockMask of that block size. Each scale is
 * `fround(amax / max)` of its tile (max: 448 for e4m3fn, 57344 for e5m2; 0
 * for an all-zero tile, whose codes are 0); each code is `x / scale` (x less
 * the channel mean with `smooth`) rounded to nearest even in float64,
 * saturating. The mean is `fround(Σ_s x / S)` in float64, token order.
 * For attention: q and k per tile, k with `smooth`, v with `perChannel`.
 *
 * @param t - float32, float16 or bfloat16 [B, H, S, D] on the CPU, finite.
 * @param options - `tile` (required: 16..256, a multiple of 16), `type` (default `'float8e4m3fn'`), `smooth`, `perChannel`.
 * @returns the {@link QuantizedTensor}.
 * @throws (at once) ERR_SK_INVALID_ARGUMENT for a non-tensor, a bad option or tile;
 *   ERR_SK_SHAPE for dims that are not 4-D; ERR_SK_DTYPE for an input that is not float32 / float16 / bfloat16
 *   or an FP8 type not listed; ERR_SK_UNSUPPORTED for a CUDA tensor; ERR_SK_DISPOSED for a disposed tensor;
 *   the promise rejects with ERR_SK_INVALID_ARGUMENT for a non-finite value and
 *   ERR_SK_OUT_OF_MEMORY when the codes or scales cannot be allocated.
 * @example
 * ```ts
 * const k8 = await sk.quantize(k, { type: 'float8e4m3fn', tile: 128, smooth: true })
 * const v8 = await sk.quantize(v, { tile: 128, perChannel: true })
 * ```
 */
export function quantize(t: Tensor, options: QuantizeOptions): Promise<QuantizedTensor> {
  const src = floatSource('t', t)
  if (options === undefined) throw invalidArgument('options', 'an options object with a tile', options)
  const opts = checkOptions('options', options, ['type', 'tile', 'smooth', 'perChannel'] as const)
  const type = opts.type === undefined ? 'float8e4m3fn' : checkDType('options.type', opts.type)
  if (type !== 'float8e4m3fn' && type !== 'float8e5m2')
    throw dtypeError('options.type', "'float8e4m3fn' or 'float8e5m2'", type)
  const tile = opts.tile
  if (!is.integer(tile) || tile < kMinTile || tile > kMaxTile || tile % kMinTile !== 0)
    throw invalidArgument(
      'options.tile',
      `a BlockMask block size (a multiple of ${kMinTile} from ${kMinTile} to ${kMaxTile})`,
      tile,
    )
  const smooth = checkBool('options.smooth', opts.smooth, false)
  const perChannel = checkBool('options.perChannel', opts.perChannel, false)
  if (src.dims.length !== 4) throw shapeError('t.dims', '4 dims [B, H, S, D]', src.dims)
  return (async () => {
    const { values: x, wide } = await floatValues(src)
    try {
      return quantizeValues(x, src.dims, type as Fp8Type, tile, smooth, perChannel)
    } finally {
      wide?.dispose()
    }
  })()
}

/** quantize()'s arithmetic; `tensorAmax` (a baseline's): every tile gets the scale of that amax instead of its own. */
function quantizeValues(
  x: Float32Array,
  dims: readonly number[],
  type: Fp8Type,
  tile: number,
  smooth: boolean,
  perChannel: boolean,
  tensorAmax?: number,
): QuantizedTensor {
  const [B, H, S, D] = dims
  const tiles = Math.ceil(S / tile)
  const f = kFormats[type]
  const codes = allocating(`${B * H * S * D} FP8 codes`, () => new Uint8Array(B * H * S * D))
  const scales = allocating('the FP8 scales', () => new Float32Array(B * H * tiles * (perChannel ? D : 1)))
  const means = smooth ? new Float32Array(B * H * D) : null
  const mean = new Float64Array(D)
  const amax = new Float64Array(perChannel ? D : 1)
  for (let bh = 0; bh < B * H; ++bh) {
    const base = bh * S * D
    mean.fill(0)
    if (means) {
      for (let s = 0; s < S; ++s) for (let d = 0; d < D; ++d) mean[d] += x[base + s * D + d]
      for (let d = 0; d < D; ++d) means[bh * D + d] = mean[d] = S > 0 ? Math.fround(mean[d] / S) : 0
    }
    for (let ti = 0; ti < tiles; ++ti) {
      const s0 = ti * tile
      const s1 = Math.min(S, s0 + tile)
      amax.fill(0)
      for (let s = s0; s < s1; ++s)
        for (let d = 0; d < D; ++d) {
          const a = Math.abs(x[base + s * D + d] - mean[d])
          if (!(a <= Number.MAX_VALUE)) throw invalidArgument('t', 'finite values', x[base + s * D + d])
          const c = perChannel ? d : 0
          if (a > amax[c]) amax[c] = a
        }
      const at = (bh * tiles + ti) * amax.length
      if (tensorAmax !== undefined) amax.fill(tensorAmax)
      for (let c = 0; c < amax.length; ++c) scales[at + c] = Math.fround(amax[c] / f.max)
      for (let s = s0; s < s1; ++s)
        for (let d = 0; d < D; ++d) {
          const scale = scales[at + (perChannel ? d : 0)]
          const i = base + s * D + d
          codes[i] = scale > 0 ? encode(f, (x[i] - mean[d]) / scale) : 0
        }
    }
  }
  const made: Tensor[] = []
  try {
    made.push(tensor(codes, [B, H, S, D], type))
    made.push(tensor(scales, perChannel ? [B, H, tiles, D] : [B, H, tiles], 'float32'))
    if (means) made.push(tensor(means, [B, H, D], 'float32'))
  } catch (err) {
    for (const m of made) m.dispose()
    throw err
  }
  return new QuantizedTensor(made[0], made[1], made[2] ?? null, tile, perChannel)
}

/**
 * A float32 [B, H, S, D] CPU tensor quantised with one scale for the whole
 * tensor (amax / max), written into every tile: the plain FP8 baseline the
 * per-tile scales and smoothing are measured against (bench suite fp8).
 * @internal
 */
export function quantizePerTensor(t: Tensor, type: Fp8Type, tile: number): QuantizedTensor {
  const x = t.data as Float32Array
  let amax = 0
  for (let i = 0; i < x.length; ++i) amax = Math.max(amax, Math.abs(x[i]))
  return quantizeValues(x, t.dims, type, tile, false, false, amax)
}

/**
 * The float32 values a {@link QuantizedTensor} stands for:
 * `fround(code · scale + mean)` per element (mean 0 unless smoothed).
 *
 * @param t - a live QuantizedTensor.
 * @returns a float32 [B, H, S, D] CPU tensor.
 * @throws ERR_SK_INVALID_ARGUMENT for anything else; ERR_SK_DISPOSED once it was disposed;
 *   ERR_SK_UNSUPPORTED for codes on a CUDA device.
 * @example
 * ```ts
 * const back = await sk.dequantize(await sk.quantize(k, { tile: 64 }))
 * ```
 */
export function dequantize(t: QuantizedTensor): Promise<Tensor> {
  const qt = checkQuantized('t', t)
  if (qt.codes.device !== 'cpu')
    throw new SparsekitError(
      'ERR_SK_UNSUPPORTED',
      `Expected a QuantizedTensor on the CPU for t: dequantize runs on the CPU only (use await t.to('cpu'))`,
    )
  return (async () => dequantizeValues(qt))()
}

/** dequantize()'s arithmetic, after its checks. */
function dequantizeValues(qt: QuantizedTensor): Tensor {
  const [B, H, S, D] = qt.dims
  const tiles = Math.ceil(S / qt.tile)
  const codes = qt.codes.data as Uint8Array
  const scales = qt.scales.data as Float32Array
  const means = qt.mean ? (qt.mean.data as Float32Array) : null
  const table = kTables[qt.type]
  const out = allocating(`${codes.length} float32 values`, () => new Float32Array(codes.length))
  for (let bh = 0; bh < B * H; ++bh)
    for (let s = 0; s < S; ++s) {
      const at = (bh * tiles + Math.floor(s / qt.tile)) * (qt.perChannel ? D : 1)
      for (let d = 0; d < D; ++d) {
        const i = (bh * S + s) * D + d
        out[i] = table[codes[i]] * scales[at + (qt.perChannel ? d : 0)] + (means ? means[bh * D + d] : 0)
      }
    }
  return tensor(out, [B, H, S, D], 'float32')
}
