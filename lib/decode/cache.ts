/**
 * `KVCache`: a paged key/value cache for one attention layer, the input of
 * {@link decodeAttention}. Pages of `pageSize` tokens come from a pool that
 * grows; each holds every KV head's keys and values in the cache's type (FP8
 * with a scale per page, KV head and K / V) and Quest's metadata (the
 * element-wise min and max of its keys per KV head). docs/decode.md has the
 * layout and the rules.
 * @module
 */
import { type Device, deviceName, type DeviceName, parseDevice, sameDevice } from '../device.js'
import { type DType, dtypeId } from '../dtype.js'
import { callNative, callNativeSync, dtypeError, invalidArgument, shapeError, SparsekitError } from '../errors.js'
import { cpuBinding, cudaBinding } from '../native.js'
import { liveStorage, type Storage, type Tensor } from '../tensor.js'
import { checkInt, checkOptions, is } from '../validate.js'
import type { KvBinding, KvHandle } from './native.js'

/** Page types a cache stores. */
export type KVCacheType = 'float32' | 'float16' | 'bfloat16' | 'float8e4m3fn'

const kCacheTypes: readonly KVCacheType[] = ['float32', 'float16', 'bfloat16', 'float8e4m3fn']
const kInputTypes: readonly DType[] = ['float32', 'float16', 'bfloat16']
/** Largest pool, in pages: page tables index pages with int32. */
const kMaxPages = 2 ** 31 - 1

/** Options of {@link KVCache.create}. */
export interface KVCacheOptions {
  /** Sequences, 1 … 65536. */
  batch: number
  /** Key / value heads, 1 … 4096. */
  kvHeads: number
  /** A multiple of 16 from 16 to 256. */
  headDim: number
  /** Tokens per page, a multiple of 16 from 16 to 128. Default 16 (Quest's). */
  pageSize?: number
  /** Page type. Default `'bfloat16'`. */
  type?: KVCacheType
  /** `'cpu'` (default), `'cuda'` or `'cuda:N'`; queries and appended tensors must live there too. */
  device?: DeviceName
  /**
   * The most pages in use (all sequences together); an append past it fails with ERR_SK_OUT_OF_MEMORY.
   * The pool allocates whole slabs of up to 64 pages, so it may hold up to a slab more. Default 2^31 − 1.
   */
  maxPages?: number
}

/** Options of {@link KVCache.append}. */
export interface AppendOptions {
  /** Tokens to take from each sequence's rows, 0 … T (ragged batches). Default T for every sequence. */
  lengths?: ArrayLike<number>
}

/** What {@link KVCache.memory} reports. */
export interface KVCacheMemory {
  /** Pages holding tokens. */
  pages: number
  /** Pages the pool has allocated (used or not). */
  pooledPages: number
  /** Bytes the pool has allocated. */
  bytes: number
  /** Bytes per page: every KV head's keys and values, and the page's scales and metadata, for pageSize tokens. */
  pageBytes: number
}

type Backend = KvBinding<ArrayBufferView> | KvBinding<unknown>

function backendFor(device: Device): Backend {
  if (device.kind === 'cpu') return cpuBinding()
  const cuda = cudaBinding()
  if (!cuda) throw new SparsekitError('ERR_SK_DEVICE', 'Expected the CUDA addon for a CUDA cache but it is not loaded')
  return cuda
}

const deviceOf = (s: Storage): Device => (s.kind === 'cpu' ? { kind: 'cpu' } : { kind: 'cuda', index: s.index })
/** What the backend takes for a tensor's memory: its TypedArray or device buffer. @internal */
export const bufferOf = (s: Storage): unknown => (s.kind === 'cpu' ? s.data : s.buffer)

/** Dense [B, H, S, D] strides of a tensor's dims. @internal */
export function strides4(dims: readonly number[]): [number, number, number] {
  const [, h, s, d] = dims as [number, number, number, number]
  return [h * s * d, s * d, d]
}

/**
 * A paged KV cache for one attention layer. Make one with {@link KVCache.create},
 * fill it with {@link KVCache.append}, read it with {@link decodeAttention};
 * free it with `dispose()` or a `using` declaration.
 *
 * @example
 * ```ts
 * using cache = await sk.KVCache.create({ batch: 1, kvHeads: 8, headDim: 128, pageSize: 16, type: 'float8e4m3fn' })
 * await cache.append(k, v)                       // the prompt: k, v [1, 8, T, 128]
 * const out = await sk.decodeAttention(q, cache) // q [1, 32, 1, 128], the last token's query
 * ```
 */
