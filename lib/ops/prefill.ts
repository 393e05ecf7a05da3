/**
 * Dynamic sparse prefill: block masks estimated from q and k (XAttention's
 * antidiagonal scores, mean-pooled scores, top-k), key permutations (the
 * vertical-slash plan's gathered columns, PBS-Attn's order inside segments),
 * and permuted block-sparse attention. The scores run where
 * q and k live: the CPU executor (csrc/cpu/prefill) or a CUDA device
 * (cuda/prefill: fp16 / bf16, float32 accumulation); on CUDA they are copied
 * back to the host (B·Hq·nb² floats, small next to q and k), where selection
 * and masks are built. The permuted attention itself runs on the tensors' device.
 * @module
 */
import { allocating, invalidArgument, SparsekitError } from '../errors.js'
import { BlockMask } from '../mask/index.js'
import { checkPermutation } from '../mask/permuted.js'
import { blockScores, checkQkv, gatherRows, type PrefillShape } from '../prefill/native.js'
import { segmentOrder, selectByThreshold, selectPermuted, selectTopK } from '../prefill/select.js'
import { vslashPlan } from '../prefill/vslash.js'
import type { Tensor } from '../tensor.js'
import { checkBool, checkInt, checkOptions, is } from '../validate.js'
import { attention, type AttentionResult } from './attention.js'

/** Options of {@link estimateBlockMask}. */
export interface EstimateOptions {
  /** `'xattention'` (default): antidiagonal scores; `'meanpool'`: mean-pooled blocks; `'topk'`: antidiagonal scores, a fixed budget per row. */
  method?: 'xattention' | 'meanpool' | 'topk'
  /** Tokens per block, 16..256 in steps of 16. Default 128. */
  blockSize?: number
  /** XAttention / top-k: tokens per antidiagonal, dividing blockSize (8 or 16 in the paper). Default 8. */
  stride?: number
  /** Share of each row's estimated mass to keep, in (0, 1]; 1 keeps every candidate. Default 0.9. */
  threshold?: number
  /** `'topk'` only: key blocks per query-block row (sink and diagonal included), ≥ 1. */
  budget?: number
  /** Causal prefill (block-causal candidates, diagonal cut per token). Default true. */
  causal?: boolean
}

function checkBlockSize(v: unknown): number {
  const b = v === undefined ? 128 : v
  if (!is.integer(b) || b < 16 || b > 256 || b % 16 !== 0)
    throw invalidArgument('options.blockSize', 'a multiple of 16 from 16 to 256', b)
  return b
}

function checkThreshold(v: unknown): number {
  const t = v === undefined ? 0.9 : v
  if (typeof t !== 'number' || !(t > 0 && t <= 1)) throw invalidArgument('options.threshold', 'a number in (0, 1]', t)
  return t
}

function checkSegmentSize(v: unknown, blockSize: number): number {
  const seg = v === undefined ? 256 : v
  if (!is.integer(seg) || seg < blockSize || seg % blockSize !== 0 || seg > 2 ** 30)
    throw invalidArgument('options.segmentSize', `a multiple of the block size (${blockSize})`, seg)
  return seg
}

/** A causal selection as a mask whose diagonal blocks are cut per token. */
function maskOf(bits: Uint8Array, s: PrefillShape, nb: number, blockSize: number, causal: boolean): BlockMask {
  const sizes = { qLen: s.seq, kvLen: s.seq, blockSize }
  const m = BlockMask.fromDense(bits, [s.batch, s.headsQ, nb, nb], sizes)
  return causal ? m.and(BlockMask.causal(sizes)) : m
}

