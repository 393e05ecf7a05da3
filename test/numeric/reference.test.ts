// The oracle checked on its own before any kernel test trusts it: published
// values from the format specs and from CUDA 13.0 (the reference notes §5.4).
import { describe, expect, it } from 'vitest'

import { castRef, decodeValue, encodeFloat, encodeInt, FORMATS } from './reference.js'
import { bitsOfF32 } from './reference.js'

const enc = (t: Parameters<typeof encodeFloat>[0], v: number, sat = true) => encodeFloat(t, bitsOfF32(v), sat)

describe('reference oracle', () => {
  it('decodes the FP8 landmarks', () => {
    const e4 = FORMATS.float8e4m3fn
    const e5 = FORMATS.float8e5m2
    expect([0x7e, 0x08, 0x01, 0xfe, 0x80].map((c) => decodeValue(e4, c))).toEqual([448, 2 ** -6, 2 ** -9, -448, -0])
    expect(decodeValue(e4, 0x7f)).toBeNaN()
    expect(decodeValue(e4, 0x78)).toBe(256) // e = 15 is finite in e4m3fn
    expect([0x7b, 0x04, 0x01, 0x7c, 0xfc].map((c) => decodeValue(e5, c))).toEqual([
      57344,
      2 ** -14,
      2 ** -16,
      Infinity,
      -Infinity,
    ])
    expect(decodeValue(e5, 0x7d)).toBeNaN()
  })

  it('encodes the CUDA-observed FP8 values', () => {
    expect(enc('float8e4m3fn', 1.0625)).toBe(0x38) // tie → even (1.0)
    expect(enc('float8e4m3fn', 1.1875)).toBe(0x3a) // tie → even (1.25)
    expect(enc('float8e4m3fn', 0.0029296875)).toBe(0x02)
    expect(enc('float8e5m2', 480)).toBe(0x60)
    expect(enc('float8e4m3fn', 1000)).toBe(0x7e)
    expect(enc('float8e4m3fn', 2 ** -10)).toBe(0x00) // half the smallest subnormal: tie → 0
    expect(enc('float8e4m3fn', -(2 ** -10))).toBe(0x80)
    expect(enc('float8e4m3fn', Math.fround(2 ** -10 * (1 + 2 ** -23)))).toBe(0x01)
  })

  it('puts the FP8 overflow thresholds where the notes do', () => {
    expect([enc('float8e4m3fn', 464, false), enc('float8e4m3fn', 464.0000305, false)]).toEqual([0x7e, 0x7f])
    expect([enc('float8e4m3fn', -Infinity, false), enc('float8e4m3fn', -Infinity, true)]).toEqual([0xff, 0xfe])
    expect([
      enc('float8e5m2', 61439.996, false),
      enc('float8e5m2', 61440, false),
      enc('float8e5m2', 61440, true),
    ]).toEqual([0x7b, 0x7c, 0x7b])
    expect([enc('float8e5m2', -Infinity, false), enc('float8e5m2', -Infinity, true)]).toEqual([0xfc, 0xfb])
    expect(encodeFloat('float8e4m3fn', 0xffc00000, false)).toBe(0x7f) // -NaN: sign dropped
  })

  it('encodes float16 / bfloat16 landmarks', () => {
    expect([
      enc('float16', 65504),
      enc('float16', 65519.996),
      enc('float16', 65520),
      enc('float16', 2 ** -24),
      enc('float16', 2 ** -25),
    ]).toEqual([0x7bff, 0x7bff, 0x7c00, 0x0001, 0x0000])
    expect(encodeFloat('float16', 0xff800001, true)).toBe(0xfe00) // -sNaN → quiet, sign kept
    expect([
      enc('bfloat16', 1),
      enc('bfloat16', 1 + 2 ** -8),
      enc('bfloat16', 1 + 3 * 2 ** -8),
      enc('bfloat16', 3.4028234663852886e38),
    ]).toEqual([0x3f80, 0x3f80, 0x3f82, 0x7f80])
    expect(encodeFloat('bfloat16', 0x7f800001, true)).toBe(0x7fc0)
  })

  it('rounds to integers half to even, saturating, NaN → 0', () => {
    expect([0.5, 1.5, 2.5, -0.5, -1.5, 127.5, 128, -129, NaN, Infinity].map((v) => encodeInt('int8', v))).toEqual([
      0, 2, 2, 0, 0xfe, 0x7f, 0x7f, 0x80, 0, 0x7f,
    ])
    expect([-1, 255.5, 254.5].map((v) => encodeInt('uint8', v))).toEqual([0, 255, 254])
    expect([2 ** 31, -(2 ** 31), 2147483520, -Infinity].map((v) => encodeInt('int32', v))).toEqual([
      0x7fffffff, 0x80000000, 2147483520, 0x80000000,
    ])
    expect(castRef('int32', 'int8', 300, true)).toBe(0x7f)
    expect(castRef('int8', 'uint8', 0xff, true)).toBe(0)
  })
})
