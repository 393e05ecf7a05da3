// sk.quantize / sk.dequantize against a float64 model of the same scales,
// bit for bit. The model is written from the rule in docs/fp8.md and rounds
// through test/numeric/reference.ts's decoder (a search over every code's
// value, ties to the even code), not through lib/ops/quantize.ts's encoder.
import { afterEach, describe, expect, it } from 'vitest'

import * as sk from '../lib/index.js'
import { decodeValue, FORMATS, maxFiniteCode } from './numeric/reference.js'

const made: { dispose(): void }[] = []
const keep = <T extends { dispose(): void }>(t: T): T => (made.push(t), t)
afterEach(() => {
  for (const t of made.splice(0)) t.dispose()
})

type Fp8 = 'float8e4m3fn' | 'float8e5m2'

/** The nearest code to y: search of the finite magnitudes, ties to the even code, saturating. */
function nearestCode(type: Fp8, y: number): number {
  const f = FORMATS[type]
  const top = maxFiniteCode(f)
  const sign = y < 0 || Object.is(y, -0) ? 0x80 : 0
  const a = Math.abs(y)
  let best = 0
  for (let c = 1; c <= top; ++c) {
    const d = Math.abs(decodeValue(f, c) - a) - Math.abs(decodeValue(f, best) - a)
    if (d < 0 || (d === 0 && c % 2 === 0)) best = c
  }
  return sign | best
}

interface Model {
  codes: Uint8Array
  scales: Float32Array
  mean: Float32Array | null
  values: Float32Array
}

/** The float64 model: mean, per-tile amax / max as float32, codes, values. */
function model(x: Float32Array, dims: number[], type: Fp8, tile: number, smooth: boolean, perChannel: boolean): Model {
  const [B, H, S, D] = dims
  const f = FORMATS[type]
  const max = decodeValue(f, maxFiniteCode(f))
  const T = Math.ceil(S / tile)
  const C = perChannel ? D : 1
  const codes = new Uint8Array(x.length)
  const scales = new Float32Array(B * H * T * C)
  const mean = smooth ? new Float32Array(B * H * D) : null
  const values = new Float32Array(x.length)
  const at = (bh: number, s: number, d: number) => (bh * S + s) * D + d
  for (let bh = 0; bh < B * H; ++bh) {
    const mu = (d: number) => (mean ? mean[bh * D + d] : 0)
    if (mean)
      for (let d = 0; d < D; ++d) {
        let sum = 0
        for (let s = 0; s < S; ++s) sum += x[at(bh, s, d)]
        mean[bh * D + d] = S ? sum / S : 0
      }
    for (let t = 0; t < T; ++t)
      for (let c = 0; c < C; ++c) {
        let amax = 0
        for (let s = t * tile; s < Math.min(S, (t + 1) * tile); ++s)
          for (let d = 0; d < D; ++d)
            if (!perChannel || d === c) amax = Math.max(amax, Math.abs(x[at(bh, s, d)] - mu(d)))
        scales[(bh * T + t) * C + c] = amax / max
      }
    for (let s = 0; s < S; ++s)
      for (let d = 0; d < D; ++d) {
        const scale = scales[(bh * T + Math.floor(s / tile)) * C + (perChannel ? d : 0)]
        const i = at(bh, s, d)
        codes[i] = scale > 0 ? nearestCode(type, (x[i] - mu(d)) / scale) : 0
        values[i] = decodeValue(f, codes[i]) * scale + mu(d)
      }
  }
  return { codes, scales, mean, values }
}

/** Gaussian values with a channel offset, an all-zero tile and some tiny ones. */
function input(dims: number[], seed: number): sk.Tensor {
  const t = keep(sk.randn(dims, { seed }))
  const a = t.data as Float32Array
  const [, , S, D] = dims
  for (let i = 0; i < a.length; ++i) {
    const s = Math.floor(i / D) % S
    if (s < 16)
      a[i] = 0 // the first tile of every head is zero (scale 0)
    else if (s === 17)
      a[i] *= 1e-30 // a tile whose amax is small
    else a[i] += 3 * ((i % D) % 3) // channel offsets for smoothing
  }
  return t
}

const expectBytes = (got: ArrayLike<number>, want: ArrayLike<number>, what: string) => {
  expect(got.length, what).toBe(want.length)
  for (let i = 0; i < want.length; ++i)
    if (!Object.is(got[i], want[i])) expect.fail(`${what}: element ${i} is ${got[i]}, the model's ${want[i]}`)
}

