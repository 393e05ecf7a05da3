/**
 * `attention`: dense and block-sparse FlashAttention forward for long-context
 * prefill, on the CPU and CUDA devices. Arguments are checked here, in full,
 * before the kernel is queued; the kernels trust what they are given.
 * @module
 */
import { type Device, sameDevice } from '../device.js'
import { type DType, dtypeId } from '../dtype.js'
import { callNative, callNativeSync, dtypeError, invalidArgument, shapeError } from '../errors.js'
import { BlockMask } from '../mask/index.js'
import type { AttentionArgs, NativeMask } from '../native.js'
import { empty, liveStorage, type Storage, Tensor } from '../tensor.js'
import { checkBool, checkOptions } from '../validate.js'
import { backendOf, deviceOf, handleOf } from './backend.js'
import { type AttentionLayout, type Bhsd, checkLayout, logicalDims, physicalDims, stridesOf } from './layout.js'
import { fp8Operands } from './fp8-operands.js'
import type { QuantizedTensor } from './quantize.js'

export type { AttentionLayout } from './layout.js'

/** Options of {@link attention}. */
export interface AttentionOptions {
  /**
   * Causal masking, bottom-right aligned: query `i` sees key `j` iff
   * `j <= i + (Skv - Sq)`, so a chunk of the last `Sq` queries of a sequence
   * sees its whole prefix. ANDed with `mask`. Default `false`.
   */
  causal?: boolean
  /** Block-sparse mask: which (query block, key block) tiles to compute and the token rule of partial ones. Default: dense. */
  mask?: BlockMask
  /** Multiplies q·kᵀ before the softmax; a finite positive number. Default `1 / √D`. */
  scale?: number
  /** Also return the natural-log log-sum-exp of each row's scaled scores. Default `false`. */
  returnLse?: boolean
  /** Dim order of q, k, v and the output: `'bhsd'` (default) or `'bshd'`. */
  layout?: AttentionLayout
}

/** What {@link attention} resolves to with `returnLse: true`. */
export interface AttentionResult {
  /** The attention output, same dtype, device and layout as `q`. */
  out: Tensor
  /**
   * float32 [B, Hq, Sq] (whatever the layout): `log Σ_j exp(scale · q_i·k_j)`
   * over visible keys; `-Infinity` for a row that sees no key.
   */
  lse: Tensor
}

/** A checked call: everything the binding needs except the output buffers. */
interface Plan {
  device: Device
  type: DType
  layout: AttentionLayout
  q: Bhsd
  inputs: [Storage, Storage, Storage]
  args: AttentionArgs
  mask: NativeMask | null
  returnLse: boolean
}

function check4d(name: string, t: Tensor, layout: AttentionLayout): Bhsd {
  if (t.dims.length !== 4)
    throw shapeError(
      `${name}.dims`,
      `4 dims [${layout === 'bhsd' ? 'B, H, S, D' : 'B, S, H, D'}] (layout '${layout}')`,
      t.dims,
    )
  return logicalDims(t.dims, layout)
}

/**
 * Checks what relates the arguments to one another (devices, types, dims,
 * options, the mask's sizes), naming each one, then asks the device's
 * backend whether it runs the call (its dtypes, head dims, grid limits: the
 * backend's rules, written once, in its pick()).
 */
