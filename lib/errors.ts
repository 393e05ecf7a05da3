/**
 * Errors: one class, stable codes, one message shape
 * ("Expected <what> for <name> but received <value> (<type>)").
 * @module
 */
import { types } from 'node:util'

/** Stable error codes; match `csrc/core/status.h`. */
export type ErrorCode =
  | 'ERR_SK_INVALID_ARGUMENT'
  | 'ERR_SK_SHAPE'
  | 'ERR_SK_DTYPE'
  | 'ERR_SK_DEVICE'
  | 'ERR_SK_OUT_OF_MEMORY'
  | 'ERR_SK_UNSUPPORTED'
  | 'ERR_SK_DISPOSED'
  | 'ERR_SK_NATIVE_LOAD'

const CODES: ReadonlySet<string> = new Set<ErrorCode>([
  'ERR_SK_INVALID_ARGUMENT',
  'ERR_SK_SHAPE',
  'ERR_SK_DTYPE',
  'ERR_SK_DEVICE',
  'ERR_SK_OUT_OF_MEMORY',
  'ERR_SK_UNSUPPORTED',
  'ERR_SK_DISPOSED',
  'ERR_SK_NATIVE_LOAD',
])

/**
 * The only error sparsekit throws or rejects with. Check `code`, not the message.
 *
 * @example
 * ```ts
 * try { sk.zeros([-1]) } catch (e) {
 *   if (e instanceof sk.SparsekitError && e.code === 'ERR_SK_SHAPE') console.log(e.message)
 * }
 * ```
 */
export class SparsekitError extends Error {
  /** Stable, machine-readable code. */
  readonly code: ErrorCode
  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.name = 'SparsekitError'
    this.code = code
  }
}

/**
 * Renders a received value for an error message: `48.5 (number)`, `[2, -1] (array)`.
 * Never throws, whatever the value: a detached array, an object without a
 * prototype, a Proxy, a getter that throws.
 */
export function describe(value: unknown): string {
  try {
    if (value === null || value === undefined) return String(value)
    if (Array.isArray(value)) {
      const shown = value.slice(0, 8).map(brief).join(', ')
      return `[${value.length > 8 ? shown + ', …' : shown}] (array)`
    }
    if (types.isTypedArray(value)) return brief(value)
    if (typeof value === 'string') return `'${value.length > 40 ? value.slice(0, 40) + '…' : value}' (string)`
    if (typeof value === 'function') return 'a function'
    return `${brief(value)} (${typeof value})`
  } catch {
    return `a value that cannot be shown (${typeof value})`
  }
}

/** One value, short: a primitive as it prints, a TypedArray as `Float32Array(4)`, another object by its class. */
function brief(value: unknown): string {
  if (typeof value === 'function') return 'a function'
  if (value === null || typeof value !== 'object') return typeof value === 'symbol' ? value.toString() : String(value)
  if (types.isProxy(value)) return 'Proxy'
  if (Array.isArray(value)) return 'array'
  const ctor = (Object.getPrototypeOf(value) as { constructor?: { name?: unknown } } | null)?.constructor
  const name = typeof ctor?.name === 'string' && ctor.name !== '' ? ctor.name : 'Object'
  return types.isTypedArray(value) ? `${name}(${(value as { length?: unknown }).length})` : name
}

function expected(code: ErrorCode, name: string, what: string, received: unknown): SparsekitError {
  return new SparsekitError(code, `Expected ${what} for ${name} but received ${describe(received)}`)
}

/** `Expected <what> for <name> but received <value>` with ERR_SK_INVALID_ARGUMENT. */
export const invalidArgument = (name: string, what: string, received: unknown) =>
  expected('ERR_SK_INVALID_ARGUMENT', name, what, received)
/** Same message shape with ERR_SK_SHAPE. */
export const shapeError = (name: string, what: string, received: unknown) =>
  expected('ERR_SK_SHAPE', name, what, received)
/** Same message shape with ERR_SK_DTYPE. */
export const dtypeError = (name: string, what: string, received: unknown) =>
  expected('ERR_SK_DTYPE', name, what, received)
/** Same message shape with ERR_SK_DEVICE. */
export const deviceError = (name: string, what: string, received: unknown) =>
  expected('ERR_SK_DEVICE', name, what, received)

/**
 * Runs a JS allocation sized by the caller's arguments: V8 reports a failed
 * one as a RangeError, which becomes ERR_SK_OUT_OF_MEMORY naming `what`.
 * @internal
 */
export function allocating<T>(what: string, alloc: () => T): T {
  try {
    return alloc()
  } catch (err) {
    if (!(err instanceof RangeError)) throw err
    throw new SparsekitError('ERR_SK_OUT_OF_MEMORY', `Could not allocate ${what}: ${err.message}`, { cause: err })
  }
}

/**
 * Converts an error thrown by native code (an Error with a string `code`) to a
 * SparsekitError whose stack starts at the caller of `above` (a function on
 * the current stack): for an awaited call, V8's async frames lead to user code.
 * @internal
 */
export function fromNative(err: unknown, above: (...args: never[]) => unknown): SparsekitError {
  if (err instanceof SparsekitError) return err
  const native = err as { code?: unknown; message?: unknown }
  const code =
    typeof native?.code === 'string' && CODES.has(native.code) ? (native.code as ErrorCode) : 'ERR_SK_UNSUPPORTED'
  const message = typeof native?.message === 'string' ? native.message : String(err)
  const out = new SparsekitError(code, message, { cause: err })
  Error.captureStackTrace(out, above)
  return out
}

/**
 * Runs a native call that returns a Promise (or throws at once) and maps both
 * kinds of failure through {@link fromNative}. A native check that fails
 * before the work is queued throws here, synchronously, as the TS checks do;
 * only a failure while the work runs rejects. The stack is taken when a call
 * fails, not before every call: an `Error` made up front costs a noticeable
 * share of a small op's overhead (bench/results/tuning-notes.md).
 * @internal
 */
export function callNative<T>(fn: () => Promise<T>): Promise<T> {
  let pending: Promise<T>
  try {
    pending = fn()
  } catch (err) {
    throw fromNative(err, callNative)
  }
  return settled(pending)
}

async function settled<T>(pending: Promise<T>): Promise<T> {
  try {
    return await pending
  } catch (err) {
    throw fromNative(err, settled)
  }
}

/** Like {@link callNative} for synchronous native calls. @internal */
export function callNativeSync<T>(fn: () => T): T {
  try {
    return fn()
  } catch (err) {
    throw fromNative(err, callNativeSync)
  }
}
