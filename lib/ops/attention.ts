/**
 * `attention`: dense and block-sparse FlashAttention forward for long-context
 * prefill, on the CPU and CUDA devices. Arguments are checked here, in full,
 * before the kernel is queued; the kernels trust what they are given.
 * @module
 */
import { type Device, sameDevice } from '../device.js'
import { type DType, dtypeId } from '../dtype.js'
import { callNative, dtypeError, invalidArgument, shapeError, SparsekitError } from '../errors.js'
import { BlockMask } from '../mask/index.js'
import { type AttentionArgs, cpuBinding, cudaBinding, type NativeMask } from '../native.js'
import { empty, liveStorage, type Storage, Tensor } from '../tensor.js'
import { checkBool, checkOptions } from '../validate.js'
import { type AttentionLayout, type Bhsd, checkLayout, logicalDims, physicalDims, stridesOf } from './layout.js'

export type { AttentionLayout } from './layout.js'

/** Largest head dim the kernels take (FlashAttention's limit: q, k and v tiles stay on chip). */
export const kMaxHeadDim = 256

const kAttentionTypes: readonly DType[] = ['float32', 'float16', 'bfloat16']
/** The CUDA kernels are tensor-core kernels: 16-bit inputs only. */
const kCudaAttentionTypes: readonly DType[] = ['float16', 'bfloat16']

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
  kv: Bhsd
  args: AttentionArgs
  mask: NativeMask | null
  returnLse: boolean
}

function deviceOf(s: Storage): Device {
  return s.kind === 'cpu' ? { kind: 'cpu' } : { kind: 'cuda', index: s.index }
}

function check4d(name: string, t: Tensor, layout: AttentionLayout): Bhsd {
  if (t.dims.length !== 4)
    throw shapeError(`${name}.dims`, `4 dims [${layout === 'bhsd' ? 'B, H, S, D' : 'B, S, H, D'}] (layout '${layout}')`, t.dims)
  return logicalDims(t.dims, layout)
}

function plan(q: unknown, k: unknown, v: unknown, options: unknown): Plan {
  const qs = liveStorage(q, 'q')
  const ks = liveStorage(k, 'k')
  const vs = liveStorage(v, 'v')
  const qt = q as Tensor
  const kt = k as Tensor
  const vt = v as Tensor
  const opts = checkOptions('options', options, ['causal', 'mask', 'scale', 'returnLse', 'layout'] as const)
  const causal = checkBool('options.causal', opts.causal, false)
  const returnLse = checkBool('options.returnLse', opts.returnLse, false)
  const layout = checkLayout('options.layout', opts.layout)

  const device = deviceOf(qs)
  sameDevice(device, deviceOf(ks), 'k')
  sameDevice(device, deviceOf(vs), 'v')

  if (!kAttentionTypes.includes(qt.type)) throw dtypeError('q.type', kAttentionTypes.join(', '), qt.type)
  if (kt.type !== qt.type) throw dtypeError('k.type', `${qt.type} (q's type)`, kt.type)
  if (vt.type !== qt.type) throw dtypeError('v.type', `${qt.type} (q's type)`, vt.type)
  if (device.kind === 'cuda' && !kCudaAttentionTypes.includes(qt.type))
    throw new SparsekitError(
      'ERR_SK_UNSUPPORTED',
      `Expected ${kCudaAttentionTypes.join(' or ')} for q.type on ${qt.device} but received ${qt.type}; cast first: await q.cast('bfloat16')`,
    )

  const qd = check4d('q', qt, layout)
  const kd = check4d('k', kt, layout)
  const vd = check4d('v', vt, layout)
  if (qd.headDim < 1 || qd.headDim > kMaxHeadDim)
    throw shapeError('q.dims', `a head dim between 1 and ${kMaxHeadDim}`, qt.dims)
  if (qd.heads < 1) throw shapeError('q.dims', 'at least one query head', qt.dims)
  if (kd.heads < 1) throw shapeError('k.dims', 'at least one key/value head', kt.dims)
  if (kd.batch !== qd.batch) throw shapeError('k.dims', `batch ${qd.batch} (q's)`, kt.dims)
  if (kd.headDim !== qd.headDim) throw shapeError('k.dims', `head dim ${qd.headDim} (q's)`, kt.dims)
  if (qd.heads % kd.heads !== 0)
    throw shapeError('k.dims', `a head count that divides q's ${qd.heads} heads (GQA / MQA)`, kt.dims)
  if (vd.batch !== kd.batch || vd.heads !== kd.heads || vd.seq !== kd.seq || vd.headDim !== kd.headDim)
    throw shapeError('v.dims', `[${physicalDims(kd, layout).join(', ')}] (k's dims)`, vt.dims)

  const scale = opts.scale === undefined ? 1 / Math.sqrt(qd.headDim) : opts.scale
  if (typeof scale !== 'number' || !Number.isFinite(scale) || !(Math.fround(scale) > 0) || !Number.isFinite(Math.fround(scale)))
    throw invalidArgument('options.scale', 'a finite positive number (representable as float32)', scale)

  let mask: NativeMask | null = null
  if (opts.mask !== undefined) {
    if (!(opts.mask instanceof BlockMask)) throw invalidArgument('options.mask', 'a BlockMask', opts.mask)
    opts.mask.checkFor(qd.seq, kd.seq, qd.batch, qd.heads)
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
  }
  return { device, type: qt.type, layout, q: qd, kv: kd, args, mask, returnLse }
}

