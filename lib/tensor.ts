/**
 * The Tensor: dense data of one dtype on one device. Field names follow
 * onnxruntime-common's Tensor (`type`, `dims`, `data`, `size`, `location`),
 * so a CPU tensor can be fed to an onnxruntime-node session as it is.
 * @module
 */
import { constants as bufferConstants } from 'node:buffer'

import { type DeviceName, type Device, deviceName, parseDevice } from './device.js'
import { arrayCtor, checkDType, type DType, dtypeBytes, dtypeId, type TensorData } from './dtype.js'
import { allocating, callNative, callNativeSync, deviceError, invalidArgument, SparsekitError } from './errors.js'
import { type Held, track, untrack } from './memory.js'
import { cpuBinding, cudaBinding, type CudaBinding, type DeviceBuffer, type HostBlock } from './native.js'
import { checkBool, checkOptions } from './validate.js'

/** Where a tensor's data lives; `'none'` once disposed (as in onnxruntime-common). */
export type Location = 'cpu' | 'cuda' | 'none'

/** @internal */
export type Storage =
  { kind: 'cpu'; data: TensorData; block?: HostBlock } | { kind: 'cuda'; index: number; buffer: DeviceBuffer }

const kBrand = Symbol.for('sparsekit.tensor')

/** Options of {@link Tensor.cast}. */
export interface CastOptions {
  /**
   * FP8 targets only. `true` (default): overflow and ±Inf become ±max finite
   * (CUDA's satfinite). `false`: overflow becomes NaN (float8e4m3fn) or ±Inf (float8e5m2).
   */
  saturate?: boolean
}

let storageOf: (t: Tensor) => Storage | null

/**
 * A dense tensor on the CPU or a CUDA device. Create one with {@link tensor},
 * {@link zeros} or {@link randn}; free it with `dispose()` or a `using` declaration.
 *
 * @example
 * ```ts
 * using t = sk.tensor(new Float32Array([1, 2, 3, 4]), [2, 2])
 * using h = await t.cast('float16')
 * console.log(h.type, h.dims, h.data) // float16 [2, 2] Uint16Array [15360, 16384, 16896, 17408]
 * ```
 */
export class Tensor {
  /** Element type. */
  readonly type: DType
  /** Shape. */
  readonly dims: readonly number[]
  /** Number of elements. */
  readonly size: number
  #storage: Storage | null
  readonly #held: Held
  // Host-to-device copies reading this tensor's sparsekit-owned CPU memory.
  // The CUDA addon cannot hold a reference on the CPU addon's blocks, so
  // dispose() leaves the free to the last of these copies.
  #deviceReads = 0
  #freeWhenRead: (() => void) | null = null
  readonly #device: string

  static {
    storageOf = (t) => t.#storage
  }

  /**
   * A brand check, not a prototype walk: an object made with
   * `Object.create(Tensor.prototype)` is no tensor (it has no storage).
   */
  static [Symbol.hasInstance](v: unknown): v is Tensor {
    return typeof v === 'object' && v !== null && #storage in v
  }

  /** @internal Use the factories; this does no validation. */
  constructor(type: DType, dims: readonly number[], size: number, storage: Storage) {
    this.type = type
    this.dims = dims
    this.size = size
    this.#storage = storage
    this.#device = storage.kind === 'cpu' ? 'cpu' : `cuda:${storage.index}`
    this.#held = {
      device: this.#device,
      bytes: size * dtypeBytes(type),
      buffer: storage.kind === 'cuda' ? storage.buffer : undefined,
    }
    track(this, this.#held, this)
    Object.defineProperty(this, kBrand, { value: true })
  }

  /** `'cpu'`, `'cuda'`, or `'none'` after dispose(). */
  get location(): Location {
    return this.#storage === null ? 'none' : this.#storage.kind
  }

  /** The device name: `'cpu'` or `'cuda:N'`. */
  get device(): DeviceName {
    return this.#device as DeviceName
  }

  /** Whether dispose() has been called. */
  get disposed(): boolean {
    return this.#storage === null
  }

  /** tfjs-style alias of {@link dims}. */
  get shape(): readonly number[] {
    return this.dims
  }

  /** tfjs / transformers.js-style alias of {@link type}. */
  get dtype(): DType {
    return this.type
  }

