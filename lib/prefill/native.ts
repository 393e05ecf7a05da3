/**
 * Checks and native calls shared by the dynamic sparse prefill ops: q / k / v
 * as [B, H, S, D] CPU tensors of one attention dtype, the block-score op and
 * the row gather that lays keys out in a permuted order.
 * @internal
 * @module
 */
import { type DType, dtypeBytes, dtypeId } from '../dtype.js'
import { callNative, dtypeError, shapeError, SparsekitError } from '../errors.js'
import { type BlockScoresArgs, cpuBinding } from '../native.js'
import { empty, liveStorage, Tensor } from '../tensor.js'

/** Sizes of a checked q / k pair (bhsd). */
export interface PrefillShape {
  type: DType
  batch: number
  headsQ: number
  headsKv: number
  seq: number
  headDim: number
}

const kTypes: readonly DType[] = ['float32', 'float16', 'bfloat16']

/** The host array of a live CPU tensor; ERR_SK_UNSUPPORTED on CUDA (the CPU ops only, for now). */
export function hostData(t: unknown, name: string): ArrayBufferView {
  const s = liveStorage(t, name)
  if (s.kind !== 'cpu')
    throw new SparsekitError('ERR_SK_UNSUPPORTED', `Expected a CPU tensor for ${name} (dynamic sparse prefill runs on the CPU) but received one on ${(t as Tensor).device}`)
  return s.data
}

/**
 * Checks q [B, Hq, S, D] and k (and v) [B, Hkv, S, D]: CPU, one dtype of
 * float32 / float16 / bfloat16, Hq a multiple of Hkv, equal lengths (prefill).
 * @throws ERR_SK_SHAPE, ERR_SK_DTYPE, ERR_SK_UNSUPPORTED (CUDA tensors), ERR_SK_DISPOSED.
 * @example
 * ```ts
 * const s = checkQkv(q, k, v)
 * ```
 */
export function checkQkv(q: unknown, k: unknown, v?: unknown): PrefillShape {
  hostData(q, 'q')
  hostData(k, 'k')
  if (v !== undefined) hostData(v, 'v')
  const qt = q as Tensor, kt = k as Tensor
  if (!kTypes.includes(qt.type)) throw dtypeError('q.type', kTypes.join(', '), qt.type)
  if (kt.type !== qt.type) throw dtypeError('k.type', `${qt.type} (q's type)`, kt.type)
  if (qt.dims.length !== 4) throw shapeError('q.dims', '4 dims [B, H, S, D]', qt.dims)
  if (kt.dims.length !== 4) throw shapeError('k.dims', '4 dims [B, H, S, D]', kt.dims)
  const [batch, headsQ, seq, headDim] = qt.dims as [number, number, number, number]
  const [kb, headsKv, kvSeq, kd] = kt.dims as [number, number, number, number]
  if (headDim < 1 || headDim > 256) throw shapeError('q.dims', 'a head dim between 1 and 256', qt.dims)
  if (headsQ < 1 || headsKv < 1 || headsQ % headsKv !== 0)
    throw shapeError('k.dims', `key heads that divide q's ${headsQ} heads (GQA / MQA)`, kt.dims)
  if (kb !== batch || kd !== headDim) throw shapeError('k.dims', `batch ${batch} and head dim ${headDim} (q's)`, kt.dims)
  if (kvSeq !== seq) throw shapeError('k.dims', `the sequence length of q (${seq}): prefill takes equal lengths`, kt.dims)
  if (v !== undefined) {
    const vt = v as Tensor
    if (vt.type !== qt.type) throw dtypeError('v.type', `${qt.type} (q's type)`, vt.type)
    if (vt.dims.length !== 4 || vt.dims.some((d, i) => d !== kt.dims[i])) throw shapeError('v.dims', `[${kt.dims.join(', ')}] (k's dims)`, vt.dims)
  }
  return { type: qt.type, batch, headsQ, headsKv, seq, headDim }
}

const strides = (h: number, s: number, d: number): [number, number, number] => [h * s * d, s * d, d]

/**
 * Runs the block-score op (method 1 XAttention, 2 mean-pooled, 3 key importance).
 * @returns Float32Array [B, Hq, nb, nb] (methods 1, 2) or [B, Hq, S] (method 3).
 * @example
 * ```ts
 * const scores = await blockScores(q, k, s, { method: 2, block: 128, stride: 1, segmentBlocks: 0, keyCount: s.seq, causal: true })
 * ```
 */
export async function blockScores(
  q: Tensor, k: Tensor, s: PrefillShape,
  o: Pick<BlockScoresArgs, 'method' | 'block' | 'stride' | 'segmentBlocks' | 'keyCount' | 'causal'>,
): Promise<Float32Array> {
  const nb = Math.ceil(s.seq / o.block)
  const out = new Float32Array(s.batch * s.headsQ * (o.method === 3 ? s.seq : nb * nb))
  if (out.length === 0) return out
  const args: BlockScoresArgs = {
    dtype: dtypeId(s.type), ...o, batch: s.batch, headsQ: s.headsQ, headsKv: s.headsKv, seq: s.seq, headDim: s.headDim,
    qStrides: strides(s.headsQ, s.seq, s.headDim), kStrides: strides(s.headsKv, s.seq, s.headDim), scale: 1 / Math.sqrt(s.headDim),
  }
  await callNative(() => cpuBinding().blockScores(hostData(q, 'q'), hostData(k, 'k'), out, args))
  return out
}

/**
 * A [B, H, S, D] tensor with its rows gathered: out[b, h, s] = x[b, h, idx[b, h, s]].
 * @example
 * ```ts
 * const kPerm = await gatherRows(k, perm.indices)
 * ```
 */
export async function gatherRows(x: Tensor, idx: Int32Array): Promise<Tensor> {
  const [b, h, s, d] = x.dims as [number, number, number, number]
  const out = empty(x.type, x.dims, x.size, { kind: 'cpu' })
  if (x.size === 0) return out
  try {
    await callNative(() =>
      cpuBinding().gatherRows(hostData(x, 'x'), idx, hostData(out, 'out'), {
        elemSize: dtypeBytes(x.type), batch: b, heads: h, seq: s, row: d, srcStrides: strides(h, s, d),
      }))
  } catch (err) {
    out.dispose()
    throw err
  }
  return out
}
