// CUDA linear (2:4 mma.sp, cuSPARSELt, dense mma.sync): the binding's checks
// through linearPick / sp24Layout / cusparseLtStatus, which need no
// device, so they run on every machine that builds the addon; on a GPU the
// kernels against a float64 reference computed here.
//
// Budget (GPU): max |gpu − ref64| ≤ 2 · (½ ulp of the type at max |ref|)
// + K · 2^-24 · max Σ|x·w| (the float32 accumulation): twice the error of
// the exact result rounded to the dtype, plus the float32 sums.
import { spawnSync } from 'node:child_process'

import { describe, expect, it } from 'vitest'

import * as sk from '../../lib/index.js'
import type { CudaBinding, CudaLinearArgs } from '../../lib/native.js'
import {
  linearSp24Cuda,
  linearDenseCuda,
  sparsifySp24CudaFromCpuLayout,
  usesCusparseLt,
} from '../../lib/sparse/sp24-cuda.js'
import { addonPath, loadCudaAddon } from '../fixtures/cuda-addon.js'
import {
  compressSp24,
  expandSp24,
  halfToNumber,
  type HalfType,
  randomValues,
  randomWeightSp24,
  setCodeSp24,
  sp24ValueAt,
  toHalfBits,
} from '../fixtures/sp24.js'
import { thrownCode } from '../fixtures/expect-errors.js'

const { binding, skipReason } = loadCudaAddon<CudaBinding>()
const built = binding !== undefined
const hasCuda = binding?.status().available === true
if (!built) console.log(`cuda linear tests skipped: ${skipReason}`)
else if (!hasCuda) console.log(`cuda linear GPU tests skipped: ${binding!.status().reason}`)

const kF32 = 0,
  kF16 = 1,
  kBF16 = 2,
  kI8 = 5 // csrc/core/dtype.h

const args = (o: Partial<CudaLinearArgs> = {}): CudaLinearArgs => ({
  dtype: kBF16,
  m: 8,
  n: 32,
  k: 64,
  sparse: true,
  biasType: -1,
  ...o,
})

describe('sparsifySp24CudaFromCpuLayout: the CPU-layout lengths are checked in TS (no addon needed)', () => {
  it('values [ceil(N/8), K/4, 2, 8] and meta [ceil(N/8), K/4, 4]; anything else (the old row-major sizes too) is ERR_SK_SHAPE', async () => {
    const [n, k] = [13, 20] // two panels, the last one with 3 padding rows
    const values = new Uint16Array(2 * 5 * 2 * 8)
    const meta = new Uint8Array(2 * 5 * 4).fill(0x44)
    const up = (v: Uint16Array, m: Uint8Array) => sparsifySp24CudaFromCpuLayout(v, m, 'bfloat16', [n, k], 'cuda')
    await expect(up(values.subarray(1), meta)).rejects.toMatchObject({
      code: 'ERR_SK_SHAPE',
      message: expect.stringContaining('values.length'),
    })
    await expect(up(values, meta.subarray(1))).rejects.toMatchObject({
      code: 'ERR_SK_SHAPE',
      message: expect.stringContaining('meta.length'),
    })
    await expect(up(new Uint16Array((n * k) / 2), meta)).rejects.toMatchObject({ code: 'ERR_SK_SHAPE' })
    await expect(up(values, new Uint8Array(n * Math.ceil(k / 8)))).rejects.toMatchObject({ code: 'ERR_SK_SHAPE' })
  })
})

