// Decoding to float32, every input pattern, against the reference decoder.
// Budget: bit-exact (0 ULP); NaNs compared by their bits (sign and payload).
import { describe, expect, it } from 'vitest'

import type { DType } from '../../lib/index.js'
import { cpuBinding } from '../../lib/native.js'
import { arrayOfBits, castBits, everyCode, mismatches, xorshiftPatterns } from './harness.js'
import { toF32Bits } from './reference.js'

async function checkDecode(t: DType, codes: Uint32Array, inBits: number): Promise<void> {
  const got = await castBits(t, arrayOfBits(t, codes), 'float32')
  const want = codes.map((c) => toF32Bits(t, c))
  expect(mismatches(codes, inBits, got, want, 32)).toEqual([])
}

describe(`kernel set (SPARSEKIT_ISA=${process.env.SPARSEKIT_ISA ?? 'auto'})`, () => {
  it('the cast kernel is the forced ISA one', () => {
    const info = cpuBinding().cpuInfo()
    if (process.env.SPARSEKIT_ISA) expect(info.isa).toBe(process.env.SPARSEKIT_ISA)
    expect(info.kernels.cast).toBe(`sk_cast_ukernel__${info.isa}`)
  })
})

describe('decode → float32, every code, bit-exact (0 ULP)', () => {
  for (const t of ['float16', 'bfloat16'] as const) it(`${t}: all 65536 codes`, () => checkDecode(t, everyCode(16), 16))
  for (const t of ['float8e4m3fn', 'float8e5m2', 'int8', 'uint8'] as const)
    it(`${t}: all 256 codes`, () => checkDecode(t, everyCode(8), 8))

  it('int32: edges, values above 2^24 that round (ties to even), and 100k random', async () => {
    const edges = [
      0,
      1,
      -1,
      2 ** 24,
      2 ** 24 + 1,
      2 ** 24 + 2,
      2 ** 24 + 3,
      -(2 ** 24) - 1,
      2 ** 25 + 2,
      2 ** 25 + 6,
      2 ** 31 - 1,
      -(2 ** 31),
      -(2 ** 31) + 1,
      2 ** 31 - 64,
      2 ** 31 - 65,
      2 ** 31 - 192,
      -(2 ** 31) + 64,
      0x7fffff80,
      123456789,
    ]
    const codes = new Uint32Array([...edges.map((v) => v >>> 0), ...xorshiftPatterns(100_000, 7)])
    await checkDecode('int32', codes, 32)
  })
})
