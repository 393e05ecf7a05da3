/**
 * Errors: one class, stable codes, one message shape
 * ("Expected <what> for <name> but received <value> (<type>)").
 * @module
 */

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

/** Renders a received value for an error message: `48.5 (number)`, `[2, -1] (array)`. */
export function describe(value: unknown): string {
  if (value === null) return 'null'
  if (value === undefined) return 'undefined'
  if (Array.isArray(value)) {
    const shown = value.length > 8 ? `[${value.slice(0, 8).map(String).join(', ')}, …]` : `[${value.map(String).join(', ')}]`
    return `${shown} (array)`
  }
  if (ArrayBuffer.isView(value)) return `${value.constructor.name}(${(value as { length?: number }).length ?? value.byteLength})`
  if (typeof value === 'string') return `'${value.length > 40 ? value.slice(0, 40) + '…' : value}' (string)`
  if (typeof value === 'object') return `${(value as object).constructor?.name ?? 'Object'} (object)`
  if (typeof value === 'function') return 'a function'
  return `${String(value)} (${typeof value})`
}

function expected(code: ErrorCode, name: string, what: string, received: unknown): SparsekitError {
  return new SparsekitError(code, `Expected ${what} for ${name} but received ${describe(received)}`)
}

/** `Expected <what> for <name> but received <value>` with ERR_SK_INVALID_ARGUMENT. */
export const invalidArgument = (name: string, what: string, received: unknown) =>
  expected('ERR_SK_INVALID_ARGUMENT', name, what, received)
/** Same message shape with ERR_SK_SHAPE. */
export const shapeError = (name: string, what: string, received: unknown) => expected('ERR_SK_SHAPE', name, what, received)
/** Same message shape with ERR_SK_DTYPE. */
export const dtypeError = (name: string, what: string, received: unknown) => expected('ERR_SK_DTYPE', name, what, received)
/** Same message shape with ERR_SK_DEVICE. */
export const deviceError = (name: string, what: string, received: unknown) => expected('ERR_SK_DEVICE', name, what, received)

/**
 * Converts an error thrown by native code (an Error with a string `code`) to a
 * SparsekitError whose stack starts at the caller of `above` (a function on
 * the current stack): for an awaited call, V8's async frames lead to user code.
 * @internal
 */
export function fromNative(err: unknown, above: (...args: never[]) => unknown): SparsekitError {
  if (err instanceof SparsekitError) return err
  const native = err as { code?: unknown; message?: unknown }
  const code = typeof native?.code === 'string' && CODES.has(native.code) ? (native.code as ErrorCode) : 'ERR_SK_UNSUPPORTED'
  const message = typeof native?.message === 'string' ? native.message : String(err)
  const out = new SparsekitError(code, message, { cause: err })
  Error.captureStackTrace(out, above)
  return out
}

/**
 * Runs a native call that returns a Promise (or throws at once) and maps both
 * kinds of failure through {@link fromNative}. The stack is taken when a call
 * fails, not before every call: an `Error` made up front costs a noticeable
 * share of a small op's overhead (bench/results/tuning-notes.md).
 * @internal
 */
export async function callNative<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn()
  } catch (err) {
    throw fromNative(err, callNative)
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