  /**
   * The CPU data, without a copy: a TypedArray of the type's storage kind
   * (Uint16Array for float16 / bfloat16 bits, Uint8Array for FP8).
   * @throws ERR_SK_DEVICE on a CUDA tensor (use `await getData()`), ERR_SK_DISPOSED after dispose().
   */
  get data(): TensorData {
    const s = liveStorage(this, 'tensor')
    if (s.kind !== 'cpu')
      throw new SparsekitError(
        'ERR_SK_DEVICE',
        `Tensor data lives on ${this.#device}; use await t.getData() to copy it to the CPU`,
      )
    return s.data
  }

  /**
   * The data as a CPU TypedArray: the tensor's own array on the CPU, a copy from a device.
   * @param release - dispose the tensor afterwards (its CPU array stays valid only if it was wrapped user memory).
   * @throws ERR_SK_DISPOSED after dispose() (at once, as every argument error).
   * @example
   * ```ts
   * const values = await t.getData()
   * ```
   */
  getData(release = false): Promise<TensorData> {
    const s = liveStorage(this, 'tensor')
    if (s.kind === 'cpu') return Promise.resolve(s.data)
    const out = allocating(`a host copy of ${this.size} elements`, () => new (arrayCtor(this.type))(this.size))
    return callNative(() => cudaFor(s.index).copyToHost(s.buffer, out, this.size * dtypeBytes(this.type))).then(() => {
      if (release) this.dispose()
      return out
    })
  }

