// An independent reference for every cast, written from the format
// definitions (docs/formats.md, IEEE 754, the OCP FP8 spec) and not from
// csrc/core/cast_math.h: decoding evaluates (-1)^s·2^(e-bias)·(1+m/2^M) in
// float64, and encoding searches a sorted table of each format's values for
// the two neighbours of the (float64-exact) float32 input, then rounds to the
// nearer one, ties to the even code. Everything works on unsigned storage
// bits: int8 -1 is 0xFF, int32 -1 is 0xFFFFFFFF.
import type { DType } from '../../lib/index.js'

export type NarrowFloat = 'float16' | 'bfloat16' | 'float8e4m3fn' | 'float8e5m2'
type IntType = 'int8' | 'uint8' | 'int32'

export interface Format {
  readonly exp: number // exponent bits
  readonly man: number // mantissa bits
  readonly bias: number
  // 'ieee': the top exponent holds ±Inf (m = 0) and NaNs (m ≠ 0).
  // 'fn' (finite, e4m3fn): no Inf; only S.1111.111 is NaN, the rest of the top exponent is finite.
  readonly specials: 'ieee' | 'fn'
}

export const FORMATS: Record<NarrowFloat, Format> = {
  float16: { exp: 5, man: 10, bias: 15, specials: 'ieee' },
  bfloat16: { exp: 8, man: 7, bias: 127, specials: 'ieee' },
  float8e4m3fn: { exp: 4, man: 3, bias: 7, specials: 'fn' },
  float8e5m2: { exp: 5, man: 2, bias: 15, specials: 'ieee' },
}

const INT_RANGE: Record<IntType, [number, number]> = {
  int8: [-128, 127],
  uint8: [0, 255],
  int32: [-2147483648, 2147483647],
}

export const STORAGE_BITS: Record<DType, 8 | 16 | 32> = {
  float32: 32,
  float16: 16,
  bfloat16: 16,
  float8e4m3fn: 8,
  float8e5m2: 8,
  int8: 8,
  uint8: 8,
  int32: 32,
}

const isInt = (t: DType): t is IntType => t === 'int8' || t === 'uint8' || t === 'int32'

// float32 <-> bits through one shared scratch word.
const f32 = new Float32Array(1)
const u32 = new Uint32Array(f32.buffer)
export function f32FromBits(bits: number): number {
  u32[0] = bits
  return f32[0]
}
export function bitsOfF32(value: number): number {
  f32[0] = value
  return u32[0]
}

const F32_INF = 0x7f800000
const F32_QUIET = 0x00400000

/** The largest magnitude code that is finite. */
export function maxFiniteCode(f: Format): number {
  const topExp = (1 << f.exp) - 1
  return f.specials === 'ieee' ? (topExp << f.man) - 1 : (1 << (f.exp + f.man)) - 2
}

/** The value of a non-negative magnitude code read as a finite number, whatever its exponent. */
export function magnitudeValue(f: Format, code: number): number {
  const e = code >> f.man
  const m = code & ((1 << f.man) - 1)
  const scale = 2 ** f.man
  return e === 0 ? 2 ** (1 - f.bias) * (m / scale) : 2 ** (e - f.bias) * (1 + m / scale)
}

/** Decodes one code to a JS number (NaN for NaN codes). */
export function decodeValue(f: Format, code: number): number {
  const signBit = 1 << (f.exp + f.man)
  const mag = code & (signBit - 1)
  const sign = code & signBit ? -1 : 1
  const topExp = (1 << f.exp) - 1
  if (f.specials === 'ieee' && mag >> f.man === topExp) return (mag & ((1 << f.man) - 1)) === 0 ? sign * Infinity : NaN
  if (f.specials === 'fn' && mag === signBit - 1) return NaN
  return sign * magnitudeValue(f, mag)
}

/**
 * Decodes one code to float32 bits. A NaN becomes a quiet float32 NaN with
 * the code's sign and payload (the mantissa field, left-aligned); e4m3fn's
 * single NaN per sign has no payload (its mantissa bits are what mark it NaN).
 */
export function decodeToF32Bits(f: Format, code: number): number {
  const v = decodeValue(f, code)
  if (!Number.isNaN(v)) return bitsOfF32(v)
  const sign = (code >> (f.exp + f.man)) & 1
  const payload = f.specials === 'ieee' ? code & ((1 << f.man) - 1) : 0
  return ((sign << 31) | F32_INF | F32_QUIET | (payload << (23 - f.man))) >>> 0
}