describe('quantize / dequantize: bit-exact against the float64 model', () => {
  const dims = [2, 3, 77, 20] // S not a multiple of any tile
  for (const type of ['float8e4m3fn', 'float8e5m2'] as const)
    for (const [tile, smooth, perChannel] of [
      [16, false, false],
      [32, true, false],
      [64, false, true],
      [16, true, true],
    ] as const)
      it(`${type} tile ${tile}${smooth ? ' smooth' : ''}${perChannel ? ' per channel' : ''}`, async () => {
        const t = input(dims, tile + (smooth ? 1 : 0) + (perChannel ? 2 : 0))
        const m = model(t.data as Float32Array, dims, type, tile, smooth, perChannel)
        const q = keep(await sk.quantize(t, { type, tile, smooth, perChannel }))
        expect(q.type).toBe(type)
        expect(q.dims).toEqual(dims)
        expect(q.scales.dims).toEqual(perChannel ? [2, 3, Math.ceil(77 / tile), 20] : [2, 3, Math.ceil(77 / tile)])
        expectBytes(q.codes.data as Uint8Array, m.codes, 'codes')
        expectBytes(q.scales.data as Float32Array, m.scales, 'scales')
        if (smooth) expectBytes(q.mean!.data as Float32Array, m.mean!, 'mean')
        else expect(q.mean).toBeNull()
        const back = keep(await sk.dequantize(q))
        expect(back.type).toBe('float32')
        expectBytes(back.data as Float32Array, m.values, 'dequantised values')
      })

  it('float16 and bfloat16 inputs quantise as their float32 values', async () => {
    for (const type of ['float16', 'bfloat16'] as const) {
      const narrow = keep(sk.randn([1, 2, 40, 8], { type, seed: 5 }))
      const wide = keep(await narrow.cast('float32'))
      const a = keep(await sk.quantize(narrow, { tile: 16, smooth: true }))
      const b = keep(await sk.quantize(wide, { tile: 16, smooth: true }))
      expectBytes(a.codes.data as Uint8Array, b.codes.data as Uint8Array, `${type} codes`)
      expectBytes(a.scales.data as Float32Array, b.scales.data as Float32Array, `${type} scales`)
    }
  })

  it('saturates instead of overflowing, and round-trips a tile to within half a code step', async () => {
    const t = keep(
      sk.tensor(
        Float32Array.from({ length: 32 }, (_, i) => (i - 16) * 1.37),
        [1, 1, 16, 2],
      ),
    )
    const q = keep(await sk.quantize(t, { tile: 16 }))
    const codes = q.codes.data as Uint8Array
    expect(Math.max(...Array.from(codes, (c) => c & 0x7f))).toBe(0x7e) // the amax lands on ±448, never NaN
    const back = keep(await sk.dequantize(q)).data as Float32Array
    const x = t.data as Float32Array
    for (let i = 0; i < x.length; ++i) expect(Math.abs(back[i] - x[i])).toBeLessThanOrEqual(Math.abs(x[i]) / 16 + 1e-6)
  })
})

describe('quantize / dequantize: bad input', () => {
  // Argument errors throw at once (docs/safety.md); a non-finite value, found
  // while the values are read, rejects.
  const code = async (p: Promise<unknown>) =>
    await p.then(
      () => 'resolved',
      (e: sk.SparsekitError) => e.code,
    )
  const thrown = (f: () => unknown) => {
    try {
      f()
    } catch (e) {
      return (e as sk.SparsekitError).code
    }
    return 'no throw'
  }
  it('refuses what it cannot quantise, with coded errors', async () => {
    const t = keep(sk.randn([1, 2, 32, 8], { seed: 1 }))
    expect(thrown(() => sk.quantize({} as sk.Tensor, { tile: 16 }))).toBe('ERR_SK_INVALID_ARGUMENT')
    expect(thrown(() => sk.quantize(t, undefined as never))).toBe('ERR_SK_INVALID_ARGUMENT')
    for (const tile of [0, 8, 17, 272, 1.5, '16', undefined])
      expect(
        thrown(() => sk.quantize(t, { tile } as never)),
        `tile ${String(tile)}`,
      ).toBe('ERR_SK_INVALID_ARGUMENT')
    expect(thrown(() => sk.quantize(t, { tile: 16, smooth: 1 } as never))).toBe('ERR_SK_INVALID_ARGUMENT')
    expect(thrown(() => sk.quantize(t, { tile: 16, scale: 2 } as never))).toBe('ERR_SK_INVALID_ARGUMENT')
    expect(thrown(() => sk.quantize(t, { tile: 16, type: 'int8' } as never))).toBe('ERR_SK_DTYPE')
    expect(thrown(() => sk.quantize(t, { tile: 16, type: 'float16' } as never))).toBe('ERR_SK_DTYPE')
    expect(thrown(() => sk.quantize(t, { tile: 16, type: 'float9' } as never))).toBe('ERR_SK_DTYPE')
    expect(thrown(() => sk.quantize(keep(sk.randn([2, 32, 8], { seed: 2 })), { tile: 16 }))).toBe('ERR_SK_SHAPE')
    expect(thrown(() => sk.quantize(keep(sk.zeros([1, 1, 16, 4], 'int32')), { tile: 16 }))).toBe('ERR_SK_DTYPE')
    const bad = keep(sk.tensor(new Float32Array([1, NaN, 2, 3]), [1, 1, 1, 4]))
    expect(await code(sk.quantize(bad, { tile: 16 }))).toBe('ERR_SK_INVALID_ARGUMENT')
    const inf = keep(sk.tensor(new Float32Array([1, Infinity, 2, 3]), [1, 1, 1, 4]))
    expect(await code(sk.quantize(inf, { tile: 16, smooth: true }))).toBe('ERR_SK_INVALID_ARGUMENT')
    const gone = sk.randn([1, 1, 16, 4], { seed: 3 })
    gone.dispose()
    expect(thrown(() => sk.quantize(gone, { tile: 16 }))).toBe('ERR_SK_DISPOSED')
  })
  it('dequantize refuses anything but a live QuantizedTensor', async () => {
    expect(thrown(() => sk.dequantize(keep(sk.randn([1, 1, 16, 4])) as never))).toBe('ERR_SK_INVALID_ARGUMENT')
    const q = await sk.quantize(keep(sk.randn([1, 1, 16, 4], { seed: 4 })), { tile: 16 })
    q.dispose()
    expect(q.disposed).toBe(true)
    expect(thrown(() => sk.dequantize(q))).toBe('ERR_SK_DISPOSED')
  })
})
