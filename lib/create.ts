/**
 * Creating tensors: from TypedArrays (zero-copy), number arrays, tensors of
 * other JS ML libraries (onnxruntime, transformers.js, tfjs), zeros and
 * seeded normal samples.
 * @module
 */
import { markAsUntransferable } from 'node:worker_threads'

import { type DeviceName, parseDevice } from './device.js'
import {
  arrayHolds,
  checkDType,
  type DType,
  defaultTypeOf,
  dtypeBytes,
  dtypeId,
  isFloatType,
  type TensorData,
} from './dtype.js'
import {
  allocating,
  callNativeSync,
  deviceError,
  dtypeError,
  invalidArgument,
  shapeError,
  SparsekitError,
} from './errors.js'
import { cpuBinding, cudaBinding } from './native.js'
import { fillRandn } from './random.js'
import { checkHostBytes, empty, hostTensor, isTensor, liveStorage, Tensor } from './tensor.js'
import { bufferOf, checkDims, checkInt, checkOptions, is, lengthOf } from './validate.js'

/**
 * Any tensor-shaped object: onnxruntime-common and transformers.js tensors
 * (`type`, `dims`, `data`) and tfjs tensors (`dtype`, `shape`, `dataSync()`).
 */
export interface TensorLike {
  /** The dtype name (onnxruntime-common, transformers.js). */
  type?: string
  /** The dtype name (tfjs); tfjs `bool` is taken as uint8. */
  dtype?: string
  /** The shape (onnxruntime-common, transformers.js). */
  dims?: readonly number[]
  /** The shape (tfjs). */
  shape?: readonly number[]
  /** The values: a TypedArray of the dtype's storage kind. */
  data?: unknown
  /** tfjs: returns the values synchronously. */
  dataSync?: () => unknown
  /** Where the data lives; only `'cpu'` or `'cpu-pinned'` are accepted. */
  location?: string
  /** Element count (onnxruntime-common, transformers.js); not needed, checked against the data. */
  size?: number
}

const kIntRange: Partial<Record<DType, [number, number]>> = {
  int8: [-128, 127],
  uint8: [0, 255],
  int32: [-2147483648, 2147483647],
}

/** tfjs names a few types differently; its bool data is a Uint8Array of 0/1. */
const kForeignTypes: Record<string, DType> = { bool: 'uint8' }

function fromTypedArray(data: ArrayBufferView, dims: unknown, type: unknown): Tensor {
  const t: DType = type === undefined ? (defaultTypeOf(data) ?? fail()) : checkDType('type', type)
  function fail(): never {
    throw dtypeError('data', 'a Float32Array, Uint16Array, Uint8Array, Int8Array or Int32Array', data)
  }
  if (!arrayHolds(t, data)) throw dtypeError('data', `the TypedArray that holds ${t} (${storageName(t)})`, data)
  // Ops read the memory later, on another thread: it must not shrink or be
  // shared under them. The checks hold for a buffer of any realm (a vm context's too).
  const { buffer, shared, resizable } = bufferOf(data)
  if (shared || resizable)
    throw invalidArgument(
      'data',
      'a TypedArray over a fixed-length ArrayBuffer (not a SharedArrayBuffer or a resizable one)',
      data,
    )
  // A queued op must never lose this memory to a transfer (postMessage or
  // structuredClone with a transfer list): marked untransferable, the buffer is
  // copied instead of moved, as Node does for its pooled Buffers.
  markAsUntransferable(buffer)
  const n = lengthOf(data)
  const shape = checkDims('dims', dims ?? [n], dtypeBytes(t))
  if (shape.size !== n) throw shapeError('dims', `dims whose product is the data length ${n}`, dims)
  return new Tensor(t, shape.dims, n, { kind: 'cpu', data: data as TensorData })
}

function storageName(t: DType): string {
  return t === 'float16' || t === 'bfloat16'
    ? 'Uint16Array of raw bits'
    : t.startsWith('float8')
      ? 'Uint8Array of raw bits'
      : `${t} array`
}

