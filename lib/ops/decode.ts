/**
 * `decodeAttention`: attention of the last few tokens' queries over a paged
 * {@link KVCache}, dense or sparse (Quest's page selection; streaming heads
 * that read only their sink and recent pages). Arguments are checked here, in
 * full, before the work is queued.
 * @module
 */
import { KVCache, bufferOf, strides4 } from '../decode/cache.js'
import { type Device, sameDevice } from '../device.js'
import { type DType, dtypeId } from '../dtype.js'
import { callNative, callNativeSync, dtypeError, invalidArgument, shapeError } from '../errors.js'
import { empty, liveStorage, type Storage, Tensor } from '../tensor.js'
import { checkBool, checkInt, checkOptions, is } from '../validate.js'
import type { KvDecodeArgs } from '../decode/native.js'

/** Most query tokens per call: speculative decoding verifies a few at once. */
export const kMaxDecodeQueries = 8

const kQueryTypes: readonly DType[] = ['float32', 'float16', 'bfloat16']
const kMaxInt = 2 ** 31 - 1

/** Quest's page selection (arXiv 2406.10774). */
export interface QuestSelect {
  /** `'quest'`. */
  method: 'quest'
  /**
   * Tokens to read per (sequence, KV head), sink and recent pages included,
   * rounded down to whole pages; at least one page.
   */
  budget: number
  /** The pages holding the first `sink` tokens are always read. Default one page. */
  sink?: number
  /** The pages holding the last `recent` tokens (and the queries' own) are always read. Default one page. */
  recent?: number
  /** Keep a selection for this many calls on the cache (LServe reuses it for 4 decode steps). Default 1. */
  reuse?: number
}

/** Streaming heads with their window, when LServe's default (sink 128, recent 256 tokens) does not fit. */
export interface StreamingHeads {
  /** Per KV head, 1 for a streaming head, 0 otherwise. */
  heads: ArrayLike<number>
  /** Tokens whose pages a streaming head reads at the start. Default 128. */
  sink?: number
  /** Tokens whose pages a streaming head reads at the end. Default 256. */
  recent?: number
}

/** Options of {@link decodeAttention}. */
export interface DecodeOptions {
  /** `'dense'` (default): every page; or Quest's selection. */
  select?: 'dense' | QuestSelect
  /**
   * Streaming heads (DuoAttention / LServe): a 0/1 flag per KV head (or an
   * object with the window); flagged heads read only their sink and recent pages.
   */
  streamingHeads?: ArrayLike<number> | StreamingHeads
  /** Multiplies q·kᵀ before the softmax; a finite positive number. Default 1/√D. */
  scale?: number
  /** Also return the natural-log LSE of each row over the keys it read. Default false. */
  returnLse?: boolean
  /** Also return the pages each (sequence, KV head) read, for inspection and tests. Default false. */
  returnPages?: boolean
}

/** What {@link decodeAttention} resolves to with `returnLse` or `returnPages`. */
export interface DecodeResult {
  /** [B, Hq, Tq, D], q's type and device. */
  out: Tensor
  /** float32 [B, Hq, Tq]: `log Σ exp(scale · q·k)` over the keys read (with `returnLse`). */
  lse?: Tensor
  /** `pages[b][g]`: the logical pages (page i holds tokens [i·pageSize, (i+1)·pageSize)) KV head g of sequence b read, increasing (with `returnPages`). */
  pages?: Int32Array[][]
}

const deviceOf = (s: Storage): Device => (s.kind === 'cpu' ? { kind: 'cpu' } : { kind: 'cuda', index: s.index })

function tokens(name: string, v: unknown, dflt: number): number {
  return v === undefined ? dflt : checkInt(name, v, 0, kMaxInt)
}

function checkSelect(
  v: unknown,
  cache: KVCache,
): Pick<KvDecodeArgs, 'method' | 'budget' | 'sink' | 'recent' | 'reuse'> {
  const none = { method: 0 as const, budget: 0, sink: 0, recent: 0, reuse: 1 }
  if (v === undefined || v === 'dense') return none
  if (!is.plainObject(v) || v.method !== 'quest')
    throw invalidArgument('options.select', "'dense' or { method: 'quest', budget }", v)
  const o = checkOptions('options.select', v, ['method', 'budget', 'sink', 'recent', 'reuse'] as const)
  const P = cache.pageSize
  if (!is.integer(o.budget) || o.budget < P || o.budget > kMaxInt)
    throw invalidArgument('options.select.budget', `a token count of at least one page (${P}) and below 2^31`, o.budget)
  return {
    method: 1,
    budget: Math.floor(o.budget / P),
    sink: tokens('options.select.sink', o.sink, P),
    recent: tokens('options.select.recent', o.recent, P),
    reuse: o.reuse === undefined ? 1 : checkInt('options.select.reuse', o.reuse, 1, kMaxInt),
  }
}