/**
 * Estimates a block-sparse mask for prefill attention from q and k, at about
 * 1/stride of the cost of a dense q·kᵀ (XAttention) or far less (meanpool).
 * Per query-block row the sink (key block 0) and the diagonal block are always
 * kept; `threshold` keeps the fewest highest-scored blocks whose estimated
 * softmax mass reaches that share of the row's; `topk` keeps `budget` blocks.
 * With `causal` the mask is ANDed with the causal mask, so it can be passed to
 * {@link attention} as it is. Batch > 1 and GQA (Hq a multiple of Hkv) are supported;
 * the mask has one row per (batch, query head, query block).
 *
 * @param q - [B, Hq, S, D]: float32 / float16 / bfloat16 on the CPU, float16 / bfloat16 on CUDA
 *   (the scores run on the device and come back to the host for the selection).
 * @param k - [B, Hkv, S, D], q's type and device; the same S (prefill).
 * @param options - `method` ('xattention' default, 'meanpool', 'topk'), `blockSize` (128), `stride` (8),
 *   `threshold` (0.9, in (0, 1]), `budget` (topk), `causal` (true).
 * @returns a BlockMask for S × S with batch B and heads Hq.
 * @throws ERR_SK_INVALID_ARGUMENT for an unknown method or option, a block size outside 16..256 (step 16), a stride
 *   that does not divide the block, a threshold outside (0, 1], a missing or bad budget;
 *   ERR_SK_SHAPE / ERR_SK_DTYPE for tensors that do not fit; ERR_SK_UNSUPPORTED for float32 on CUDA (cast to bfloat16 first);
 *   ERR_SK_DEVICE for tensors on different devices.
 * @example
 * ```ts
 * const mask = await sk.estimateBlockMask(q, k, { method: 'xattention', stride: 8, threshold: 0.9 })
 * const out = await sk.attention(q, k, v, { mask })
 * ```
 */
export function estimateBlockMask(q: Tensor, k: Tensor, options?: EstimateOptions): Promise<BlockMask> {
  const o = checkOptions('options', options, ['method', 'blockSize', 'stride', 'threshold', 'budget', 'causal'])
  const method = o.method === undefined ? 'xattention' : o.method
  if (method !== 'xattention' && method !== 'meanpool' && method !== 'topk')
    throw invalidArgument('options.method', "'xattention', 'meanpool' or 'topk'", method)
  const blockSize = checkBlockSize(o.blockSize)
  const stride = o.stride === undefined ? 8 : checkInt('options.stride', o.stride, 1, blockSize)
  if (blockSize % stride !== 0)
    throw invalidArgument('options.stride', `a divisor of the block size (${blockSize})`, stride)
  const threshold = checkThreshold(o.threshold)
  const causal = checkBool('options.causal', o.causal, true)
  let budget = 0
  if (method === 'topk') budget = checkInt('options.budget', o.budget, 1, 2 ** 31 - 1)
  else if (o.budget !== undefined) throw invalidArgument('options.budget', "nothing unless method is 'topk'", o.budget)
  const s = checkQkv(q, k)
  const nb = Math.ceil(s.seq / blockSize),
    rows = s.batch * s.headsQ * nb
  // validated above, synchronously; from here on the work is queued
  return blockScores(q, k, s, {
    method: method === 'meanpool' ? 2 : 1,
    block: blockSize,
    stride: method === 'meanpool' ? 1 : stride,
    segmentBlocks: 0,
    keyCount: s.seq,
    causal,
  }).then(async (scores) => {
    const bits =
      method === 'topk'
        ? await selectTopK(scores, rows, nb, budget, causal)
        : await selectByThreshold(scores, rows, nb, threshold, causal)
    return maskOf(bits, s, nb, blockSize, causal)
  })
}

/** A key permutation: `indices[b, g, j]` is the original position of the key stored at slot j of key head g. */
export interface KeyPermutation {
  /** Int32Array [B, Hkv, S]; each row a permutation of 0..S − 1. */
  indices: Int32Array
  /** [B, Hkv, S]. */
  dims: [number, number, number]
}