  /**
   * Copies the tensor to another device; returns this tensor if it is already there.
   * @param device - `'cpu'`, `'cuda'` or `'cuda:N'`.
   * @throws ERR_SK_DEVICE for an unknown or unavailable device, ERR_SK_DISPOSED after dispose() (at once, as every argument error).
   * @example
   * ```ts
   * const g = await t.to('cuda')
   * ```
   */
  to(device: DeviceName): Promise<Tensor> {
    const s = liveStorage(this, 'tensor')
    const target = parseDevice('device', device)
    if (deviceName(target) === this.#device) return Promise.resolve(this)
    const out = empty(this.type, this.dims, this.size, target)
    return filling(out, () => this.#copyInto(s, out))
  }

  async #copyInto(s: Storage, out: Tensor): Promise<void> {
    const bytes = this.size * dtypeBytes(this.type)
    const o = storageOf(out)!
    if (s.kind === 'cpu' && o.kind === 'cuda') {
      this.#deviceReads += 1
      try {
        await callNative(() => cudaFor(o.index).copyToDevice(s.data, o.buffer, bytes))
      } finally {
        if (--this.#deviceReads === 0) this.#freeWhenRead?.()
      }
    } else if (s.kind === 'cuda' && o.kind === 'cpu') {
      await callNative(() => cudaFor(s.index).copyToHost(s.buffer, o.data, bytes))
    } else if (s.kind === 'cuda' && o.kind === 'cuda') {
      // Between two GPUs through the host: correct everywhere, peer access not assumed.
      const host = (await this.getData()) as TensorData
      await callNative(() => cudaFor(o.index).copyToDevice(host, o.buffer, bytes))
    }
  }

  /**
   * Converts to another dtype on the tensor's device, bit-exact on every device:
   * round to nearest even; float16 / bfloat16 overflow to ±Inf; FP8 per `saturate`;
   * float → int rounds to nearest even, saturates, and maps NaN to 0. See docs/formats.md.
   * @param type - the target dtype.
   * @param options - `{ saturate }`, default `true`.
   * @throws ERR_SK_DTYPE for an unknown type, ERR_SK_INVALID_ARGUMENT for a bad option, ERR_SK_DISPOSED after dispose()
   *   (at once, as every argument error).
   * @example
   * ```ts
   * const f8 = await t.cast('float8e4m3fn', { saturate: false })
   * ```
   */
  cast(type: DType, options?: CastOptions): Promise<Tensor> {
    const s = liveStorage(this, 'tensor')
    checkDType('type', type)
    const opts = checkOptions('options', options, ['saturate'] as const)
    const saturate = checkBool('options.saturate', opts.saturate, true)
    const out = empty(type, this.dims, this.size, s.kind === 'cpu' ? { kind: 'cpu' } : { kind: 'cuda', index: s.index })
    const o = storageOf(out)!
    return filling(out, () =>
      s.kind === 'cpu' && o.kind === 'cpu'
        ? callNative(() => cpuBinding().cast(s.data, dtypeId(this.type), o.data, dtypeId(type), this.size, saturate))
        : s.kind === 'cuda' && o.kind === 'cuda'
          ? callNative(() =>
              cudaFor(s.index).cast(s.buffer, dtypeId(this.type), o.buffer, dtypeId(type), this.size, saturate),
            )
          : Promise.resolve(),
    )
  }

  /**
   * Frees the tensor's memory now (sparsekit-owned CPU memory and device
   * memory; a wrapped user TypedArray is only released). Idempotent. Work
   * already queued on the tensor finishes safely first.
   * @example
   * ```ts
   * const t = sk.zeros([1 << 20])
   * t.dispose() // t.location === 'none'
   * ```
   */
  dispose(): void {
    const s = this.#storage
    if (s === null) return
    this.#storage = null
    untrack(this.#held, this)
    if (s.kind === 'cpu' && s.block) {
      const block = s.block
      const free = () => cpuBinding().release(block.buffer, block.handle)
      if (this.#deviceReads > 0) this.#freeWhenRead = free
      else free()
    }
    if (s.kind === 'cuda') s.buffer.free()
  }

  /** Same as {@link dispose}, for `using t = ...`. */
  [Symbol.dispose](): void {
    this.dispose()
  }

  /** `Tensor(float32, [2, 3], cpu)`. */
  toString(): string {
    return `Tensor(${this.type}, [${this.dims.join(', ')}], ${this.location === 'none' ? 'disposed' : this.#device})`
  }
}

/**
 * Whether `v` is a sparsekit Tensor (from any copy of the package: the check
 * uses a global symbol, not `instanceof`).
 * @example
 * ```ts
 * if (sk.isTensor(x)) console.log(x.dims)
 * ```
 */
export function isTensor(v: unknown): v is Tensor {
  return typeof v === 'object' && v !== null && (v as Record<symbol, unknown>)[kBrand] === true
}

/**
 * The live storage of a tensor argument, or a SparsekitError naming it.
 * @internal
 */
export function liveStorage(t: unknown, name: string): Storage {
  if (!(t instanceof Tensor)) throw invalidArgument(name, 'a sparsekit Tensor', t)
  const s = storageOf(t)
  if (s === null)
    throw new SparsekitError('ERR_SK_DISPOSED', `Expected a live tensor for ${name} but received a disposed one`)
  return s
}

function cudaFor(index: number): CudaBinding {
  const cuda = cudaBinding()
  if (!cuda) throw deviceError('device', 'an available CUDA device', `cuda:${index}`)
  return cuda
}

/**
 * Throws ERR_SK_OUT_OF_MEMORY when `bytes` cannot be one ArrayBuffer (Node caps
 * them at buffer.constants.MAX_LENGTH, 4 GiB on Node 20); the addon must never
 * be asked for such a block.
 * @internal
 */
export function checkHostBytes(bytes: number): void {
  if (bytes > bufferConstants.MAX_LENGTH)
    throw new SparsekitError(
      'ERR_SK_OUT_OF_MEMORY',
      `Expected at most ${bufferConstants.MAX_LENGTH} bytes (Node's ArrayBuffer limit) for a CPU tensor but received ${bytes}`,
    )
}

/** Allocates sparsekit-owned CPU memory for `size` elements of `type`. @internal */
export function hostTensor(type: DType, dims: readonly number[], size: number, zero: boolean): Tensor {
  const bytes = size * dtypeBytes(type)
  checkHostBytes(bytes)
  const block = callNativeSync(() => cpuBinding().alloc(bytes, zero))
  const data = new (arrayCtor(type))(block.buffer, 0, size)
  return new Tensor(type, dims, size, { kind: 'cpu', data, block })
}

/**
 * An uninitialized tensor (outputs of ops), or zeros when `zero` is set.
 * @internal
 */
export function empty(type: DType, dims: readonly number[], size: number, device: Device, zero = false): Tensor {
  if (device.kind === 'cpu') return hostTensor(type, dims, size, zero)
  const bytes = size * dtypeBytes(type)
  const cuda = cudaFor(device.index)
  const buffer = callNativeSync(() => cuda.alloc(device.index, bytes))
  if (zero) callNativeSync(() => cuda.zero(buffer, bytes))
  return new Tensor(type, dims, size, { kind: 'cuda', index: device.index, buffer })
}

/**
 * Runs `run`, which queues the op that writes `out`, and resolves to `out`
 * once the op has finished. `out` is disposed when `run` throws (the error is
 * then thrown at once, as argument errors are) or when the op rejects.
 * @internal
 */
export function filling<T extends Tensor>(out: T, run: () => Promise<unknown>): Promise<T> {
  let done: Promise<unknown>
  try {
    done = run()
  } catch (err) {
    out.dispose()
    throw err
  }
  return done.then(
    () => out,
    (err: unknown) => {
      out.dispose()
      throw err
    },
  )
}