/** Queues the kernel on the inputs' device; settles when it has finished. */
function launch(p: Plan, q: Tensor, k: Tensor, v: Tensor, out: Tensor, lse: Tensor | null): Promise<void> {
  const [qs, ks, vs, os] = [q, k, v, out].map((t) => liveStorage(t, 'tensor'))
  const ls = lse ? liveStorage(lse, 'lse') : null
  if (qs.kind === 'cpu' && ks.kind === 'cpu' && vs.kind === 'cpu' && os.kind === 'cpu' && ls?.kind !== 'cuda')
    return callNative(() => cpuBinding().attention(qs.data, ks.data, vs.data, os.data, ls ? (ls.data as Float32Array) : null, p.args, p.mask))
  if (qs.kind === 'cuda' && ks.kind === 'cuda' && vs.kind === 'cuda' && os.kind === 'cuda' && ls?.kind !== 'cpu')
    return callNative(() => cudaBinding()!.attention(qs.buffer, ks.buffer, vs.buffer, os.buffer, ls ? ls.buffer : null, p.args, p.mask))
  throw new Error('attention: operands on different devices after validation') // unreachable: plan() checked
}

/** No key at all (Skv = 0): every row sees nothing, so out is zeros and lse is -Infinity, with no kernel. */
async function fillNoKeys(lse: Tensor | null, device: Device): Promise<void> {
  if (!lse || lse.size === 0) return
  if (device.kind === 'cpu') {
    ;(lse.data as Float32Array).fill(-Infinity)
    return
  }
  const host = empty('float32', lse.dims, lse.size, { kind: 'cpu' })
  ;(host.data as Float32Array).fill(-Infinity)
  const s = liveStorage(lse, 'lse')
  try {
    if (s.kind === 'cuda') await callNative(() => cudaBinding()!.copyToDevice(host.data, s.buffer, lse.size * 4))
  } finally {
    host.dispose()
  }
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
 * @param q - [B, Hq, Sq, D] (or [B, Sq, Hq, D] with `layout: 'bshd'`); float32, float16 or bfloat16 (16-bit only on CUDA). D from 1 to 256.
 * @param k - [B, Hkv, Skv, D], Hq a multiple of Hkv; q's dtype and device.
 * @param v - k's dims, q's dtype and device.
 * @param options - `causal` (default false, bottom-right aligned), `mask` (a {@link BlockMask} for Sq × Skv; default dense),
 *   `scale` (default 1/√D), `returnLse` (default false), `layout` (`'bhsd'` default, or `'bshd'`).
 * @returns the output, q's dims, dtype, device and layout; with `returnLse`, `{ out, lse }` where lse is float32 [B, Hq, Sq].
 * @throws ERR_SK_INVALID_ARGUMENT for a non-tensor, a bad option or scale, or a mask that is not a BlockMask or has bad sizes;
 *   ERR_SK_SHAPE for dims that are not 4-D or do not agree (batch, head dim, Hq % Hkv, k vs v, D > 256), or a mask built for other sizes;
 *   ERR_SK_DTYPE for a type other than float32 / float16 / bfloat16 or types that differ;
 *   ERR_SK_DEVICE for operands on different devices; ERR_SK_UNSUPPORTED for float32 on CUDA or a head dim a CUDA build lacks;
 *   ERR_SK_DISPOSED for a disposed operand; ERR_SK_OUT_OF_MEMORY when the output cannot be allocated.
 * @example
 * ```ts
 * const q = sk.randn([1, 32, 4096, 128], { type: 'bfloat16', seed: 1 })
 * const k = sk.randn([1, 8, 4096, 128], { type: 'bfloat16', seed: 2 })  // GQA 4:1
 * const v = sk.randn([1, 8, 4096, 128], { type: 'bfloat16', seed: 3 })
 * const mask = sk.BlockMask.streaming({ qLen: 4096, kvLen: 4096, sink: 128, local: 1024, blockSize: 128 })
 * const { out, lse } = await sk.attention(q, k, v, { mask, returnLse: true })
 * ```
 */
export function attention(q: Tensor, k: Tensor, v: Tensor, options: AttentionOptions & { returnLse: true }): Promise<AttentionResult>
export function attention(q: Tensor, k: Tensor, v: Tensor, options?: AttentionOptions & { returnLse?: false }): Promise<Tensor>
export function attention(q: Tensor, k: Tensor, v: Tensor, options?: AttentionOptions): Promise<Tensor | AttentionResult>
export function attention(q: Tensor, k: Tensor, v: Tensor, options?: AttentionOptions): Promise<Tensor | AttentionResult> {
  const p = plan(q, k, v, options)
  const outSize = p.q.batch * p.q.heads * p.q.seq * p.q.headDim
  const lseSize = p.q.batch * p.q.heads * p.q.seq
  const noKeys = p.kv.seq === 0
  const out = empty(p.type, physicalDims(p.q, p.layout), outSize, p.device, noKeys)
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
  if (noKeys) return fillNoKeys(lse, p.device).then(result, fail)
  try {
    return launch(p, q, k, v, out, lse).then(result, fail)
  } catch (err) {
    return fail(err)
  }
}