/**
 * PBS-Attn's key permutation: inside each complete segment of `segmentSize`
 * keys, keys sorted by decreasing importance (the mean attention the last
 * `blockSize` queries pay them, over the keys of complete segments; GQA: mean
 * over the key head's query heads); the tail (S mod segmentSize) keeps its
 * order. Segments never mix, so causality across segments is kept.
 * @param options - `blockSize` (128, the queries scored), `segmentSize` (256, a multiple of blockSize).
 * @throws ERR_SK_INVALID_ARGUMENT for a segment size that is not a multiple of the block size; as {@link estimateBlockMask} for tensors.
 * @example
 * ```ts
 * const perm = await sk.segmentPermutation(q, k, { blockSize: 128, segmentSize: 256 })
 * ```
 */
export function segmentPermutation(
  q: Tensor,
  k: Tensor,
  options?: { blockSize?: number; segmentSize?: number },
): Promise<KeyPermutation> {
  const o = checkOptions('options', options, ['blockSize', 'segmentSize'])
  const blockSize = checkBlockSize(o.blockSize)
  return permutationOf(q, k, checkQkv(q, k), blockSize, checkSegmentSize(o.segmentSize, blockSize))
}

async function permutationOf(
  q: Tensor,
  k: Tensor,
  s: PrefillShape,
  blockSize: number,
  seg: number,
): Promise<KeyPermutation> {
  const nC = Math.floor(s.seq / seg) * seg
  const dims: [number, number, number] = [s.batch, s.headsKv, s.seq]
  const order = { batch: s.batch, headsQ: s.headsQ, headsKv: s.headsKv, seq: s.seq, keyCount: nC, segment: seg }
  if (nC === 0 || s.batch === 0) {
    // no complete segment: every key stays in place
    const indices = allocating('the permutation', () => new Int32Array(s.batch * s.headsKv * s.seq))
    for (let i = 0; i < indices.length; i++) indices[i] = i % s.seq
    return { indices, dims }
  }
  const w = await blockScores(q, k, s, {
    method: 3,
    block: Math.min(blockSize, s.seq),
    stride: 1,
    segmentBlocks: 0,
    keyCount: nC,
    causal: true,
  })
  return { indices: await segmentOrder(w, order), dims }
}

/** What {@link planPermutedAttention} prepares: the permutation, the permuted keys and the mask on the permuted layout. */
export interface PermutedPlan {
  permutation: KeyPermutation
  kPerm: Tensor
  mask: BlockMask
}

/** {@link permutedAttention}'s estimation options, checked and with their defaults. */
export interface PlanOptions {
  method: 'vslash' | 'pbs'
  blockSize: number
  /** 'pbs' only. */
  segmentSize: number
  threshold: number
  /** 'vslash' only. */
  budget: number
}

/**
 * The estimation half of {@link permutedAttention}: permutation, permuted
 * keys, block selection on the permuted layout, and the mask (selected blocks
 * ANDed with the permuted-causal mask). Exposed for benchmarks and tests.
 * @internal
 * @example
 * ```ts
 * const { permutation, kPerm, mask } = await planPermutedAttention(q, k, planOptions({}))
 * ```
 */