export class KVCache {
  /** Sequences. */
  readonly batch: number
  /** Key / value heads. */
  readonly kvHeads: number
  /** Head dim. */
  readonly headDim: number
  /** Tokens per page. */
  readonly pageSize: number
  /** Page type. */
  readonly type: KVCacheType
  /** Where the pages live: `'cpu'` or `'cuda:N'`. */
  readonly device: DeviceName
  readonly #device: Device
  readonly #backend: Backend
  #handle: KvHandle | null
  readonly #lengths: number[]

  /** A brand check: only a cache KVCache.create() made is a KVCache (not `Object.create(KVCache.prototype)`). */
  static [Symbol.hasInstance](v: unknown): v is KVCache {
    return typeof v === 'object' && v !== null && #handle in v
  }

  private constructor(o: Required<Omit<KVCacheOptions, 'device'>>, device: Device, backend: Backend, handle: KvHandle) {
    this.batch = o.batch
    this.kvHeads = o.kvHeads
    this.headDim = o.headDim
    this.pageSize = o.pageSize
    this.type = o.type
    this.device = deviceName(device) as DeviceName
    this.#device = device
    this.#backend = backend
    this.#handle = handle
    this.#lengths = new Array<number>(o.batch).fill(0)
  }

  /**
   * Creates an empty cache.
   * @param options - `batch`, `kvHeads`, `headDim` (a multiple of 16 up to 256), `pageSize` (16, a multiple of 16 up to 128),
   *   `type` ('bfloat16'; also 'float32', 'float16', 'float8e4m3fn'), `device` ('cpu'), `maxPages` (2^31 − 1).
   * @returns the cache (resolved at once: nothing is allocated until the first append).
   * @throws ERR_SK_INVALID_ARGUMENT for a missing or bad option (a page size that is not a multiple of 16 in 16 … 128);
   *   ERR_SK_SHAPE for batch, kvHeads or headDim out of range; ERR_SK_DTYPE for another type; ERR_SK_DEVICE for an unavailable device.
   * @example
   * ```ts
   * const cache = await sk.KVCache.create({ batch: 2, kvHeads: 8, headDim: 128, type: 'bfloat16' })
   * ```
   */
  static create(options: KVCacheOptions): Promise<KVCache> {
    if (options === undefined)
      throw invalidArgument('options', 'an options object with batch, kvHeads and headDim', options)
    const o = checkOptions('options', options, [
      'batch',
      'kvHeads',
      'headDim',
      'pageSize',
      'type',
      'device',
      'maxPages',
    ] as const)
    const dim = (name: 'batch' | 'kvHeads' | 'headDim', max: number, min = 1) => {
      const v = o[name]
      if (!is.integer(v) || v < min || v > max)
        throw shapeError(`options.${name}`, `an integer between ${min} and ${max}`, v)
      return v
    }
    const batch = dim('batch', 65536),
      kvHeads = dim('kvHeads', 4096),
      headDim = dim('headDim', 256, 16)
    if (headDim % 16 !== 0) throw shapeError('options.headDim', 'a multiple of 16 from 16 to 256', headDim)
    const pageSize = o.pageSize === undefined ? 16 : o.pageSize
    if (!is.integer(pageSize) || pageSize < 16 || pageSize > 128 || pageSize % 16 !== 0)
      throw invalidArgument('options.pageSize', 'a multiple of 16 from 16 to 128', pageSize)
    const type = (o.type === undefined ? 'bfloat16' : o.type) as KVCacheType
    if (!kCacheTypes.includes(type)) throw dtypeError('options.type', kCacheTypes.join(', '), type)
    const maxPages = o.maxPages === undefined ? kMaxPages : checkInt('options.maxPages', o.maxPages, 1, kMaxPages)
    const device = parseDevice('options.device', o.device)
    const backend = backendFor(device)
    const handle = callNativeSync(() =>
      backend.kvCreate({
        type: dtypeId(type),
        batch,
        kvHeads,
        headDim,
        pageSize,
        maxPages,
        device: device.kind === 'cuda' ? device.index : undefined,
      }),
    )
    return Promise.resolve(new KVCache({ batch, kvHeads, headDim, pageSize, type, maxPages }, device, backend, handle))
  }