function fromNumbers(values: unknown[], dims: unknown, type: unknown): Tensor {
  const t: DType = type === undefined ? 'float32' : checkDType('type', type)
  const shape = checkDims('dims', dims ?? [values.length], dtypeBytes(t))
  if (shape.size !== values.length)
    throw shapeError('dims', `dims whose product is the data length ${values.length}`, dims)
  const range = kIntRange[t]
  for (let i = 0; i < values.length; ++i) {
    const v = values[i]
    if (typeof v !== 'number') throw invalidArgument(`data[${i}]`, 'a number', v)
    if (range && (!Number.isInteger(v) || v < range[0] || v > range[1]))
      throw invalidArgument(`data[${i}]`, `an integer between ${range[0]} and ${range[1]} for ${t}`, v)
  }
  const out = hostTensor(t, shape.dims, values.length, false)
  if (!isFloatType(t) || t === 'float32') {
    out.data.set(values as number[])
  } else {
    // Narrow floats: round once from float32 with the same kernel as cast(),
    // on the calling thread (the array is the caller's literal data).
    const f32 = allocating(`${values.length} float32 values`, () => Float32Array.from(values as number[]))
    callNativeSync(() => cpuBinding().castSync(f32, dtypeId('float32'), out.data, dtypeId(t), f32.length, true))
  }
  return out
}

function fromTensorLike(obj: TensorLike, dims: unknown, type: unknown): Tensor {
  if (!('data' in obj) && typeof obj.dataSync !== 'function')
    throw invalidArgument('data', 'a TypedArray, an array of numbers or a tensor-like object', obj)
  if (obj.location !== undefined && obj.location !== 'cpu' && obj.location !== 'cpu-pinned')
    throw deviceError('data.location', "'cpu' or 'cpu-pinned' (a CPU tensor)", obj.location)
  const rawType = obj.type ?? obj.dtype
  const foreign =
    typeof rawType === 'string' && Object.hasOwn(kForeignTypes, rawType) ? kForeignTypes[rawType] : rawType
  const own = checkDType('data.type', foreign)
  if (type !== undefined && checkDType('type', type) !== own)
    throw dtypeError('type', `${own} (the tensor's own type)`, type)
  // tfjs tensors expose data() as an async method and dataSync() as the array.
  const data = typeof obj.data === 'function' && typeof obj.dataSync === 'function' ? obj.dataSync() : obj.data
  if (!is.typedArray(data)) throw invalidArgument('data.data', 'a TypedArray', data)
  return fromTypedArray(data, dims ?? obj.dims ?? obj.shape, own)
}

/**
 * Creates a CPU tensor.
 *
 * - a TypedArray is wrapped without a copy (its kind must hold the type:
 *   Uint16Array for float16 / bfloat16 bits, Uint8Array for FP8 bits). Its
 *   ArrayBuffer is marked untransferable (`worker_threads.markAsUntransferable`)
 *   so a pending op can never lose its memory: a later transfer copies it;
 *   SharedArrayBuffer and resizable buffers are refused;
 * - an array of numbers is copied (narrow floats are rounded as by `cast`);
 * - any `{ type | dtype, dims | shape, data }` object (onnxruntime,
 *   transformers.js, tfjs tensors) is wrapped without a copy.
 *
 * @param data - the values.
 * @param dims - the shape; default `[data.length]` (or the object's own dims).
 * @param type - the dtype; default from the TypedArray kind (Uint16Array → float16) or float32 for numbers.
 * @throws ERR_SK_SHAPE when dims do not match the data, ERR_SK_DTYPE when the array cannot hold the type,
 *   ERR_SK_INVALID_ARGUMENT for anything that is not tensor data, ERR_SK_DEVICE for a GPU-resident foreign tensor.
 * @example
 * ```ts
 * const a = sk.tensor(new Float32Array(6), [2, 3])        // zero-copy
 * const b = sk.tensor([1, 2, 3, 4], [2, 2], 'bfloat16')     // rounded copy
 * const c = sk.tensor(ortTensor)                            // an onnxruntime-node Tensor
 * ```
 */