export async function planPermutedAttention(q: Tensor, k: Tensor, o: PlanOptions): Promise<PermutedPlan> {
  const s = checkQkv(q, k),
    blockSize = o.blockSize
  const dims: [number, number, number] = [s.batch, s.headsKv, s.seq]
  if (o.method === 'vslash') {
    const plan = await vslashPlan(q, k, s, blockSize, o.threshold, o.budget)
    const mask = BlockMask.permutedCausal({
      permutation: plan.indices,
      dims,
      headsQ: s.headsQ,
      qLen: s.seq,
      blockSize,
      keep: plan.bits,
    })
    return { permutation: { indices: plan.indices, dims }, kPerm: await gatherRows(k, plan.indices), mask }
  }
  const seg = o.segmentSize,
    permutation = await permutationOf(q, k, s, blockSize, seg)
  const kPerm = await gatherRows(k, permutation.indices)
  try {
    const nb = Math.ceil(s.seq / blockSize),
      segBlocks = seg / blockSize
    const scores = await blockScores(q, kPerm, s, {
      method: 2,
      block: blockSize,
      stride: 1,
      segmentBlocks: segBlocks,
      keyCount: s.seq,
      causal: true,
    })
    const sinkBlock = new Int32Array(s.batch * s.headsKv)
    for (let r = 0; r < sinkBlock.length; r++)
      sinkBlock[r] = Math.floor(permutation.indices.subarray(r * s.seq, (r + 1) * s.seq).indexOf(0) / blockSize)
    const bits = await selectPermuted(
      scores,
      s.batch * s.headsQ * nb,
      nb,
      segBlocks,
      o.threshold,
      sinkBlock,
      s.headsQ,
      s.headsQ / s.headsKv,
    )
    const mask = BlockMask.permutedCausal({
      permutation: permutation.indices,
      dims,
      headsQ: s.headsQ,
      qLen: s.seq,
      blockSize,
      keep: bits,
    })
    return { permutation, kPerm, mask }
  } catch (err) {
    kPerm.dispose()
    throw err
  }
}

/** Options of {@link permutedBlockAttention}. */
export interface PermutedBlockOptions {
  /** Where each key is stored: `indices[b, g, slot]` = original position; each row a bijection of 0..S − 1. */
  permutation: KeyPermutation
  /** Blocks to compute on the permuted layout (key block kb = slots kb·block …); default all. ANDed with the permuted-causal rule. */
  mask?: BlockMask
  /** Also return the natural-log LSE per query, float32 [B, Hq, S]. Default false. */
  returnLse?: boolean
}

/**
 * Causal attention with keys and values stored in a permuted order: k and v
 * are given in their original order and gathered by `permutation`; `mask`
 * (optional, on the permuted layout: key block kb holds slots kb·block…) picks
 * the blocks, and query i sees the key at slot j only when its original
 * position is ≤ i. The output is in the original query order.
 * @param options - `permutation` (a {@link KeyPermutation}, each row a bijection), `mask` (a BlockMask for S × S), `returnLse`.
 * @throws ERR_SK_INVALID_ARGUMENT when the permutation is not a bijection per row or out of range; as {@link attention} otherwise.
 * @example
 * ```ts
 * const perm = await sk.segmentPermutation(q, k)
 * const out = await sk.permutedBlockAttention(q, k, v, { permutation: perm })
 * ```
 */
export function permutedBlockAttention(
  q: Tensor,
  k: Tensor,
  v: Tensor,
  options: PermutedBlockOptions & { returnLse: true },
): Promise<AttentionResult>
export function permutedBlockAttention(
  q: Tensor,
  k: Tensor,
  v: Tensor,
  options: PermutedBlockOptions & { returnLse?: false },
): Promise<Tensor>
export function permutedBlockAttention(
  q: Tensor,
  k: Tensor,
  v: Tensor,
  options: PermutedBlockOptions,
): Promise<Tensor | AttentionResult> {
  const o = checkOptions('options', options, ['permutation', 'mask', 'returnLse'])
  const s = checkQkv(q, k, v)
  const returnLse = checkBool('options.returnLse', o.returnLse, false)
  const p = o.permutation as KeyPermutation | undefined
  if (!is.plainObject(p)) throw invalidArgument('options.permutation', 'a KeyPermutation { indices, dims }', p)
  if (
    !Array.isArray(p.dims) ||
    p.dims.length !== 3 ||
    p.dims[0] !== s.batch ||
    p.dims[1] !== s.headsKv ||
    p.dims[2] !== s.seq
  )
    throw invalidArgument('options.permutation.dims', `[${s.batch}, ${s.headsKv}, ${s.seq}]`, p.dims)
  checkPermutation('options.permutation.indices', p.indices, s.batch * s.headsKv, s.seq)
  if (o.mask !== undefined && !(o.mask instanceof BlockMask))
    throw invalidArgument('options.mask', 'a BlockMask', o.mask)
  const blockSize = o.mask ? { q: o.mask.qBlock, kv: o.mask.kvBlock } : 128
  let mask = BlockMask.permutedCausal({
    permutation: p.indices,
    dims: p.dims,
    headsQ: s.headsQ,
    qLen: s.seq,
    blockSize,
  })
  if (o.mask) {
    o.mask.checkFor(s.seq, s.seq, s.batch, s.headsQ)
    mask = o.mask.and(mask)
  }
  return gatherRows(k, p.indices).then((kPerm) => runPermuted(q, kPerm, v, p, mask, returnLse))
}