function checkStreaming(v: unknown, kvHeads: number): { flags: Uint8Array | null; sink: number; recent: number } {
  if (v === undefined) return { flags: null, sink: 0, recent: 0 }
  const isList = (x: unknown): x is ArrayLike<number> => Array.isArray(x) || is.typedArray(x)
  const o = isList(v)
    ? { heads: v }
    : is.plainObject(v)
      ? checkOptions('options.streamingHeads', v, ['heads', 'sink', 'recent'] as const)
      : null
  const heads = o?.heads
  if (!isList(heads) || heads.length !== kvHeads)
    throw invalidArgument(
      'options.streamingHeads',
      `${kvHeads} flags of 0 or 1 (one per KV head), or { heads, sink, recent }`,
      heads ?? v,
    )
  const flags = new Uint8Array(kvHeads)
  for (let g = 0; g < kvHeads; ++g) {
    if (heads[g] !== 0 && heads[g] !== 1) throw invalidArgument(`options.streamingHeads[${g}]`, '0 or 1', heads[g])
    flags[g] = heads[g]!
  }
  const w = o as { sink?: unknown; recent?: unknown }
  return {
    flags,
    sink: tokens('options.streamingHeads.sink', w.sink, 128),
    recent: tokens('options.streamingHeads.recent', w.recent, 256),
  }
}

/**
 * Attention of the last Tq tokens' queries over a paged KV cache (decode, and
 * speculative verification with Tq up to 8). The queries are the last Tq
 * tokens already appended to each sequence, causal among themselves
 * (bottom-right, as in {@link attention}): query i of a sequence of L tokens
 * sees key j iff j ≤ i + L − Tq. GQA: query head h reads KV head
 * floor(h / (Hq / Hkv)).
 *
 * - `select: 'dense'` reads every page, split across threads by pages
 *   (flash-decoding), so one query uses every core.
 * - `select: { method: 'quest', budget }` scores each page by Quest's upper
 *   bound Σᵢ max(qᵢ·minᵢ, qᵢ·maxᵢ) (summed over the query heads and tokens
 *   that share the KV head) and reads the sink and recent pages plus the
 *   highest-scored others, up to `budget` tokens; `reuse` keeps a selection
 *   for that many calls.
 * - `streamingHeads` flags KV heads that read only their sink and recent pages.
 *
 * 16-bit and FP8 pages are read in their own type and widened in registers;
 * accumulation is float32.
 *
 * @param q - [B, Hq, Tq, D]: float32, float16 or bfloat16 on the cache's device; B and D the cache's, Hq a multiple
 *   of its kvHeads, Tq 1 … 8 and at most every sequence's length.
 * @param cache - the {@link KVCache} to read.
 * @param options - `select` ('dense' default, or `{ method: 'quest', budget, sink, recent, reuse }`), `streamingHeads`,
 *   `scale` (1/√D), `returnLse`, `returnPages`.
 * @returns the output [B, Hq, Tq, D] in q's type; with `returnLse` / `returnPages`, a {@link DecodeResult}.
 * @throws ERR_SK_SHAPE for q's dims (not 4-D, batch or head dim not the cache's, Hq not a multiple of kvHeads,
 *   Tq outside 1 … 8 or above a sequence's length); ERR_SK_DTYPE for another q type; ERR_SK_INVALID_ARGUMENT for a
 *   bad option (a Quest budget below one page, streaming flags that are not one 0/1 per KV head);
 *   ERR_SK_DEVICE for q on another device; ERR_SK_DISPOSED for a disposed cache or q.
 * @example
 * ```ts
 * const out = await sk.decodeAttention(q, cache, { select: { method: 'quest', budget: 2048 }, streamingHeads: [1, 0, 1, 0, 1, 0, 1, 0] })
 * ```
 */