function plan(q: unknown, k: unknown, v: unknown, options: unknown): Plan {
  const quantised = fp8Operands(q, k, v)
  if (quantised) [q, k, v] = quantised.tensors
  const inputs: [Storage, Storage, Storage] = [liveStorage(q, 'q'), liveStorage(k, 'k'), liveStorage(v, 'v')]
  const qt = q as Tensor
  const kt = k as Tensor
  const vt = v as Tensor
  const opts = checkOptions('options', options, ['causal', 'mask', 'scale', 'returnLse', 'layout'] as const)
  const causal = checkBool('options.causal', opts.causal, false)
  const returnLse = checkBool('options.returnLse', opts.returnLse, false)
  const layout = checkLayout('options.layout', opts.layout)
  if (quantised && layout !== 'bhsd') throw invalidArgument('options.layout', "'bhsd' with quantised q, k, v", layout)

  const device = deviceOf(inputs[0])
  sameDevice(device, deviceOf(inputs[1]), 'k')
  sameDevice(device, deviceOf(inputs[2]), 'v')

  const qd = check4d('q', qt, layout)
  const kd = check4d('k', kt, layout)
  const vd = check4d('v', vt, layout)
  if (qd.headDim < 1) throw shapeError('q.dims', 'a head dim of at least 1', qt.dims)
  if (qd.heads < 1) throw shapeError('q.dims', 'at least one query head', qt.dims)
  if (kd.heads < 1) throw shapeError('k.dims', 'at least one key/value head', kt.dims)
  if (kd.batch !== qd.batch) throw shapeError('k.dims', `batch ${qd.batch} (q's)`, kt.dims)
  if (kd.headDim !== qd.headDim) throw shapeError('k.dims', `head dim ${qd.headDim} (q's)`, kt.dims)
  if (qd.heads % kd.heads !== 0)
    throw shapeError('k.dims', `a head count that divides q's ${qd.heads} heads (GQA / MQA)`, kt.dims)
  if (vd.batch !== kd.batch || vd.heads !== kd.heads || vd.seq !== kd.seq || vd.headDim !== kd.headDim)
    throw shapeError('v.dims', `[${physicalDims(kd, layout).join(', ')}] (k's dims)`, vt.dims)

  const scale = opts.scale === undefined ? 1 / Math.sqrt(qd.headDim) : opts.scale
  if (
    typeof scale !== 'number' ||
    !Number.isFinite(scale) ||
    !(Math.fround(scale) > 0) ||
    !Number.isFinite(Math.fround(scale))
  )
    throw invalidArgument('options.scale', 'a finite positive number (representable as float32)', scale)

  let mask: NativeMask | null = null
  if (opts.mask !== undefined) {
    if (!(opts.mask instanceof BlockMask)) throw invalidArgument('options.mask', 'a BlockMask', opts.mask)
    opts.mask.checkFor(qd.seq, kd.seq, qd.batch, qd.heads)
    const tile = quantised?.fp8.tile
    if (tile !== undefined && (opts.mask.qBlock !== tile || opts.mask.kvBlock !== tile))
      throw invalidArgument(
        'options.mask',
        `blocks of the FP8 tile (${tile} tokens)`,
        `blocks of ${opts.mask.qBlock} × ${opts.mask.kvBlock}`,
      )
    mask = opts.mask._native()
  }

  const args: AttentionArgs = {
    dtype: dtypeId(qt.type),
    batch: qd.batch,
    headsQ: qd.heads,
    headsKv: kd.heads,
    seqQ: qd.seq,
    seqKv: kd.seq,
    headDim: qd.headDim,
    qStrides: stridesOf(qd, layout),
    kStrides: stridesOf(kd, layout),
    vStrides: stridesOf(vd, layout),
    outStrides: stridesOf(qd, layout),
    scale,
    causal,
    ...(quantised ? { fp8: quantised.fp8 } : {}),
  }
  // q's type first (the backend names what it takes), then k's and v's against it.
  // The mask does not change the kernel; attention() itself checks it again natively.
  callNativeSync(() => backendOf(device).attentionPick(args, null))
  if (kt.type !== qt.type) throw dtypeError('k.type', `${qt.type} (q's type)`, kt.type)
  if (vt.type !== qt.type) throw dtypeError('v.type', `${qt.type} (q's type)`, vt.type)
  return { device, type: quantised ? 'float32' : qt.type, layout, q: qd, inputs, args, mask, returnLse }
}

