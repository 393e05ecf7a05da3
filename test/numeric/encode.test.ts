// float32 → every narrower type over a sweep of ≈1M float32 patterns: every
// exponent × both signs × boundary mantissas for each target's rounding
// position, every value and tie of each narrow format ± 1 float32 ulp,
// NaNs with assorted payloads, ±Inf, ±0, subnormals, and 300k pseudo-random
// patterns. Budget: bit-exact (0 ULP) against the reference.
import { beforeAll, describe, expect, it } from 'vitest'

import type { DType } from '../../lib/index.js'
import { arrayOfBits, castBits, float32Sweep, mismatches } from './harness.js'
import { fromF32Bits, STORAGE_BITS } from './reference.js'

let sweep: Uint32Array
let sweepArray: Float32Array
beforeAll(() => {
  sweep = float32Sweep()
  sweepArray = arrayOfBits('float32', sweep) as Float32Array
})

async function checkEncode(to: DType, saturate: boolean | undefined, refSaturate: boolean): Promise<void> {
  const got = await castBits('float32', sweepArray, to, saturate)
  const want = sweep.map((x) => fromF32Bits(to, x, refSaturate))
  expect(mismatches(sweep, 32, got, want, STORAGE_BITS[to])).toEqual([])
}

describe('encode float32 → narrow, ≈1M-pattern sweep, bit-exact (0 ULP)', () => {
  it('the sweep covers every exponent, both signs, NaN, ±Inf, ±0 and subnormals', () => {
    const exps = new Set<number>()
    let signs = 0
    for (const x of sweep) {
      exps.add((x >>> 23) & 0xff)
      signs |= 1 << (x >>> 31)
    }
    expect([exps.size, signs]).toEqual([256, 3])
    for (const special of [0x7fc00000, 0x7f800001, 0xffc00000, 0x7f800000, 0xff800000, 0, 0x80000000, 1, 0x807fffff])
      expect(sweep.includes(special), `0x${special.toString(16)}`).toBe(true)
  })

  for (const mode of [true, false])
    for (const t of ['float8e4m3fn', 'float8e5m2'] as const)
      it(`${t}, saturate: ${mode} (${mode ? 'satfinite: overflow, ±Inf → ±max' : t === 'float8e4m3fn' ? 'overflow → NaN' : 'overflow → ±Inf'})`, () =>
        checkEncode(t, mode, mode))

  // saturate applies to FP8 only: both settings must give the same bits here.
  for (const t of ['float16', 'bfloat16', 'int8', 'uint8', 'int32'] as const)
    for (const mode of [true, false]) it(`${t}, saturate: ${mode} (no effect)`, () => checkEncode(t, mode, true))

  it('float32 → float32 is a copy, NaN payloads included', () => checkEncode('float32', undefined, true))
})