  /** Tokens in each sequence (what has been appended; appends still running included). */
  get lengths(): readonly number[] {
    return Object.freeze([...this.#lengths])
  }

  /** The pool's pages and bytes. @throws ERR_SK_DISPOSED after dispose(). */
  get memory(): KVCacheMemory {
    const s = callNativeSync(() => this.#backend.kvStats(this._handle()))
    return { pages: s.pages, pooledPages: s.pooledPages, bytes: s.pooledBytes, pageBytes: s.pageBytes }
  }

  /** Whether dispose() has been called. */
  get disposed(): boolean {
    return this.#handle === null
  }

  /**
   * Appends tokens: row t of k[b] / v[b] becomes token `lengths[b] + t` of
   * sequence b, for t below `options.lengths[b]` (default: every row). One call
   * serves a prefill chunk and a single decode step alike. The pages it needs
   * are taken from the pool at once, so an append past `maxPages` (or past
   * what memory allows) throws before anything changes.
   * @param k - [B, Hkv, T, D] float32, float16 or bfloat16 on the cache's device, T ≥ 0.
   * @param v - k's dims, type and device.
   * @param options - `lengths`: per-sequence token counts, each 0 … T.
   * @throws ERR_SK_SHAPE for dims that do not match the cache; ERR_SK_DTYPE for another type or k and v of different types;
   *   ERR_SK_INVALID_ARGUMENT for bad lengths; ERR_SK_OUT_OF_MEMORY past maxPages or when pages cannot be allocated;
   *   ERR_SK_DEVICE for tensors on another device; ERR_SK_DISPOSED for a disposed cache or tensor.
   * @example
   * ```ts
   * await cache.append(k, v, { lengths: [37, 12] }) // a ragged batch of two prompts, padded to T
   * ```
   */
  append(k: Tensor, v: Tensor, options?: AppendOptions): Promise<void> {
    const handle = this._handle()
    const ks = liveStorage(k, 'k'),
      vs = liveStorage(v, 'v')
    sameDevice(this.#device, deviceOf(ks), 'k')
    sameDevice(this.#device, deviceOf(vs), 'v')
    if (!kInputTypes.includes(k.type)) throw dtypeError('k.type', kInputTypes.join(', '), k.type)
    if (v.type !== k.type) throw dtypeError('v.type', `${k.type} (k's type)`, v.type)
    const want = `[${this.batch}, ${this.kvHeads}, T, ${this.headDim}] (the cache's batch, kvHeads and headDim)`
    const kd = k.dims
    if (kd.length !== 4 || kd[0] !== this.batch || kd[1] !== this.kvHeads || kd[3] !== this.headDim)
      throw shapeError('k.dims', want, kd)
    if (v.dims.length !== 4 || v.dims.some((d, i) => d !== kd[i]))
      throw shapeError('v.dims', `[${kd.join(', ')}] (k's dims)`, v.dims)
    const T = kd[2]!
    const o = checkOptions('options', options, ['lengths'] as const)
    const count = new Int32Array(this.batch).fill(T)
    if (o.lengths !== undefined) {
      const l = o.lengths as ArrayLike<number>
      if (typeof l !== 'object' || l === null || typeof l.length !== 'number')
        throw invalidArgument('options.lengths', `${this.batch} integers`, l)
      if (l.length !== this.batch)
        throw invalidArgument('options.lengths', `${this.batch} integers (one per sequence)`, l)
      for (let b = 0; b < this.batch; ++b) count[b] = checkInt(`options.lengths[${b}]`, l[b], 0, T)
    }
    for (let b = 0; b < this.batch; ++b)
      if (this.#lengths[b]! + count[b]! > 2 ** 31 - 1)
        throw new SparsekitError(
          'ERR_SK_OUT_OF_MEMORY',
          `Expected at most 2^31 - 1 tokens in sequence ${b} but this append would make ${this.#lengths[b]! + count[b]!}`,
        )
    const args = { inType: dtypeId(k.type), seq: T, kStrides: strides4(kd), vStrides: strides4(v.dims) }
    const backend = this.#backend as KvBinding<unknown>
    // Reserves the pages now (throws synchronously when they cannot be had), then queues the writes.
    const pending = callNativeSync(() => backend.kvAppend(handle, bufferOf(ks), bufferOf(vs), count, args))
    for (let b = 0; b < this.batch; ++b) this.#lengths[b]! += count[b]!
    return callNative(() => pending)
  }

  /**
   * Frees the pages now (once work already queued on the cache has finished).
   * Idempotent; later appends and decodes throw ERR_SK_DISPOSED.
   * @example
   * ```ts
   * cache.dispose() // cache.disposed === true
   * ```
   */
  dispose(): void {
    if (this.#handle === null) return
    const h = this.#handle
    this.#handle = null
    this.#backend.kvRelease(h)
  }

  /** Same as {@link dispose}, for `using cache = ...`. */
  [Symbol.dispose](): void {
    this.dispose()
  }

  /** The native handle, or ERR_SK_DISPOSED. @internal */
  _handle(): KvHandle {
    if (this.#handle === null)
      throw new SparsekitError('ERR_SK_DISPOSED', 'Expected a live KVCache but received a disposed one')
    return this.#handle
  }

  /** The backend and parsed device. @internal */
  _backend(): { backend: KvBinding<unknown>; device: Device } {
    return { backend: this.#backend as KvBinding<unknown>, device: this.#device }
  }
}
