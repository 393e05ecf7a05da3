/**
 * Checks and native calls shared by the dynamic sparse prefill ops: q / k / v
 * as [B, H, S, D] tensors of one attention dtype on one device, the block-score
 * op and the row gather that lays keys out in a permuted order. CPU tensors
 * run on the CPU addon (float32 / float16 / bfloat16), CUDA tensors on the
 * CUDA addon (float16 / bfloat16); block scores always come back to the host
 * (B·H·nb² floats), where the selection runs.
 * @internal
 * @module
 */
import { type Device, sameDevice } from '../device.js'
import { type DType, dtypeBytes, dtypeId } from '../dtype.js'
import { allocating, callNative, dtypeError, shapeError, SparsekitError } from '../errors.js'
import { type BlockScoresArgs, cpuBinding, type CudaBinding, cudaBinding } from '../native.js'
import { backendOf, deviceOf, handleOf } from '../ops/backend.js'
import { empty, liveStorage, type Storage, Tensor } from '../tensor.js'

/** Sizes of a checked q / k pair (bhsd). */
export interface PrefillShape {
  type: DType
  batch: number
  headsQ: number
  headsKv: number
  seq: number
  headDim: number
  /** Where q, k (and v) live. */
  device: Device
}

const kTypes: readonly DType[] = ['float32', 'float16', 'bfloat16']
const kCudaTypes: readonly DType[] = ['float16', 'bfloat16']

/**
 * Checks q [B, Hq, S, D] and k (and v) [B, Hkv, S, D]: one device, one dtype
 * (float32 / float16 / bfloat16 on the CPU, float16 / bfloat16 on CUDA), Hq a
 * multiple of Hkv, equal lengths (prefill).
 * @throws ERR_SK_SHAPE, ERR_SK_DTYPE, ERR_SK_UNSUPPORTED (float32 on CUDA: cast first, as attention), ERR_SK_DEVICE (tensors on different devices), ERR_SK_DISPOSED.
 * @example
 * ```ts
 * const s = checkQkv(q, k, v)
 * ```
 */
export function checkQkv(q: unknown, k: unknown, ...rest: [v: unknown] | []): PrefillShape {
  // Passed, v is checked even when undefined: an op that takes v must never run without one.
  const hasV = rest.length > 0,
    v = rest[0]
  const device = deviceOf(liveStorage(q, 'q'))
  sameDevice(device, deviceOf(liveStorage(k, 'k')), 'k')
  if (hasV) sameDevice(device, deviceOf(liveStorage(v, 'v')), 'v')
  const qt = q as Tensor,
    kt = k as Tensor
  if (!kTypes.includes(qt.type)) throw dtypeError('q.type', kTypes.join(', '), qt.type)
  if (device.kind === 'cuda' && !kCudaTypes.includes(qt.type))
    throw new SparsekitError(
      'ERR_SK_UNSUPPORTED',
      `Expected float16 or bfloat16 for q.type on ${qt.device} but received ${qt.type}; cast first: await q.cast('bfloat16')`,
    )
  if (kt.type !== qt.type) throw dtypeError('k.type', `${qt.type} (q's type)`, kt.type)
  if (qt.dims.length !== 4) throw shapeError('q.dims', '4 dims [B, H, S, D]', qt.dims)
  if (kt.dims.length !== 4) throw shapeError('k.dims', '4 dims [B, H, S, D]', kt.dims)
  const [batch, headsQ, seq, headDim] = qt.dims as [number, number, number, number]
  const [kb, headsKv, kvSeq, kd] = kt.dims as [number, number, number, number]
  if (headDim < 1 || headDim > 256) throw shapeError('q.dims', 'a head dim between 1 and 256', qt.dims)
  if (headsQ < 1 || headsKv < 1 || headsQ % headsKv !== 0)
    throw shapeError('k.dims', `key heads that divide q's ${headsQ} heads (GQA / MQA)`, kt.dims)
  if (kb !== batch || kd !== headDim)
    throw shapeError('k.dims', `batch ${batch} and head dim ${headDim} (q's)`, kt.dims)
  if (kvSeq !== seq)
    throw shapeError('k.dims', `the sequence length of q (${seq}): prefill takes equal lengths`, kt.dims)
  if (hasV) {
    const vt = v as Tensor
    if (vt.type !== qt.type) throw dtypeError('v.type', `${qt.type} (q's type)`, vt.type)
    if (vt.dims.length !== 4 || vt.dims.some((d, i) => d !== kt.dims[i]))
      throw shapeError('v.dims', `[${kt.dims.join(', ')}] (k's dims)`, vt.dims)
  }
  return { type: qt.type, batch, headsQ, headsKv, seq, headDim, device }
}

