/**
 * Element types, their storage and their ids in the native addons.
 * @module
 */
import { types } from 'node:util'

import { dtypeError } from './errors.js'

/**
 * Element types. Names follow onnxruntime-common where it has them.
 * @example
 * ```ts
 * const t: sk.DType = 'bfloat16'
 * ```
 */
export type DType = 'float32' | 'float16' | 'bfloat16' | 'float8e4m3fn' | 'float8e5m2' | 'int8' | 'uint8' | 'int32'

/** The TypedArray that holds each type's bits. 16-bit floats are raw `Uint16Array` bits (Node 20 has no Float16Array). */
export interface DataTypeMap {
  /** IEEE binary32 values. */
  float32: Float32Array
  /** IEEE binary16 bits. */
  float16: Uint16Array
  /** bfloat16 bits (the top half of a float32). */
  bfloat16: Uint16Array
  /** OCP FP8 E4M3FN bits (no infinities, NaN = 0x7F / 0xFF). */
  float8e4m3fn: Uint8Array
  /** OCP FP8 E5M2 bits. */
  float8e5m2: Uint8Array
  /** Signed bytes. */
  int8: Int8Array
  /** Unsigned bytes. */
  uint8: Uint8Array
  /** Signed 32-bit integers. */
  int32: Int32Array
}

/** Any TypedArray sparsekit stores data in. */
export type TensorData = DataTypeMap[DType]

type ArrayCtor = {
  new (buffer: ArrayBufferLike, byteOffset?: number, length?: number): TensorData
  new (length: number): TensorData
  BYTES_PER_ELEMENT: number
}

interface DTypeInfo {
  readonly id: number // csrc/core/dtype.h
  readonly bytes: number
  readonly array: ArrayCtor
  readonly float: boolean
  /** Whether a value is the TypedArray kind that holds the type, from any realm. */
  readonly holds: (v: unknown) => boolean
}

const INFO: Record<DType, DTypeInfo> = {
  float32: { id: 0, bytes: 4, array: Float32Array as unknown as ArrayCtor, float: true, holds: types.isFloat32Array },
  float16: { id: 1, bytes: 2, array: Uint16Array as unknown as ArrayCtor, float: true, holds: types.isUint16Array },
  bfloat16: { id: 2, bytes: 2, array: Uint16Array as unknown as ArrayCtor, float: true, holds: types.isUint16Array },
  float8e4m3fn: { id: 3, bytes: 1, array: Uint8Array as unknown as ArrayCtor, float: true, holds: types.isUint8Array },
  float8e5m2: { id: 4, bytes: 1, array: Uint8Array as unknown as ArrayCtor, float: true, holds: types.isUint8Array },
  int8: { id: 5, bytes: 1, array: Int8Array as unknown as ArrayCtor, float: false, holds: types.isInt8Array },
  uint8: { id: 6, bytes: 1, array: Uint8Array as unknown as ArrayCtor, float: false, holds: types.isUint8Array },
  int32: { id: 7, bytes: 4, array: Int32Array as unknown as ArrayCtor, float: false, holds: types.isInt32Array },
}

/**
 * Every supported type, in id order.
 * @example
 * ```ts
 * for (const t of sk.DTYPES) console.log(t, sk.dtypeBytes(t))
 * ```
 */
export const DTYPES: readonly DType[] = Object.keys(INFO) as DType[]

/**
 * Whether `t` names a supported type.
 * @example
 * ```ts
 * sk.isDType('float8e4m3fn') // true
 * sk.isDType('float64')      // false
 * ```
 */
export function isDType(t: unknown): t is DType {
  return typeof t === 'string' && Object.hasOwn(INFO, t)
}

/** Throws ERR_SK_DTYPE unless `t` is a supported type. @internal */
export function checkDType(name: string, t: unknown): DType {
  if (!isDType(t)) throw dtypeError(name, `one of ${DTYPES.join(', ')}`, t)
  return t
}

/**
 * Bytes per element.
 * @throws ERR_SK_DTYPE for a name that is not a supported type.
 * @example
 * ```ts
 * sk.dtypeBytes('bfloat16') // 2
 * ```
 */
export const dtypeBytes = (t: DType): number => INFO[checkDType('type', t)].bytes
/** The addons' numeric id. @internal */
export const dtypeId = (t: DType): number => INFO[t].id
/** Whether the type is a floating-point one. */
export const isFloatType = (t: DType): boolean => INFO[t].float
/** The TypedArray constructor that holds the type. @internal */
export const arrayCtor = (t: DType): ArrayCtor => INFO[t].array

/** Whether `data` is the TypedArray kind that holds type `t` (Uint8Array also holds FP8, Uint16Array the 16-bit floats). */
export function arrayHolds(t: DType, data: ArrayBufferView): boolean {
  return INFO[t].holds(data)
}

/** The type a TypedArray holds when no type is given. @internal */
export function defaultTypeOf(data: ArrayBufferView): DType | undefined {
  return (['float32', 'int32', 'int8', 'uint8', 'float16'] as const).find((t) => INFO[t].holds(data))
}