/**
 * Scaled dot-product attention, dense or block-sparse (FlashAttention forward:
 * no [Sq, Skv] matrix is ever stored). For each batch `b`, query head `h` and
 * query `i`:
 *
 * `out[b, h, i] = Σ_j softmax_j(scale · q[b, h, i] · k[b, g, j]) · v[b, g, j]`
 *
 * over the keys `j` that `mask` and `causal` leave visible, with
 * `g = floor(h / (Hq / Hkv))` (GQA / MQA share key heads among query heads).
 * A row with no visible key outputs zeros (and `lse = -Infinity`), never NaN.
 * float16 / bfloat16 inputs accumulate in float32.
 *
 * FP8 (docs/fp8.md): q, k and v may all be
 * {@link QuantizedTensor}s from `sk.quantize` with one tile (q and k per
 * tile, k optionally smoothed, v per channel), `'bhsd'`, and a mask whose
 * blocks are that tile; the output is float32 and the lse is that of the
 * unsmoothed k. On CUDA (codes moved with `QuantizedTensor.to('cuda')`) it
 * runs on FP8 tensor cores, sm_89 and newer, with P rounded to e4m3.
 *
 * @param q - [B, Hq, Sq, D] (or [B, Sq, Hq, D] with `layout: 'bshd'`); float32, float16 or bfloat16 (16-bit only on CUDA). D from 1 to 256.
 * @param k - [B, Hkv, Skv, D], Hq a multiple of Hkv; q's dtype and device.
 * @param v - k's dims, q's dtype and device.
 * @param options - `causal` (default false, bottom-right aligned), `mask` (a {@link BlockMask} for Sq × Skv; default dense),
 *   `scale` (default 1/√D), `returnLse` (default false), `layout` (`'bhsd'` default, or `'bshd'`).
 * @returns the output, q's dims, dtype, device and layout; with `returnLse`, `{ out, lse }` where lse is float32 [B, Hq, Sq].
 * @throws ERR_SK_INVALID_ARGUMENT for a non-tensor, a bad option or scale, or a mask that is not a BlockMask or has bad sizes;
 *   ERR_SK_SHAPE for dims that are not 4-D or do not agree (batch, head dim, Hq % Hkv, k vs v, D > 256), or a mask built for other sizes;
 *   ERR_SK_DTYPE for a type other than float32 / float16 / bfloat16 or types that differ;
 *   ERR_SK_DEVICE for operands on different devices; ERR_SK_UNSUPPORTED for what the device's backend does not run
 *   (float32 on CUDA, a head dim a CUDA build lacks, a batch or head count past CUDA's grid);
 *   ERR_SK_DISPOSED for a disposed operand; ERR_SK_OUT_OF_MEMORY when the output cannot be allocated.
 *   Quantised operands: ERR_SK_DTYPE for a mix of quantised and plain tensors (or of FP8 types);
 *   ERR_SK_INVALID_ARGUMENT for tiles that differ or differ from the mask's blocks, per-channel q / k, smoothed q / v,
 *   or layout 'bshd'; the promise rejects with ERR_SK_UNSUPPORTED on a CUDA device below sm_89.
 * @example
 * ```ts
 * const q = sk.randn([1, 32, 4096, 128], { type: 'bfloat16', seed: 1 })
 * const k = sk.randn([1, 8, 4096, 128], { type: 'bfloat16', seed: 2 })  // GQA 4:1
 * const v = sk.randn([1, 8, 4096, 128], { type: 'bfloat16', seed: 3 })
 * const mask = sk.BlockMask.streaming({ qLen: 4096, kvLen: 4096, sink: 128, local: 1024, blockSize: 128 })
 * const { out, lse } = await sk.attention(q, k, v, { mask, returnLse: true })
 * ```
 */
export function attention(
  q: Tensor | QuantizedTensor,
  k: Tensor | QuantizedTensor,
  v: Tensor | QuantizedTensor,
  options: AttentionOptions & { returnLse: true },
): Promise<AttentionResult>
export function attention(
  q: Tensor | QuantizedTensor,
  k: Tensor | QuantizedTensor,
  v: Tensor | QuantizedTensor,
  options?: AttentionOptions & { returnLse?: false },
): Promise<Tensor>
export function attention(
  q: Tensor | QuantizedTensor,
  k: Tensor | QuantizedTensor,
  v: Tensor | QuantizedTensor,
  options?: AttentionOptions,
): Promise<Tensor | AttentionResult>
export function attention(
  q: Tensor | QuantizedTensor,
  k: Tensor | QuantizedTensor,
  v: Tensor | QuantizedTensor,
  options?: AttentionOptions,
): Promise<Tensor | AttentionResult> {
  const p = plan(q, k, v, options)
  const outSize = p.q.batch * p.q.heads * p.q.seq * p.q.headDim
  const lseSize = p.q.batch * p.q.heads * p.q.seq
  const out = empty(p.type, physicalDims(p.q, p.layout), outSize, p.device)
  let lse: Tensor | null = null
  try {
    if (p.returnLse) lse = empty('float32', [p.q.batch, p.q.heads, p.q.seq], lseSize, p.device)
  } catch (err) {
    out.dispose()
    throw err
  }
  const result = (): Tensor | AttentionResult => (lse ? { out, lse } : out)
  const fail = (err: unknown): never => {
    out.dispose()
    lse?.dispose()
    throw err
  }
  if (outSize === 0) return Promise.resolve(result())
  try {
    // Skv = 0 runs too: every row sees no key, and the kernels write zeros and lse = -Infinity.
    const [qh, kh, vh] = p.inputs.map(handleOf)
    const oh = handleOf(liveStorage(out, 'out'))
    const lh = lse ? handleOf(liveStorage(lse, 'lse')) : null
    return callNative(() => backendOf(p.device).attention(qh, kh, vh, oh, lh, p.args, p.mask)).then(result, fail)
  } catch (err) {
    return fail(err)
  }
}
