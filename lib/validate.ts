/**
 * Argument checks shared by every public function. Each throws a
 * SparsekitError in the one message shape of lib/errors.ts.
 * @internal
 * @module
 */
import { types } from 'node:util'

import { invalidArgument, shapeError } from './errors.js'

/** Largest rank sparsekit accepts; deeper shapes are almost always a bug. */
export const kMaxRank = 16

// Kinds are tested with node:util's type checks, never `instanceof`: an array
// or buffer made in another realm (a vm context) has other constructors, and
// an `instanceof` check would let it skip the checks meant for its kind.
export const is = {
  integer: (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v),
  plainObject: (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v),
  typedArray: (v: unknown): v is ArrayBufferView => types.isTypedArray(v),
  uint8Array: (v: unknown): v is Uint8Array => types.isUint8Array(v),
  int32Array: (v: unknown): v is Int32Array => types.isInt32Array(v),
  uint16Array: (v: unknown): v is Uint16Array => types.isUint16Array(v),
}

// The intrinsic getters: own properties of an array (`buffer`, `length`
// defined on it) or a foreign realm's prototype cannot change what they read.
const getter = (proto: object, key: string) => Object.getOwnPropertyDescriptor(proto, key)?.get
const typedArrayProto = Object.getPrototypeOf(Uint8Array.prototype) as object
const typedBuffer = getter(typedArrayProto, 'buffer')!
const typedLength = getter(typedArrayProto, 'length')!
const arrayBufferResizable = getter(ArrayBuffer.prototype, 'resizable')
const sharedGrowable = getter(SharedArrayBuffer.prototype, 'growable')

/** A TypedArray's element count, read through the intrinsic getter (0 once its buffer is detached). */
export const lengthOf = (v: ArrayBufferView): number => typedLength.call(v) as number

/**
 * A TypedArray's buffer and what ops need to know of it, from any realm:
 * `shared` (a SharedArrayBuffer) and `resizable` (a resizable ArrayBuffer or a
 * growable SharedArrayBuffer).
 */
export function bufferOf(v: ArrayBufferView): { buffer: ArrayBufferLike; shared: boolean; resizable: boolean } {
  const buffer = typedBuffer.call(v) as ArrayBufferLike
  const shared = types.isSharedArrayBuffer(buffer)
  const resizable = shared ? sharedGrowable?.call(buffer) === true : arrayBufferResizable?.call(buffer) === true
  return { buffer, shared, resizable }
}

/** An integer in [min, max]. */
export function checkInt(name: string, v: unknown, min: number, max: number): number {
  if (!is.integer(v) || v < min || v > max) throw invalidArgument(name, `an integer between ${min} and ${max}`, v)
  return v
}

/** A boolean, or the default when undefined. */
export function checkBool(name: string, v: unknown, dflt: boolean): boolean {
  if (v === undefined) return dflt
  if (typeof v !== 'boolean') throw invalidArgument(name, 'a boolean', v)
  return v
}

/**
 * An options object (or undefined → {}); rejects keys it does not know.
 * Returns a copy of its own properties, each read once: what was checked is
 * what is used, and nothing inherited (a class's getters) is read.
 */
export function checkOptions<K extends string>(
  name: string,
  v: unknown,
  keys: readonly K[],
): Partial<Record<K, unknown>> {
  if (v === undefined) return {}
  if (!is.plainObject(v)) throw invalidArgument(name, 'an options object', v)
  for (const k of Object.keys(v))
    if (!(keys as readonly string[]).includes(k)) throw invalidArgument(name, `only the options ${keys.join(', ')}`, k)
  const own: Partial<Record<K, unknown>> = {}
  for (const k of keys) if (Object.hasOwn(v, k)) own[k] = (v as Record<K, unknown>)[k]
  return own
}

/**
 * Dims: an array of non-negative safe integers whose product times the element
 * size stays a safe integer. Returns a frozen copy and the element count.
 */
export function checkDims(
  name: string,
  dims: unknown,
  elementBytes: number,
): { dims: readonly number[]; size: number } {
  if (!Array.isArray(dims)) throw shapeError(name, 'an array of non-negative integers', dims)
  if (dims.length > kMaxRank) throw shapeError(name, `at most ${kMaxRank} dims`, dims)
  let size = 1
  for (const d of dims) {
    if (!is.integer(d) || d < 0) throw shapeError(name, 'an array of non-negative integers', dims)
    size *= d
  }
  if (!Number.isSafeInteger(size * elementBytes)) throw shapeError(name, `dims whose size in bytes fits in 2^53`, dims)
  return { dims: Object.freeze([...dims]), size }
}
