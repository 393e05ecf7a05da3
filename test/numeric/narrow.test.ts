// Casts between non-float32 types (every code of each 8/16-bit source, int32
// samples), lengths that leave vector tails and block remainders, inputs that
// start at a non-zero byteOffset, and the saturate default.
// Budget: bit-exact (0 ULP) against castRef (= reference encode(decode(x))).
import { describe, expect, it } from 'vitest'

import * as sk from '../../lib/index.js'
import type { DType, TensorData } from '../../lib/index.js'
import {
  arrayOfBits,
  bitsView,
  castBits,
  everyCode,
  float32Sweep,
  formatBoundaries,
  mismatches,
  specialPatterns,
  xorshiftPatterns,
} from './harness.js'
import { castRef, STORAGE_BITS } from './reference.js'

const bytes = (v: ArrayBufferView) => new Uint8Array(v.buffer, v.byteOffset, v.byteLength)
const FP8 = new Set<DType>(['float8e4m3fn', 'float8e5m2'])
const modesFor = (to: DType) => (FP8.has(to) ? [true, false] : [true])

const int32Samples = new Uint32Array([
  ...[
    0,
    1,
    -1,
    127,
    128,
    -128,
    -129,
    255,
    256,
    65504,
    65519,
    65520,
    65536,
    2 ** 24 + 1,
    2 ** 25 + 2 ** 17 + 1,
    2 ** 31 - 1,
    -(2 ** 31),
    448,
    464,
    465,
    61439,
    61440,
  ].map((v) => v >>> 0),
  ...xorshiftPatterns(20_000, 11),
  ...xorshiftPatterns(20_000, 13).map((x) => ((x | 0) >> 16) >>> 0), // small magnitudes, both signs
])

function inputsOf(from: DType): Uint32Array {
  return from === 'int32' ? int32Samples : everyCode(STORAGE_BITS[from] as 8 | 16)
}

async function check(from: DType, input: Uint32Array, to: DType, saturate: boolean, data?: TensorData): Promise<void> {
  const got = await castBits(from, data ?? arrayOfBits(from, input), to, saturate)
  const want = input.map((x) => castRef(from, to, x, saturate))
  expect(mismatches(input, STORAGE_BITS[from], got, want, STORAGE_BITS[to])).toEqual([])
}

describe('narrow → narrow through float32, every source code, bit-exact (0 ULP)', () => {
  const sources: DType[] = ['float16', 'bfloat16', 'float8e4m3fn', 'float8e5m2', 'int8', 'uint8', 'int32']
  for (const from of sources)
    for (const to of sk.DTYPES.filter((t) => t !== 'float32'))
      for (const saturate of modesFor(to)) {
        const what = from === to ? 'copy' : FP8.has(to) ? `saturate: ${saturate}` : 'via float32'
        it(`${from} → ${to} (${what})`, () => check(from, inputsOf(from), to, saturate))
      }
})

describe('lengths that are not a multiple of the vector width or block, bit-exact (0 ULP)', () => {
  const pool = float32Sweep(100_000)
  const pick = (n: number) => Uint32Array.from({ length: n }, (_, i) => pool[(i * 7919 + n) % pool.length])
  const targets: [DType, boolean][] = [
    ['float16', true],
    ['bfloat16', true],
    ['float8e4m3fn', true],
    ['float8e4m3fn', false],
    ['float8e5m2', true],
    ['float8e5m2', false],
    ['int8', true],
    ['uint8', true],
    ['int32', true],
  ]
  for (const n of [1, 7, 8, 9, 15, 16, 17, 31, 33, 1023, 1024, 1025, 1000003])
    it(`n = ${n}: float32 → every type, float16 / float8e4m3fn → float32, float8e4m3fn → bfloat16`, async () => {
      const input = pick(n)
      for (const [to, saturate] of targets) await check('float32', input, to, saturate)
      const codes16 = input.map((x) => x & 0xffff)
      const codes8 = input.map((x) => x & 0xff)
      await check('float16', codes16, 'float32', true)
      await check('float8e4m3fn', codes8, 'float32', true)
      await check('float8e4m3fn', codes8, 'bfloat16', true)
    })
})

describe('inputs at a non-zero byteOffset (subarrays), bit-exact (0 ULP)', () => {
  it('Float32Array at byteOffset 12 → float8e4m3fn / float16 / int8', async () => {
    const input = float32Sweep(1000).subarray(0, 40_001)
    const backing = new Float32Array(input.length + 5)
    bitsView('float32', backing).set(input, 3)
    const view = backing.subarray(3, 3 + input.length)
    expect(view.byteOffset).toBe(12)
    for (const to of ['float8e4m3fn', 'float16', 'int8'] as const) await check('float32', input, to, false, view)
    expect(mismatches(input, 32, bitsView('float32', view), input, 32)).toEqual([]) // the source is left as it was
  })

  it('Uint16Array at byteOffset 2 (float16 codes) → float32 / float8e5m2', async () => {
    const all = arrayOfBits('float16', everyCode(16)) as Uint16Array
    const view = all.subarray(1)
    const input = Uint32Array.from(view)
    await check('float16', input, 'float32', true, view)
    await check('float16', input, 'float8e5m2', false, view)
  })

  it('Uint8Array at byteOffset 5 (float8e4m3fn codes) → bfloat16, Int8Array at byteOffset 3 → int32', async () => {
    const codes = everyCode(8)
    const e4 = (arrayOfBits('float8e4m3fn', codes) as Uint8Array).subarray(5)
    await check('float8e4m3fn', Uint32Array.from(e4), 'bfloat16', true, e4)
    const i8 = (arrayOfBits('int8', codes) as Int8Array).subarray(3)
    await check('int8', Uint32Array.from(bitsView('int8', i8)), 'int32', true, i8)
  })
})

describe('saturate defaults to true', () => {
  const input = new Uint32Array([
    ...specialPatterns(),
    ...formatBoundaries('float8e4m3fn'),
    ...formatBoundaries('float8e5m2'),
  ])
  const data = arrayOfBits('float32', input)
  const same = (a: ArrayBufferView, b: ArrayBufferView) => Buffer.compare(bytes(a), bytes(b)) === 0
  for (const to of ['float8e4m3fn', 'float8e5m2'] as const)
    it(`${to}: cast(type) equals cast(type, { saturate: true }) and differs from false on overflow`, async () => {
      const byDefault = await castBits('float32', data, to)
      expect(same(byDefault, await castBits('float32', data, to, true))).toBe(true)
      expect(same(byDefault, await castBits('float32', data, to, false))).toBe(false)
      const emptyOptions = await sk.tensor(data as Float32Array).cast(to, {})
      expect(same(emptyOptions.data, byDefault)).toBe(true)
      emptyOptions.dispose()
    })

  it('sk.tensor(numbers, dims, fp8) rounds to float32, then like cast, saturating', () => {
    // 1 + 2^-4 + 2^-30 is first the float32 1.0625, then an e4m3fn tie (docs/formats.md)
    const values = [1000, -Infinity, Infinity, NaN, 464, 465, 1.0625, -(2 ** -10), 1 + 2 ** -4 + 2 ** -30]
    expect([...sk.tensor(values, [values.length], 'float8e4m3fn').data]).toEqual([
      0x7e, 0xfe, 0x7e, 0x7f, 0x7e, 0x7e, 0x38, 0x80, 0x38,
    ])
    expect([...sk.tensor(values, [values.length], 'float8e5m2').data]).toEqual([
      0x64, 0xfb, 0x7b, 0x7f, 0x5f, 0x5f, 0x3c, 0x94, 0x3c,
    ])
  })
})