export function tensor(
  data: TensorData | readonly number[] | TensorLike,
  dims?: readonly number[],
  type?: DType,
): Tensor {
  // A look-alike inheriting from Tensor.prototype is refused here, before its getters would be read as a tensor-like's fields.
  if (Object.prototype.isPrototypeOf.call(Tensor.prototype, data) && !isTensor(data)) liveStorage(data, 'data')
  if (isTensor(data)) {
    const s = liveStorage(data, 'data')
    if (s.kind !== 'cpu')
      throw new SparsekitError('ERR_SK_DEVICE', 'Expected a CPU tensor for data; use await t.to("cpu") first')
    return fromTypedArray(s.data, dims ?? data.dims, type ?? data.type)
  }
  if (is.typedArray(data)) return fromTypedArray(data, dims, type)
  if (Array.isArray(data)) return fromNumbers(data, dims, type)
  if (is.plainObject(data) || (typeof data === 'object' && data !== null))
    return fromTensorLike(data as TensorLike, dims, type)
  throw invalidArgument('data', 'a TypedArray, an array of numbers or a tensor-like object', data)
}

/**
 * A tensor of zeros.
 * @param dims - the shape.
 * @param type - default `'float32'`.
 * @param device - default `'cpu'`.
 * @throws ERR_SK_SHAPE for bad dims, ERR_SK_DTYPE, ERR_SK_DEVICE, ERR_SK_OUT_OF_MEMORY.
 * @example
 * ```ts
 * using z = sk.zeros([2, 1024], 'bfloat16')
 * ```
 */
export function zeros(dims: readonly number[], type: DType = 'float32', device: DeviceName = 'cpu'): Tensor {
  const t = checkDType('type', type)
  const shape = checkDims('dims', dims, dtypeBytes(t))
  return empty(t, shape.dims, shape.size, parseDevice('device', device), true)
}

/** Options of {@link randn}. */
export interface RandnOptions {
  /** A float type; default `'float32'`. Samples are drawn in float32 and rounded once to it. */
  type?: DType
  /** Any 32-bit unsigned integer; default 0. The same seed gives the same values on every device. */
  seed?: number
  /** Default `'cpu'`. */
  device?: DeviceName
}

/**
 * Standard-normal samples, seeded and identical on every device and ISA
 * (drawn on the host, then rounded to `type` and copied to the device).
 * @throws ERR_SK_SHAPE, ERR_SK_DTYPE (integer types), ERR_SK_DEVICE, ERR_SK_INVALID_ARGUMENT for a bad seed.
 * @example
 * ```ts
 * const q = sk.randn([1, 8, 1024, 64], { type: 'float16', seed: 42 })
 * ```
 */
export function randn(dims: readonly number[], options?: RandnOptions): Tensor {
  const opts = checkOptions('options', options, ['type', 'seed', 'device'] as const)
  const type = checkDType('options.type', opts.type ?? 'float32')
  if (!isFloatType(type)) throw dtypeError('options.type', 'a float type (normal samples are not integers)', type)
  const seed = checkInt('options.seed', opts.seed ?? 0, 0, 0xffffffff)
  const device = parseDevice('options.device', opts.device)
  const shape = checkDims('dims', dims, dtypeBytes(type))
  checkHostBytes(shape.size * 4) // samples are drawn into float32 first
  const f32 = type === 'float32' ? hostTensor('float32', shape.dims, shape.size, false) : undefined
  const samples = f32
    ? (f32.data as Float32Array)
    : allocating(`${shape.size} float32 samples`, () => new Float32Array(shape.size))
  fillRandn(samples, seed)
  let host = f32
  if (!host) {
    host = hostTensor(type, shape.dims, shape.size, false)
    const h = host
    callNativeSync(() => cpuBinding().castSync(samples, dtypeId('float32'), h.data, dtypeId(type), shape.size, true))
  }
  if (device.kind === 'cpu') return host
  const out = empty(type, shape.dims, shape.size, device)
  const s = liveStorage(out, 'out')
  const h = host
  if (s.kind === 'cuda') {
    // The copy is queued on the device's stream now, so every later op there
    // sees the values; the host copy is freed once it has finished. A failed
    // copy means a faulted device, which the next op on it reports.
    cudaBinding()!
      .copyToDevice(h.data, s.buffer, h.size * dtypeBytes(type))
      .catch(() => undefined)
      .finally(() => h.dispose())
  }
  return out
}