// Per format: the value of every non-negative finite code, in code order
// (which is value order), plus one more entry, the value the next code would
// have with an unbounded exponent: rounding to that entry means overflow.
const tables = new Map<Format, Float64Array>()
function valueTable(f: Format): Float64Array {
  let t = tables.get(f)
  if (!t) {
    const n = maxFiniteCode(f) + 2
    t = new Float64Array(n)
    for (let c = 0; c < n; ++c) t[c] = magnitudeValue(f, c)
    tables.set(f, t)
  }
  return t
}

/** Round-to-nearest-even magnitude code of finite a ≥ 0; maxFiniteCode + 1 means overflow. */
function roundMagnitude(f: Format, a: number): number {
  const t = valueTable(f)
  const last = t.length - 1
  if (a >= t[last]) return last
  let lo = 0 // invariant: t[lo] <= a < t[hi]
  let hi = last
  while (hi - lo > 1) {
    const mid = (lo + hi) >> 1
    if (t[mid] <= a) lo = mid
    else hi = mid
  }
  if (a === t[lo]) return lo
  const halfway = (t[lo] + t[hi]) / 2 // exact: both have at most 11 significant bits
  if (a < halfway) return lo
  if (a > halfway) return hi
  return lo % 2 === 0 ? lo : hi
}

/** The NaN each format encodes a float32 NaN to (docs/formats.md). */
function encodeNaN(t: NarrowFloat, x: number): number {
  switch (t) {
    case 'float16': // sign, quiet bit, top 9 payload bits
      return ((x >>> 16) & 0x8000) | 0x7e00 | ((x >>> 13) & 0x3ff)
    case 'bfloat16': // the top half, quiet bit set
      return (x >>> 16) | 0x40
    default: // FP8: one canonical NaN, sign dropped (as CUDA does)
      return 0x7f
  }
}

/** float32 bits → narrow float code. `saturate` matters for FP8 only. */
export function encodeFloat(t: NarrowFloat, x: number, saturate: boolean): number {
  const f = FORMATS[t]
  const v = f32FromBits(x)
  if (Number.isNaN(v)) return encodeNaN(t, x)
  const signBit = (x >>> 31) << (f.exp + f.man)
  const a = Math.abs(v)
  const max = maxFiniteCode(f)
  const mag = a === Infinity ? max + 1 : roundMagnitude(f, a)
  if (mag <= max) return signBit | mag
  // Overflow, or ±Inf in.
  if (t === 'float16' || t === 'bfloat16') return signBit | (max + 1) // ±Inf
  if (saturate) return signBit | max // CUDA satfinite: ±max finite
  return t === 'float8e4m3fn' ? signBit | 0x7f : signBit | 0x7c // NaN (sign kept) / ±Inf
}

/** Round half to even, saturate to the type's range, NaN → 0; returns the storage bits. */
export function encodeInt(t: IntType, v: number): number {
  const [lo, hi] = INT_RANGE[t]
  let r: number
  if (Number.isNaN(v)) r = 0
  else if (v <= lo) r = lo
  else if (v >= hi) r = hi
  else {
    const fl = Math.floor(v)
    const frac = v - fl // exact for |v| < 2^31
    r = frac < 0.5 ? fl : frac > 0.5 ? fl + 1 : fl % 2 === 0 ? fl : fl + 1
  }
  return t === 'int32' ? r >>> 0 : r & 0xff
}

/** The integer value of an integer type's storage bits. */
export function intValue(t: IntType, bits: number): number {
  return t === 'int8' ? (bits << 24) >> 24 : t === 'int32' ? bits | 0 : bits
}

/** Decodes any type's storage bits to float32 bits (ints round once, as float32 does). */
export function toF32Bits(t: DType, bits: number): number {
  if (t === 'float32') return bits >>> 0
  if (isInt(t)) return bitsOfF32(intValue(t, bits))
  return decodeToF32Bits(FORMATS[t], bits)
}

/** Encodes float32 bits to any type's storage bits. */
export function fromF32Bits(t: DType, x: number, saturate: boolean): number {
  if (t === 'float32') return x >>> 0
  if (isInt(t)) return encodeInt(t, f32FromBits(x))
  return encodeFloat(t, x, saturate)
}

/**
 * The reference cast of one element: the same type is a copy, int → int
 * saturates, everything else goes through float32 (decode, then encode).
 */
export function castRef(from: DType, to: DType, bits: number, saturate: boolean): number {
  if (from === to) return bits >>> 0
  if (isInt(from) && isInt(to)) {
    const [lo, hi] = INT_RANGE[to]
    const v = Math.min(hi, Math.max(lo, intValue(from, bits)))
    return to === 'int32' ? v >>> 0 : v & 0xff
  }
  return fromF32Bits(to, toF32Bits(from, bits), saturate)
}
