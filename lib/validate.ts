/**
 * Argument checks shared by every public function. Each throws a
 * SparsekitError in the one message shape of lib/errors.ts.
 * @internal
 * @module
 */
import { invalidArgument, shapeError } from './errors.js'

/** Largest rank sparsekit accepts; deeper shapes are almost always a bug. */
export const kMaxRank = 16

export const is = {
  integer: (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v),
  plainObject: (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v),
  typedArray: (v: unknown): v is ArrayBufferView => ArrayBuffer.isView(v) && !(v instanceof DataView),
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

/** An options object (or undefined → {}); rejects keys it does not know. */
export function checkOptions<K extends string>(name: string, v: unknown, keys: readonly K[]): Partial<Record<K, unknown>> {
  if (v === undefined) return {}
  if (!is.plainObject(v)) throw invalidArgument(name, 'an options object', v)
  for (const k of Object.keys(v))
    if (!(keys as readonly string[]).includes(k)) throw invalidArgument(name, `only the options ${keys.join(', ')}`, k)
  return v as Partial<Record<K, unknown>>
}

/**
 * Dims: an array of non-negative safe integers whose product times the element
 * size stays a safe integer. Returns a frozen copy and the element count.
 */
export function checkDims(name: string, dims: unknown, elementBytes: number): { dims: readonly number[]; size: number } {
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