describe.skipIf(!built)('cuda linear: host-side checks (no device needed)', () => {
  it('sp24Layout: the fixture compressor round-trips through the CUDA layout', async () => {
    const b = binding!
    for (const [n, k] of [
      [3, 12],
      [17, 36],
      [130, 100],
      [1, 4],
    ]) {
      const w = await randomWeightSp24(n, k, 'bfloat16', n + k)
      const denseBits = expandSp24(w.values, w.meta, n, k)
      const again = compressSp24(denseBits, n, k, 'bfloat16')
      const layout = b.sp24Layout(again.values, again.meta, kBF16, n, k, true)
      expect(layout.nPad).toBe(Math.ceil(n / 128) * 128)
      expect(layout.kPad).toBe(Math.ceil(k / 64) * 64)
      expect(layout.values.length).toBe((layout.nPad * layout.kPad) / 2)
      expect(layout.meta.length).toBe((layout.nPad / 16) * (layout.kPad / 32) * 16)
      expect(Array.from(layout.dense!)).toEqual(Array.from(denseBits))
      // Values: row r's kept values (group c >> 1, slot c & 1 of its panel) start padded row r; the rest is zero.
      for (let r = 0; r < layout.nPad; ++r)
        for (let c = 0; c < layout.kPad / 2; ++c) {
          const want = r < n && c < k / 2 ? again.values[sp24ValueAt(r, c >> 1, (c & 1) as 0 | 1, k / 4)] : 0
          if (layout.values[r * (layout.kPad / 2) + c] !== want) throw new Error(`value (${r}, ${c})`)
        }
    }
  })

  it('sp24Layout refuses corrupted metadata, wrong lengths and types with codes', async () => {
    const b = binding!
    const w = await randomWeightSp24(4, 20, 'float16', 3) // 5 groups; one panel: rows 4..7 are padding
    const bad = (mutate: (m: Uint8Array) => void) => {
      const m = w.meta.slice()
      mutate(m)
      return thrownCode(() => b.sp24Layout(w.values, m, kF16, 4, 20, false))
    }
    const message = (mutate: (m: Uint8Array) => void) => {
      const m = w.meta.slice()
      mutate(m)
      try {
        b.sp24Layout(w.values, m, kF16, 4, 20, false)
      } catch (e) {
        return (e as Error).message
      }
      return ''
    }
    expect(bad(() => undefined)).toBe('returned')
    for (const nib of [0x0, 0x1, 0x5, 0x6, 0xa, 0xf])
      expect(bad((m) => setCodeSp24(m, 1, 2, 5, nib))).toBe('ERR_SK_INVALID_ARGUMENT')
    // Lowest row first, then lowest group; row 3 is odd: its codes are high nibbles.
    expect(message((m) => (setCodeSp24(m, 3, 4, 5, 0xf), setCodeSp24(m, 3, 2, 5, 0x5)))).toMatch(
      /row 3 group 2 is corrupted/,
    )
    // A padding row of the partial panel is checked too.
    expect(message((m) => setCodeSp24(m, 6, 3, 5, 0x0))).toMatch(/row 6 group 3 is corrupted/)
    expect(thrownCode(() => b.sp24Layout(w.values.subarray(1), w.meta, kF16, 4, 20, false))).toBe('ERR_SK_SHAPE')
    expect(thrownCode(() => b.sp24Layout(w.values, w.meta.subarray(1), kF16, 4, 20, false))).toBe('ERR_SK_SHAPE')
    // The old row-major sizes (values [N, K/2], meta [N, ceil(K/8)]) are refused.
    expect(thrownCode(() => b.sp24Layout(w.values.subarray(0, 40), w.meta, kF16, 4, 20, false))).toBe('ERR_SK_SHAPE')
    expect(thrownCode(() => b.sp24Layout(w.values, w.meta.subarray(0, 12), kF16, 4, 20, false))).toBe('ERR_SK_SHAPE')
    expect(thrownCode(() => b.sp24Layout(w.values, w.meta, kF16, 4, 18, false))).toBe('ERR_SK_SHAPE')
    expect(thrownCode(() => b.sp24Layout(w.values, w.meta, kF32, 4, 20, false))).toBe('ERR_SK_DTYPE')
    expect(thrownCode(() => b.sp24Layout(w.values, w.meta, kI8, 4, 20, false))).toBe('ERR_SK_DTYPE')
    expect(thrownCode(() => b.sp24Layout([1, 2] as never, w.meta, kF16, 4, 20, false))).toBe('ERR_SK_INVALID_ARGUMENT')
    expect(thrownCode(() => b.sp24Layout(w.values, w.meta, kF16, -1, 20, false))).toBe('ERR_SK_INVALID_ARGUMENT')
    expect(thrownCode(() => b.sp24Layout(w.values, w.meta, kF16, 4.5, 20, false))).toBe('ERR_SK_INVALID_ARGUMENT')
  })

  it('linearPick picks the kernel by dtype, sparsity and rows, and sizes the 2:4 layout', () => {
    const b = binding!
    const big = 1e15
    const sp = b.linearPick(big, big, big, null, big, args({ m: 4096, n: 11008, k: 4096 }))
    expect(sp.kernel).toBe('sp24_gemm_bf16_128x128')
    expect(sp.grid).toEqual([32, 86])
    expect(['mma.sp', 'cusparselt']).toContain(sp.path)
    expect(sp.wBytes).toBe(11008 * 2048 * 2)
    expect(sp.metaBytes).toBe((11008 / 16) * (4096 / 32) * 64)
    expect(b.linearPick(big, big, big, null, big, args({ m: 16, dtype: kF16 })).kernel).toBe('sp24_gemm_f16_64x32')
    const dense = b.linearPick(big, big, null, big, big, args({ sparse: false, biasType: kF32, k: 30 }))
    expect(dense).toMatchObject({
      kernel: 'dense_gemm_bf16_64x32',
      path: 'mma.sync',
      metaBytes: 0,
      wBytes: 32 * 30 * 2,
    })
    // Exactly the bytes the shapes need pass; one byte less does not.
    const a = args({ m: 5, n: 33, k: 36, biasType: kBF16 })
    const p = b.linearPick(5 * 36 * 2, 1e9, 1e9, 33 * 2, 5 * 33 * 2, a)
    expect(p.nPad).toBe(128)
    expect(p.kPad).toBe(64)
    expect(thrownCode(() => b.linearPick(5 * 36 * 2 - 1, 1e9, 1e9, 66, 330, a))).toBe('ERR_SK_SHAPE')
    expect(thrownCode(() => b.linearPick(360, p.wBytes - 1, 1e9, 66, 330, a))).toBe('ERR_SK_SHAPE')
    expect(thrownCode(() => b.linearPick(360, 1e9, p.metaBytes - 1, 66, 330, a))).toBe('ERR_SK_SHAPE')
    expect(thrownCode(() => b.linearPick(360, 1e9, 1e9, 65, 330, a))).toBe('ERR_SK_SHAPE')
    expect(thrownCode(() => b.linearPick(360, 1e9, 1e9, 66, 329, a))).toBe('ERR_SK_SHAPE')
    // Empty shapes are fine.
    expect(thrownCode(() => b.linearPick(0, 1e9, 1e9, null, 0, args({ m: 0 })))).toBe('returned')
    expect(thrownCode(() => b.linearPick(0, 0, null, null, 0, args({ m: 3, n: 0, k: 0, sparse: false })))).toBe(
      'returned',
    )
  })

  it('linearPick refuses bad dtypes, shapes, bias and arguments with codes', () => {
    const b = binding!
    const pick = (a: Partial<CudaLinearArgs> | unknown, meta: number | null = 1e12, bias: number | null = null) =>
      thrownCode(() =>
        b.linearPick(
          1e12,
          1e12,
          meta,
          bias,
          1e12,
          typeof a === 'object' && a !== null && !Array.isArray(a)
            ? args(a as Partial<CudaLinearArgs>)
            : (a as CudaLinearArgs),
        ),
      )
    expect(pick({ dtype: kF32 })).toBe('ERR_SK_UNSUPPORTED')
    expect(pick({ dtype: kI8 })).toBe('ERR_SK_DTYPE')
    expect(pick({ dtype: 99 })).toBe('ERR_SK_INVALID_ARGUMENT')
    expect(pick({ k: 66 })).toBe('ERR_SK_SHAPE') // 2:4 needs K % 4 == 0
    expect(pick({ biasType: kI8 }, 1e12, 1e12)).toBe('ERR_SK_DTYPE')
    expect(pick({ biasType: kF16 }, 1e12, 1e12)).toBe('ERR_SK_DTYPE') // bf16 x with an f16 bias
    expect(pick({ biasType: kF32 }, 1e12, null)).toBe('ERR_SK_INVALID_ARGUMENT') // bias promised, none given
    expect(pick({}, 1e12, 1e12)).toBe('ERR_SK_INVALID_ARGUMENT') // bias given, biasType -1
    expect(pick({}, null)).toBe('ERR_SK_INVALID_ARGUMENT') // sparse without metadata
    expect(pick({ sparse: false }, 1e12)).toBe('ERR_SK_INVALID_ARGUMENT') // dense with metadata
    expect(pick({ m: -1 })).toBe('ERR_SK_INVALID_ARGUMENT')
    expect(pick({ m: 2.5 })).toBe('ERR_SK_INVALID_ARGUMENT')
    expect(pick({ n: 2 ** 31 })).toBe('ERR_SK_INVALID_ARGUMENT')
    expect(pick({ m: NaN })).toBe('ERR_SK_INVALID_ARGUMENT')
    expect(pick({ sparse: 1 as never })).toBe('ERR_SK_INVALID_ARGUMENT')
    expect(pick({ m: 2 ** 31 - 1, k: 2 ** 31 - 4 })).toBe('ERR_SK_SHAPE') // x spans more than 2^53 bytes
    expect(pick({ n: 65535 * 64 + 1, m: 1 })).toBe('ERR_SK_UNSUPPORTED') // more N tiles than grid y holds
    expect(pick(null)).toBe('ERR_SK_INVALID_ARGUMENT')
    expect(pick([1, 2])).toBe('ERR_SK_INVALID_ARGUMENT')
    expect(thrownCode(() => b.linearPick(-1, 0, 0, null, 0, args()))).toBe('ERR_SK_INVALID_ARGUMENT')
    expect(thrownCode(() => b.linearPick('x' as never, 0, 0, null, 0, args()))).toBe('ERR_SK_INVALID_ARGUMENT')
  })

  it('never crashes on random garbage: every call returns or throws a coded error', () => {
    const b = binding!
    const junk = [undefined, null, -1, 0, 1, 2.5, NaN, Infinity, 2 ** 53, 'a', {}, [], true, new Uint8Array(3)]
    let x = 12345
    const pickJunk = () => {
      x ^= x << 13
      x ^= x >>> 17
      x ^= x << 5
      return junk[(x >>> 0) % junk.length]
    }
    for (let i = 0; i < 500; ++i) {
      const a = {
        dtype: pickJunk(),
        m: pickJunk(),
        n: pickJunk(),
        k: pickJunk(),
        sparse: pickJunk(),
        biasType: pickJunk(),
      }
      const code = thrownCode(() =>
        b.linearPick(
          pickJunk() as never,
          pickJunk() as never,
          pickJunk() as never,
          pickJunk() as never,
          pickJunk() as never,
          a as never,
        ),
      )
      expect(code).toMatch(/^(returned|ERR_SK_\w+)$/)
      const c2 = thrownCode(() =>
        b.sp24Layout(
          pickJunk() as never,
          pickJunk() as never,
          pickJunk() as never,
          pickJunk() as never,
          pickJunk() as never,
          false,
        ),
      )
      expect(c2).toMatch(/^(returned|ERR_SK_\w+)$/)
    }
  })

  it('cusparseLtStatus loads lazily and says why not: not found, disabled by =0, or a library that is not cuSPARSELt', () => {
    const s = binding!.cusparseLtStatus()
    expect(Object.keys(s).sort()).toEqual([
      'available',
      'describe',
      'lastFallback',
      'path',
      'plans',
      'reason',
      'version',
    ])
    expect(s.reason === '').toBe(s.available)
    if (!s.available) expect(s.describe).toBe(`cuSPARSELt not used: ${s.reason}`)
    else expect(s.describe).toMatch(/^cuSPARSELt \d+\.\d+\.\d+ from \//)
    console.log('cusparseLtStatus():', s.describe)
    const child = (env: Record<string, string>) => {
      const r = spawnSync(
        process.execPath,
        ['-e', 'console.log(JSON.stringify(require(process.env.ADDON).cusparseLtStatus()))'],
        {
          env: { ...process.env, ADDON: addonPath, ...env },
          encoding: 'utf8',
        },
      )
      expect(r.status).toBe(0)
      return JSON.parse(r.stdout) as { available: boolean; reason: string }
    }
    expect(child({ SPARSEKIT_CUSPARSELT: '0' })).toMatchObject({
      available: false,
      reason: 'disabled by SPARSEKIT_CUSPARSELT=0',
    })
    const missing = child({ SPARSEKIT_CUSPARSELT: '/nonexistent/libcusparseLt.so.0' })
    expect(missing.available).toBe(false)
    expect(missing.reason).toMatch(
      /^not found: SPARSEKIT_CUSPARSELT=\/nonexistent\/libcusparseLt\.so\.0 could not be opened/,
    )
    const libm = child({ SPARSEKIT_CUSPARSELT: 'libm.so.6' })
    expect(libm).toMatchObject({ available: false })
    expect(libm.reason).toMatch(/lacks cusparseLtInit/)
    if (!s.available && !process.env.SPARSEKIT_CUSPARSELT)
      expect(s.reason).toMatch(/^not found: libcusparseLt\.so\.0 is not on the library path; set SPARSEKIT_CUSPARSELT/)
  })
})

describe.skipIf(!built || hasCuda)('cuda linear without a usable device', () => {
  it('linear and the cuSPARSELt compression refuse with ERR_SK_DEVICE and the reason; the host checks still answer', () => {
    const b = binding!
    const reason = b.status().reason
    for (const call of [
      () => b.linear({} as never, {} as never, null, null, {} as never, args(), null),
      () => b.cusparseLtCompressedBytes(0, kBF16, 16, 16),
      () => b.cusparseLtCompress({} as never, {} as never, kBF16, 16, 16),
    ]) {
      let err: unknown
      try {
        call()
      } catch (e) {
        err = e
      }
      expect(err).toMatchObject({ code: 'ERR_SK_DEVICE' })
      expect((err as Error).message).toContain(reason)
    }
    expect(b.linearPick(1e9, 1e9, 1e9, null, 1e9, args()).kernel).toBe('sp24_gemm_bf16_64x32')
  })
})

describe('cuda linear: TS checks before any device work', () => {
  it('refuses non-CUDA devices, float32 and bad dims with codes', async () => {
    const v = new Uint16Array(32),
      m = new Uint8Array(8) // the CPU layout of [2, 8]: one panel
    await expect(sparsifySp24CudaFromCpuLayout(v, m, 'bfloat16', [2, 8], 'cpu')).rejects.toMatchObject({
      code: 'ERR_SK_DEVICE',
    })
    await expect(sparsifySp24CudaFromCpuLayout(v, m, 'float32' as never, [2, 8], 'cuda')).rejects.toMatchObject({
      code: 'ERR_SK_UNSUPPORTED',
    })
    await expect(sparsifySp24CudaFromCpuLayout(v, m, 'int8' as never, [2, 8], 'cuda')).rejects.toMatchObject({
      code: 'ERR_SK_DTYPE',
    })
    await expect(sparsifySp24CudaFromCpuLayout(v, m, 'bfloat16', [2, 6], 'cuda')).rejects.toMatchObject({
      code: 'ERR_SK_SHAPE',
    })
    await expect(sparsifySp24CudaFromCpuLayout(v, m, 'bfloat16', [2, -8] as never, 'cuda')).rejects.toMatchObject({
      code: 'ERR_SK_SHAPE',
    })
  })
})

/** float64 reference of x · wᵀ + bias and the budget of the comment at the top. */
function reference(
  x: Float64Array,
  w: Float64Array,
  bias: Float64Array | null,
  m: number,
  n: number,
  k: number,
  type: HalfType,
) {
  const out = new Float64Array(m * n)
  let maxRef = 0,
    maxAbsSum = 0
  for (let i = 0; i < m; ++i)
    for (let j = 0; j < n; ++j) {
      let s = bias ? bias[j] : 0,
        a = 0
      for (let q = 0; q < k; ++q) {
        s += x[i * k + q] * w[j * k + q]
        a += Math.abs(x[i * k + q] * w[j * k + q])
      }
      out[i * n + j] = s
      maxRef = Math.max(maxRef, Math.abs(s))
      maxAbsSum = Math.max(maxAbsSum, a)
    }
  const halfUlp = 2 ** -((type === 'float16' ? 10 : 7) + 1)
  return { out, budget: 2 * halfUlp * maxRef + k * 2 ** -24 * maxAbsSum }
}

async function cudaTensor(type: sk.DType, bits: Uint16Array | Float32Array, dims: number[]): Promise<sk.Tensor> {
  using t = sk.tensor(bits as never, dims, type)
  return t.to('cuda')
}

async function maxErr(out: sk.Tensor, ref: Float64Array, type: HalfType): Promise<number> {
  const got = (await out.getData()) as Uint16Array
  let e = 0
  for (let i = 0; i < ref.length; ++i) e = Math.max(e, Math.abs(halfToNumber(type, got[i]) - ref[i]))
  return e
}

describe.skipIf(!hasCuda)('cuda linear on the GPU', () => {
  const shapes: [number, number, number][] = [
    [1, 16, 16],
    [5, 33, 36],
    [16, 128, 64],
    [64, 256, 128],
    [65, 130, 100],
    [200, 160, 520],
    [128, 4096, 512],
  ]
  for (const type of ['bfloat16', 'float16'] as HalfType[])
    for (const [m, n, k] of shapes)
      it(`${type} [${m}, ${k}] · [${n}, ${k}]ᵀ: 2:4 (ours, cuSPARSELt when present) and dense, with and without bias, within budget`, async () => {
        const w = await randomWeightSp24(n, k, type, m + n + k)
        const xBits = await toHalfBits(type, randomValues(m * k, 5 + m))
        const x = Float64Array.from(xBits, (b) => halfToNumber(type, b))
        const biasBits = await toHalfBits(type, randomValues(n, 9))
        const bias = Float64Array.from(biasBits, (b) => halfToNumber(type, b))
        using xt = await cudaTensor(type, xBits, [m, k])
        using bt = await cudaTensor(type, biasBits, [n])
        using bf32 = await cudaTensor('float32', Float32Array.from(bias), [n])
        using out = sk.zeros([m, n], type, 'cuda')
        using ours = await sparsifySp24CudaFromCpuLayout(w.values, w.meta, type, [n, k], 'cuda', {
          backend: 'sparsekit',
        })
        using auto = await sparsifySp24CudaFromCpuLayout(w.values, w.meta, type, [n, k], 'cuda')
        using denseW = await cudaTensor(type, expandSp24(w.values, w.meta, n, k), [n, k])
        const plain = reference(x, w.dense, null, m, n, k, type)
        const withBias = reference(x, w.dense, bias, m, n, k, type)
        const runs: [string, () => Promise<void>, typeof plain][] = [
          ['mma.sp', () => linearSp24Cuda(xt, ours, null, out), plain],
          ['mma.sp + bias', () => linearSp24Cuda(xt, ours, bt, out), withBias],
          ['mma.sp + f32 bias', () => linearSp24Cuda(xt, ours, bf32, out), withBias],
          [usesCusparseLt(auto) ? 'cusparselt' : 'auto (mma.sp)', () => linearSp24Cuda(xt, auto, null, out), plain],
          [
            usesCusparseLt(auto) ? 'cusparselt + bias' : 'auto + bias',
            () => linearSp24Cuda(xt, auto, bt, out),
            withBias,
          ],
          ['mma.sync dense', () => linearDenseCuda(xt, denseW, null, out), plain],
          ['mma.sync dense + bias', () => linearDenseCuda(xt, denseW, bt, out), withBias],
        ]
        for (const [name, run, ref] of runs) {
          await run()
          const err = await maxErr(out, ref.out, type)
          console.log(
            `${type} m${m} n${n} k${k} ${name}: max err ${err.toExponential(2)} (budget ${ref.budget.toExponential(2)})`,
          )
          expect(err, name).toBeLessThanOrEqual(ref.budget)
        }
        using back = await ours.toDense()
        expect(Array.from((await back.getData()) as Uint16Array)).toEqual(
          Array.from(expandSp24(w.values, w.meta, n, k)),
        )
      })

  it('bad inputs on a device: K mismatch, dtype mismatch, wrong bias, mixed devices, disposed weight', async () => {
    const w = await randomWeightSp24(32, 64, 'bfloat16', 1)
    using sw = await sparsifySp24CudaFromCpuLayout(w.values, w.meta, 'bfloat16', [32, 64], 'cuda')
    using x = sk.zeros([4, 64], 'bfloat16', 'cuda')
    using xk = sk.zeros([4, 60], 'bfloat16', 'cuda')
    using xh = sk.zeros([4, 64], 'float16', 'cuda')
    using xc = sk.zeros([4, 64], 'bfloat16', 'cpu')
    using out = sk.zeros([4, 32], 'bfloat16', 'cuda')
    using badBias = sk.zeros([31], 'bfloat16', 'cuda')
    using i8Bias = sk.zeros([32], 'int8', 'cuda')
    await expect(linearSp24Cuda(xk, sw, null, out)).rejects.toMatchObject({ code: 'ERR_SK_SHAPE' })
    await expect(linearSp24Cuda(xh, sw, null, out)).rejects.toMatchObject({ code: 'ERR_SK_DTYPE' })
    await expect(linearSp24Cuda(x, sw, badBias, out)).rejects.toMatchObject({ code: 'ERR_SK_SHAPE' })
    await expect(linearSp24Cuda(x, sw, i8Bias, out)).rejects.toMatchObject({ code: 'ERR_SK_DTYPE' })
    await expect(linearSp24Cuda(xc, sw, null, out)).rejects.toMatchObject({ code: 'ERR_SK_DEVICE' })
    const corrupted = w.meta.slice()
    corrupted[0] = 0x00
    await expect(
      sparsifySp24CudaFromCpuLayout(w.values, corrupted, 'bfloat16', [32, 64], 'cuda'),
    ).rejects.toMatchObject({ code: 'ERR_SK_INVALID_ARGUMENT' })
    sw.dispose()
    await expect(linearSp24Cuda(x, sw, null, out)).rejects.toMatchObject({ code: 'ERR_SK_DISPOSED' })
  })

  it('cuSPARSELt keeps at most 32 plans; a row count whose plan was evicted is planned again and still right', async (ctx) => {
    const w = await randomWeightSp24(32, 64, 'bfloat16', 3)
    using sw = await sparsifySp24CudaFromCpuLayout(w.values, w.meta, 'bfloat16', [32, 64], 'cuda')
    if (!usesCusparseLt(sw)) ctx.skip()
    const run = async (m: number) => {
      const xBits = await toHalfBits('bfloat16', randomValues(m * 64, m))
      const x = Float64Array.from(xBits, (b) => halfToNumber('bfloat16', b))
      using xt = await cudaTensor('bfloat16', xBits, [m, 64])
      using out = sk.zeros([m, 32], 'bfloat16', 'cuda')
      await linearSp24Cuda(xt, sw, null, out)
      const ref = reference(x, w.dense, null, m, 32, 64, 'bfloat16')
      expect(await maxErr(out, ref.out, 'bfloat16'), `m ${m}`).toBeLessThanOrEqual(ref.budget)
    }
    const before = binding!.cusparseLtStatus().lastFallback
    for (let m = 8; m <= 8 * 40; m += 8) await run(m) // 40 row counts: one plan each
    expect(binding!.cusparseLtStatus().plans).toBeLessThanOrEqual(32)
    await run(8) // evicted by now: built again
    expect(binding!.cusparseLtStatus().lastFallback, 'no call fell back to our kernel').toBe(before)
  })

  it('cuSPARSELt: the JS thread asks compressed sizes while the executor plans and runs matmuls on the same handle', async (ctx) => {
    const [n, k] = [64, 128]
    const w = await randomWeightSp24(n, k, 'bfloat16', 11)
    using sw = await sparsifySp24CudaFromCpuLayout(w.values, w.meta, 'bfloat16', [n, k], 'cuda')
    if (!usesCusparseLt(sw)) ctx.skip()
    // A row count per call, so the executor builds a plan (handle calls) for each while the loop below runs.
    const calls = await Promise.all(
      Array.from({ length: 24 }, async (_, i) => {
        const m = 8 * (i + 1) + 8 * 41 // row counts the eviction test above did not plan
        const bits = await toHalfBits('bfloat16', randomValues(m * k, 100 + i))
        return {
          m,
          x: Float64Array.from(bits, (b) => halfToNumber('bfloat16', b)),
          xt: await cudaTensor('bfloat16', bits, [m, k]),
          out: sk.zeros([m, n], 'bfloat16', 'cuda'),
        }
      }),
    )
    const before = binding!.cusparseLtStatus().lastFallback
    const pending = calls.map((c) => linearSp24Cuda(c.xt, sw, null, c.out))
    const sizes = new Set<number>()
    for (let i = 0; i < 400; ++i) sizes.add(binding!.cusparseLtCompressedBytes(0, kBF16, 16 * (1 + (i % 4)), k))
    await Promise.all(pending)
    expect(sizes.size, 'four weight shapes, four sizes').toBe(4)
    for (const c of calls) {
      const ref = reference(c.x, w.dense, null, c.m, n, k, 'bfloat16')
      expect(await maxErr(c.out, ref.out, 'bfloat16'), `m ${c.m}`).toBeLessThanOrEqual(ref.budget)
      c.xt.dispose()
      c.out.dispose()
    }
    expect(binding!.cusparseLtStatus().lastFallback, 'no call fell back to our kernel').toBe(before)
  })

  it('sk.devices() names the 2:4 path for each CUDA device', () => {
    for (const d of sk.devices())
      if (d.kind === 'cuda') {
        console.log(d.name, d.sparseLinear, '—', d.sparseLinearReason)
        expect(d.sparseLinear).toMatch(/^(cusparselt \d+\.\d+\.\d+|sparsekit mma\.sp)$/)
      }
  })
})