const strides = (h: number, s: number, d: number): [number, number, number] => [h * s * d, s * d, d]

/**
 * Runs the block-score op (method 1 XAttention, 2 mean-pooled, 3 key importance,
 * 4 vertical and slash lines) on q's device; on CUDA the scores are computed
 * into a device buffer and copied back (small: B·Hq·nb² or B·Hq·S floats),
 * since selection runs here.
 * @returns Float32Array [B, Hq, nb, nb] (methods 1, 2), [B, Hq, S] (method 3) or [B, Hq, 2, S] (method 4).
 * @example
 * ```ts
 * const scores = await blockScores(q, k, s, { method: 2, block: 128, stride: 1, segmentBlocks: 0, keyCount: s.seq, causal: true })
 * ```
 */
export async function blockScores(
  q: Tensor,
  k: Tensor,
  s: PrefillShape,
  o: Pick<BlockScoresArgs, 'method' | 'block' | 'stride' | 'segmentBlocks' | 'keyCount' | 'causal'>,
): Promise<Float32Array> {
  const nb = Math.ceil(s.seq / o.block)
  const out = allocating(
    'the block scores',
    () => new Float32Array(s.batch * s.headsQ * (o.method === 3 ? s.seq : o.method === 4 ? 2 * s.seq : nb * nb)),
  )
  if (out.length === 0) return out
  const args: BlockScoresArgs = {
    dtype: dtypeId(s.type),
    ...o,
    batch: s.batch,
    headsQ: s.headsQ,
    headsKv: s.headsKv,
    seq: s.seq,
    headDim: s.headDim,
    qStrides: strides(s.headsQ, s.seq, s.headDim),
    kStrides: strides(s.headsKv, s.seq, s.headDim),
    scale: 1 / Math.sqrt(s.headDim),
  }
  const qs = liveStorage(q, 'q'),
    ks = liveStorage(k, 'k')
  if (qs.kind === 'cpu' && ks.kind === 'cpu') {
    await callNative(() => cpuBinding().blockScores(qs.data, ks.data, out, args))
    return out
  }
  if (qs.kind !== 'cuda' || ks.kind !== 'cuda')
    throw new SparsekitError('ERR_SK_DEVICE', 'Expected q and k on one device')
  const dev = empty('float32', [out.length], out.length, { kind: 'cuda', index: qs.index })
  try {
    const ds = liveStorage(dev, 'out')
    if (ds.kind !== 'cuda') throw new SparsekitError('ERR_SK_DEVICE', 'Expected the score buffer on CUDA')
    const cuda = backendOf(s.device) as unknown as CudaBinding
    await callNative(() => cuda.blockScores(qs.buffer, ks.buffer, ds.buffer, args))
    await callNative(() => cuda.copyToHost(ds.buffer, out, out.length * 4))
  } finally {
    dev.dispose()
  }
  return out
}

/**
 * A [B, H, S, D] tensor with its rows gathered, on x's device: out[b, h, s] = x[b, h, idx[b, h, s]].
 * On CUDA the binding copies and checks idx on the host, then uploads it.
 * @example
 * ```ts
 * const kPerm = await gatherRows(k, perm.indices)
 * ```
 */
export async function gatherRows(x: Tensor, idx: Int32Array): Promise<Tensor> {
  const [b, h, s, d] = x.dims as [number, number, number, number]
  const xs = liveStorage(x, 'x')
  const out = empty(x.type, x.dims, x.size, deviceOf(xs))
  if (x.size === 0) return out
  const args = { elemSize: dtypeBytes(x.type), batch: b, heads: h, seq: s, row: d, srcStrides: strides(h, s, d) }
  try {
    const oh = handleOf(liveStorage(out, 'out'))
    await callNative(() => backendOf(deviceOf(xs)).gatherRows(handleOf(xs), idx, oh, args))
  } catch (err) {
    out.dispose()
    throw err
  }
  return out
}