export function decodeAttention(
  q: Tensor,
  cache: KVCache,
  options: DecodeOptions & ({ returnLse: true } | { returnPages: true }),
): Promise<DecodeResult>
export function decodeAttention(
  q: Tensor,
  cache: KVCache,
  options?: DecodeOptions & { returnLse?: false; returnPages?: false },
): Promise<Tensor>
export function decodeAttention(q: Tensor, cache: KVCache, options?: DecodeOptions): Promise<Tensor | DecodeResult>
export function decodeAttention(q: Tensor, cache: KVCache, options?: DecodeOptions): Promise<Tensor | DecodeResult> {
  if (!(cache instanceof KVCache)) throw invalidArgument('cache', 'a KVCache', cache)
  const handle = cache._handle()
  const { backend, device } = cache._backend()
  const qs = liveStorage(q, 'q')
  sameDevice(device, deviceOf(qs), 'q')
  const o = checkOptions('options', options, ['select', 'streamingHeads', 'scale', 'returnLse', 'returnPages'] as const)
  if (!kQueryTypes.includes(q.type)) throw dtypeError('q.type', kQueryTypes.join(', '), q.type)
  const [B, Hq, Tq, D] = q.dims as number[]
  if (q.dims.length !== 4 || B !== cache.batch || D !== cache.headDim || Hq! < 1 || Hq! % cache.kvHeads !== 0)
    throw shapeError(
      'q.dims',
      `[${cache.batch}, Hq, Tq, ${cache.headDim}] with Hq a multiple of ${cache.kvHeads} (the cache's batch, kvHeads, headDim)`,
      q.dims,
    )
  const lengths = cache.lengths
  let shortest = Infinity,
    longest = 0
  for (const l of lengths) {
    shortest = Math.min(shortest, l)
    longest = Math.max(longest, l)
  }
  if (!(Tq! >= 1 && Tq! <= Math.min(kMaxDecodeQueries, shortest)))
    throw shapeError(
      'q.dims',
      `Tq between 1 and ${Math.min(kMaxDecodeQueries, shortest)} (8, and the shortest sequence's ${shortest} tokens)`,
      q.dims,
    )
  const select = checkSelect(o.select, cache)
  const streaming = checkStreaming(o.streamingHeads, cache.kvHeads)
  const scale = o.scale === undefined ? 1 / Math.sqrt(D!) : o.scale
  if (typeof scale !== 'number' || !(Math.fround(scale) > 0) || !Number.isFinite(Math.fround(scale)))
    throw invalidArgument('options.scale', 'a finite positive number (representable as float32)', scale)
  const returnLse = checkBool('options.returnLse', o.returnLse, false)
  const returnPages = checkBool('options.returnPages', o.returnPages, false)

  const args: KvDecodeArgs = {
    qType: dtypeId(q.type),
    headsQ: Hq!,
    seqQ: Tq!,
    qStrides: strides4(q.dims),
    outStrides: strides4(q.dims),
    scale,
    ...select,
    streamingSink: streaming.sink,
    streamingRecent: streaming.recent,
  }
  const pairs = B! * cache.kvHeads
  const stride = Math.max(1, Math.ceil(longest / cache.pageSize))
  const selCount = returnPages ? new Int32Array(pairs) : null
  const selPages = returnPages ? new Int32Array(pairs * stride) : null
  const out = empty(q.type, q.dims, q.size, device)
  let lse: Tensor | null = null
  try {
    if (returnLse) lse = empty('float32', [B!, Hq!, Tq!], B! * Hq! * Tq!, device)
    const ls = lse ? liveStorage(lse, 'lse') : null
    const pending = callNativeSync(() =>
      backend.kvDecode(
        handle,
        bufferOf(qs),
        bufferOf(liveStorage(out, 'out')),
        ls ? bufferOf(ls) : null,
        selCount,
        selPages,
        streaming.flags,
        args,
      ),
    )
    return callNative(() => pending).then(
      () => {
        if (!returnLse && !returnPages) return out
        const r: DecodeResult = { out }
        if (lse) r.lse = lse
        if (selCount && selPages)
          r.pages = Array.from({ length: B! }, (_, b) =>
            Array.from({ length: cache.kvHeads }, (_, g) => {
              const at = (b * cache.kvHeads + g) * stride
              return selPages.slice(at, at + selCount[b * cache.kvHeads + g]!)
            }),
          )
        return r
      },
      (err: unknown) => {
        out.dispose()
        lse?.dispose()
        throw err
      },
    )
  } catch (err) {
    out.dispose()
    lse?.dispose()
    throw err
  }
}
