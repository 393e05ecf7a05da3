// Inputs and checking for the cast tests: the float32 sweep, every code of a
// type, one native cast per array, and bit comparison that reports the first
// mismatches in hex.
import * as sk from '../../lib/index.js'
import type { DType, TensorData } from '../../lib/index.js'
import { bitsOfF32, FORMATS, magnitudeValue, maxFiniteCode, type NarrowFloat, STORAGE_BITS } from './reference.js'

export const NARROW_FLOATS: readonly NarrowFloat[] = ['float16', 'bfloat16', 'float8e4m3fn', 'float8e5m2']

/** Unsigned storage-bits view of a type's array. */
export function bitsView(t: DType, data: ArrayBufferView): Uint8Array | Uint16Array | Uint32Array {
  const bits = STORAGE_BITS[t]
  const Ctor = bits === 8 ? Uint8Array : bits === 16 ? Uint16Array : Uint32Array
  return new Ctor(data.buffer as ArrayBuffer, data.byteOffset, data.byteLength / Ctor.BYTES_PER_ELEMENT)
}

/** A `t` array (the TypedArray sk.tensor takes) holding the given storage bits. */
export function arrayOfBits(t: DType, bits: ArrayLike<number>): TensorData {
  const Ctor = { float32: Float32Array, int32: Int32Array, int8: Int8Array } as Record<
    string,
    new (n: number) => TensorData
  >
  const arr = new (Ctor[t] ?? (STORAGE_BITS[t] === 16 ? Uint16Array : Uint8Array))(bits.length)
  bitsView(t, arr).set(bits)
  return arr
}

/**
 * Casts with one native call and returns a copy of the output's storage bits.
 * `saturate` undefined passes no options, so the default is what runs.
 */
export async function castBits(
  from: DType,
  data: TensorData,
  to: DType,
  saturate?: boolean,
): Promise<Uint8Array | Uint16Array | Uint32Array> {
  const src = sk.tensor(data, [data.length], from)
  const out = await src.cast(to, saturate === undefined ? undefined : { saturate })
  const bits = bitsView(to, out.data).slice()
  out.dispose()
  return bits
}

/** Every code of an 8- or 16-bit type, 0 … 2^bits − 1. */
export function everyCode(bits: 8 | 16): Uint32Array {
  const out = new Uint32Array(1 << bits)
  for (let i = 0; i < out.length; ++i) out[i] = i
  return out
}

/** xorshift32: the same pseudo-random patterns on every run and machine. */
export function xorshiftPatterns(n: number, seed = 0x9e3779b9): Uint32Array {
  const out = new Uint32Array(n)
  let x = seed >>> 0
  for (let i = 0; i < n; ++i) {
    x ^= x << 13
    x >>>= 0
    x ^= x >>> 17
    x ^= x << 5
    x >>>= 0
    out[i] = x
  }
  return out
}

/**
 * float32 mantissas that sit on or next to a rounding boundary at every
 * position a target can round at (10, 7, 3 and 2 kept bits in the normal
 * range, and every other position in the subnormal ranges): for each cut at
 * bit s, the exact half of the dropped part ± 1, with the kept lsb 0 and 1,
 * and with all kept bits set (where rounding up carries into the exponent).
 */
function boundaryMantissas(): number[] {
  const m = new Set<number>([0, 1, 2, 3, 0x7fffff, 0x7ffffe, 0x400000, 0x3fffff, 0x400001, 0x200000])
  for (let s = 1; s <= 23; ++s) {
    const half = 1 << (s - 1)
    const kept = 0x7fffff & ~((1 << s) - 1)
    const lsb = s < 23 ? 1 << s : 0
    for (const base of [0, lsb, kept, kept & ~lsb]) for (const d of [-1, 0, 1]) m.add((base | half) + d)
    m.add(kept)
  }
  return [...m].filter((x) => x >= 0 && x <= 0x7fffff)
}

/** Every exponent 0…255 × both signs × the boundary mantissas. */
export function exponentSweep(): Uint32Array {
  const mantissas = boundaryMantissas()
  const out = new Uint32Array(2 * 256 * mantissas.length)
  let i = 0
  for (let sign = 0; sign < 2; ++sign)
    for (let e = 0; e < 256; ++e) for (const m of mantissas) out[i++] = ((sign << 31) | (e << 23) | m) >>> 0
  return out
}

/**
 * For one narrow float: every finite value, every halfway point between
 * neighbours (the ties, including the one above the largest finite value that
 * decides overflow) and the float32 values just either side of each, both signs.
 */
export function formatBoundaries(t: NarrowFloat): Uint32Array {
  const f = FORMATS[t]
  const max = maxFiniteCode(f)
  const out: number[] = []
  const value = (c: number) => magnitudeValue(f, c)
  for (let c = 0; c <= max; ++c) {
    const v = value(c)
    const mid = (v + value(c + 1)) / 2
    if (Math.fround(mid) !== mid) throw new Error(`halfway point ${mid} of ${t} is not a float32`)
    const vb = bitsOfF32(v)
    const mb = bitsOfF32(mid)
    out.push(vb, vb + 1, mb - 1, mb, mb + 1)
    if (vb > 0) out.push(vb - 1)
  }
  const n = out.length
  for (let i = 0; i < n; ++i) out.push((out[i] | 0x80000000) >>> 0)
  return Uint32Array.from(out)
}

/** Special float32 patterns: ±0, ±Inf, quiet and signalling NaNs with assorted payloads, ±smallest/largest subnormal and normal. */
export function specialPatterns(): Uint32Array {
  const out: number[] = [0x00000000, 0x7f800000, 0x00000001, 0x007fffff, 0x00800000, 0x7f7fffff]
  for (const payload of [
    0x400000, 0x400001, 0x000001, 0x200000, 0x7fffff, 0x002000, 0x001fff, 0x0fe000, 0x3fffff, 0x600000,
  ])
    out.push(0x7f800000 | payload)
  const n = out.length
  for (let i = 0; i < n; ++i) out.push((out[i] | 0x80000000) >>> 0)
  return Uint32Array.from(out)
}

/** The whole float32 encoding sweep (≈ 1M patterns, deterministic). */
export function float32Sweep(randomCount = 300_000): Uint32Array {
  const parts = [
    specialPatterns(),
    exponentSweep(),
    ...NARROW_FLOATS.map(formatBoundaries),
    xorshiftPatterns(randomCount),
  ]
  const out = new Uint32Array(parts.reduce((n, p) => n + p.length, 0))
  let off = 0
  for (const p of parts) {
    out.set(p, off)
    off += p.length
  }
  return out
}

const hex = (v: number, bits: number) => `0x${(v >>> 0).toString(16).padStart(bits / 4, '0')}`

/**
 * Bit-compares got with want; returns [] when equal, else a summary line and
 * the first few mismatches as input / got / want in hex, for expect(...).toEqual([]).
 */
export function mismatches(
  input: ArrayLike<number>,
  inBits: number,
  got: ArrayLike<number>,
  want: ArrayLike<number>,
  outBits: number,
  show = 8,
): string[] {
  const lines: string[] = []
  let count = 0
  if (got.length !== want.length) return [`length: got ${got.length}, want ${want.length}`]
  for (let i = 0; i < want.length; ++i) {
    if (got[i] === want[i]) continue
    if (++count <= show)
      lines.push(`[${i}] in ${hex(input[i], inBits)}: got ${hex(got[i], outBits)}, want ${hex(want[i], outBits)}`)
  }
  return count === 0 ? [] : [`${count} of ${want.length} differ`, ...lines]
}