/** Attention over kPerm (already gathered; disposed here) and v gathered by p. */
async function runPermuted(
  q: Tensor,
  kPerm: Tensor,
  v: Tensor,
  p: KeyPermutation,
  mask: BlockMask,
  returnLse: boolean,
): Promise<Tensor | AttentionResult> {
  let vPerm: Tensor | null = null
  try {
    vPerm = await gatherRows(v, p.indices)
    return await attention(q, kPerm, vPerm, { mask, returnLse })
  } finally {
    kPerm.dispose()
    vPerm?.dispose()
  }
}

/** Options of {@link permutedAttention}. */
export interface PermutedAttentionOptions {
  /**
   * `'vslash'` (default): vertical and slash lines from the last block of queries, heavy key columns
   * gathered ahead of the other keys (isolated heavy keys count at their full mass); `'pbs'`: PBS-Attn,
   * keys permuted inside segments, mean-pooled block selection. docs/prefill.md has a table of which to use.
   */
  method?: 'vslash' | 'pbs'
  /** Tokens per block, 16..256 in steps of 16. Default 128. */
  blockSize?: number
  /** `'pbs'` only: keys permuted within segments of this many tokens, a multiple of blockSize. Default 256. */
  segmentSize?: number
  /**
   * Share of the estimated mass to keep, in (0, 1]; 1 computes every causal key. Default 0.998 for
   * `'vslash'` (per head, of the last queries' attention), 0.9 for `'pbs'` (per query block, of the
   * mean-pooled block mass; 0.95 keeps PBS within 1e-2 of dense on the clustered generator at 32K).
   */
  threshold?: number
  /** `'vslash'` only: keys per query a head may spend beyond its sink column and diagonal band, ≥ 1. Default 8192. */
  budget?: number
  /** Must be true: both methods are causal prefill. Default true. */
  causal?: boolean
  /** Also return the natural-log LSE per query, float32 [B, Hq, S]. Default false. */
  returnLse?: boolean
}

/**
 * Checks {@link permutedAttention}'s estimation options and fills in their defaults.
 * @internal
 * @example
 * ```ts
 * planOptions({ method: 'pbs', threshold: 0.95 }) // { method: 'pbs', blockSize: 128, segmentSize: 256, threshold: 0.95, budget: 0 }
 * ```
 */
export function planOptions(o: Readonly<Record<string, unknown>>): PlanOptions {
  const method = o.method === undefined ? 'vslash' : o.method
  if (method !== 'vslash' && method !== 'pbs') throw invalidArgument('options.method', "'vslash' or 'pbs'", method)
  const blockSize = checkBlockSize(o.blockSize)
  if (method === 'vslash') {
    if (o.segmentSize !== undefined)
      throw invalidArgument('options.segmentSize', "nothing unless method is 'pbs'", o.segmentSize)
    const budget = o.budget === undefined ? 8192 : checkInt('options.budget', o.budget, 1, 2 ** 31 - 1)
    return {
      method,
      blockSize,
      segmentSize: 0,
      threshold: o.threshold === undefined ? 0.998 : checkThreshold(o.threshold),
      budget,
    }
  }
  if (o.budget !== undefined) throw invalidArgument('options.budget', "nothing unless method is 'vslash'", o.budget)
  return {
    method,
    blockSize,
    segmentSize: checkSegmentSize(o.segmentSize, blockSize),
    threshold: checkThreshold(o.threshold),
    budget: 0,
  }
}

/**
 * Dynamic sparse prefill, whole: estimate which keys each query needs, lay
 * the keys out in a permuted order, and run block-sparse FlashAttention on
 * that layout with the permuted-causal rule (query i sees the key at a slot
 * only when its original position is ≤ i), so exactly the selected keys are
 * computed, each once. Output in the original query order.
 *
 * - `'vslash'` (default): the last block of queries' attention gives each
 *   key's vertical line and each distance's slash line; per query head the
 *   heavy columns and slash bands are chosen up to `threshold` of the
 *   estimated mass or `budget` keys per query (a diffuse head gets a local
 *   window instead); the group's columns are gathered ahead of the other keys.
 * - `'pbs'` (PBS-Attn): keys permuted inside segments by the last query
 *   block's attention ({@link segmentPermutation}), blocks of earlier segments
 *   selected on the permuted layout by mean-pooled scores up to `threshold`,
 *   the block holding token 0 and the query's own segment always computed.
 *   When S fits in one segment this is dense causal attention.
 * @param q - [B, Hq, S, D] on the CPU (float32 / float16 / bfloat16) or CUDA (float16 / bfloat16);
 *   k, v [B, Hkv, S, D] (GQA), q's type and device. On CUDA the scores, gather and attention run on the device;
 *   the plan and mask are built on the host.
 * @param options - `method` ('vslash'), `blockSize` (128), `segmentSize` (pbs: 256), `threshold` (vslash 0.998, pbs 0.9),
 *   `budget` (vslash: 8192), `causal` (true only), `returnLse` (false).
 * @throws ERR_SK_INVALID_ARGUMENT for an unknown method, an option of the other method, a segment size that is not a
 *   multiple of the block size, a threshold outside (0, 1] or a budget below 1;
 *   ERR_SK_UNSUPPORTED for `causal: false` or float32 on CUDA (cast first); ERR_SK_SHAPE / ERR_SK_DTYPE for tensors that
 *   do not fit; ERR_SK_DEVICE for tensors on different devices.
 * @example
 * ```ts
 * const out = await sk.permutedAttention(q, k, v)                                   // vertical-slash
 * const pbs = await sk.permutedAttention(q, k, v, { method: 'pbs', threshold: 0.95 }) // PBS-Attn
 * ```
 */
export function permutedAttention(
  q: Tensor,
  k: Tensor,
  v: Tensor,
  options: PermutedAttentionOptions & { returnLse: true },
): Promise<AttentionResult>
export function permutedAttention(
  q: Tensor,
  k: Tensor,
  v: Tensor,
  options?: PermutedAttentionOptions & { returnLse?: false },
): Promise<Tensor>
export function permutedAttention(
  q: Tensor,
  k: Tensor,
  v: Tensor,
  options?: PermutedAttentionOptions,
): Promise<Tensor | AttentionResult> {
  const o = checkOptions('options', options, [
    'method',
    'blockSize',
    'segmentSize',
    'threshold',
    'budget',
    'causal',
    'returnLse',
  ])
  const plan = planOptions(o)
  if (!checkBool('options.causal', o.causal, true))
    throw new SparsekitError(
      'ERR_SK_UNSUPPORTED',
      'Expected causal: true for permutedAttention (keys are permuted, which only causal prefill allows) but received false',
    )
  const returnLse = checkBool('options.returnLse', o.returnLse, false)
  const s = checkQkv(q, k, v)
  if (plan.method === 'pbs' && s.seq <= plan.segmentSize) return attention(q, k, v, { causal: true, returnLse })
  return planPermutedAttention(q, k, plan).then((p) => runPermuted(q, p.kPerm, v, p.permutation, p.mask, returnLse))
}
