/**
 * `cast` suite: dtype conversion throughput on the CPU (the ISA picked at
 * load) and on CUDA devices, against a copy of the same element count through
 * the same path (cast float32→float32 is a copy), which is the bandwidth
 * roofline a cast can approach. The ISA cannot be switched in-process, so the
 * scalar kernels are not a baseline here; the native tests compare them.
 * @internal
 * @module
 */
import { randn, zeros } from '../../create.js'
import type { DeviceName } from '../../device.js'
import { type DType, dtypeBytes, dtypeId } from '../../dtype.js'
import { cpuBinding, cudaBinding } from '../../native.js'
import { liveStorage, type Tensor } from '../../tensor.js'
import { type BenchCase, type BenchSuite, rotationSets, type SuiteContext } from '../harness.js'

const kMi = 1 << 20
/** H100/H200 have 50–60 MiB of L2; twice that keeps device inputs out of it. */
const kCudaRotationBytes = 128 * kMi

/** The conversions this suite times (the ones models use on the hot path). */
export const kCasts: readonly (readonly [DType, DType])[] = [
  ['float32', 'float16'],
  ['float32', 'bfloat16'],
  ['float32', 'float8e4m3fn'],
  ['float16', 'float32'],
  ['float8e4m3fn', 'float32'],
]

const kBaseline = 'copy float32'

/** Runs the cast kernel into a preallocated output, on the tensors' device. */
function castInto(src: Tensor, dst: Tensor): Promise<void> {
  const s = liveStorage(src, 'src')
  const d = liveStorage(dst, 'dst')
  if (s.kind === 'cpu' && d.kind === 'cpu')
    return cpuBinding().cast(s.data, dtypeId(src.type), d.data, dtypeId(dst.type), src.size, true)
  if (s.kind === 'cuda' && d.kind === 'cuda')
    return cudaBinding()!.cast(s.buffer, dtypeId(src.type), d.buffer, dtypeId(dst.type), src.size, true)
  throw new Error('castInto: tensors on different devices')
}

/**
 * Rotated input sets per dtype, made once per suite run: one seeded normal
 * sample, then shifted copies of it (distinct memory and values at every
 * index, at memcpy cost instead of another randn), cast on the device to
 * the narrow types.
 */
class Inputs {
  readonly #f32: Tensor[] = []
  readonly #other = new Map<DType, Tensor[]>()

  constructor(
    readonly device: DeviceName,
    readonly n: number,
    readonly sets: number,
  ) {}

  async get(type: DType): Promise<Tensor[]> {
    if (this.#f32.length === 0) await this.#makeF32()
    if (type === 'float32') return this.#f32
    let out = this.#other.get(type)
    if (!out) {
      out = []
      for (const t of this.#f32) out.push(await t.cast(type))
      this.#other.set(type, out)
    }
    return out
  }

  async #makeF32(): Promise<void> {
    const base = randn([this.n], { seed: 42 })
    const b = base.data as Float32Array
    const shift = Math.floor(this.n / this.sets) | 1
    for (let k = 0; k < this.sets; ++k) {
      const host = zeros([this.n], 'float32')
      const h = host.data as Float32Array
      const s = (k * shift) % this.n
      h.set(b.subarray(s))
      h.set(b.subarray(0, s), this.n - s)
      if (this.device === 'cpu') this.#f32.push(host)
      else {
        this.#f32.push(await host.to(this.device))
        host.dispose()
      }
    }
    base.dispose()
  }

  dispose(): void {
    for (const t of [...this.#f32, ...[...this.#other.values()].flat()]) t.dispose()
  }
}

/** A case that casts the rotated inputs of `from` into preallocated outputs of `to`. */
function kernelCase(name: string, inputs: Inputs, from: DType, to: DType, baseline: string | undefined): BenchCase {
  let src: Tensor[] = []
  let dst: Tensor[] = []
  return {
    name,
    bytes: inputs.n * (dtypeBytes(from) + dtypeBytes(to)),
    baseline,
    async setup() {
      src = await inputs.get(from)
      // zeros(), not an uninitialized output: the pages are touched before timing starts.
      dst = src.map(() => zeros([inputs.n], to, inputs.device))
    },
    run: (i) => castInto(src[i % src.length], dst[i % dst.length]),
    teardown() {
      for (const t of dst) t.dispose()
      dst = []
    },
  }
}

/**
 * The public API path: t.cast() allocates its output each call (fresh pages
 * on the CPU, the caching allocator on CUDA), which the kernel rows leave out.
 */
function apiCase(inputs: Inputs, from: DType, to: DType): BenchCase {
  let src: Tensor[] = []
  return {
    name: `t.cast() ${from}→${to} (allocates)`,
    bytes: inputs.n * (dtypeBytes(from) + dtypeBytes(to)),
    baseline: kBaseline,
    async setup() {
      src = await inputs.get(from)
    },
    async run(i) {
      ;(await src[i % src.length].cast(to)).dispose()
    },
  }
}

/** float32 → bfloat16 bits, round to nearest even, NaN kept quiet: the same math as the kernel, in plain JS. */
export function jsToBf16(src: Uint32Array, dst: Uint16Array): void {
  for (let i = 0; i < src.length; ++i) {
    const x = src[i]
    dst[i] = (x & 0x7fffffff) > 0x7f800000 ? (x >>> 16) | 0x40 : (x + 0x7fff + ((x >>> 16) & 1)) >>> 16
  }
}

/** Host-only reference rows: what plain JS reaches on one thread. */
function jsCases(inputs: Inputs): BenchCase[] {
  let src: Tensor[] = []
  let out: Float32Array[] = []
  let bf: Uint16Array[] = []
  const words = (t: Tensor) =>
    new Uint32Array((t.data as Float32Array).buffer, (t.data as Float32Array).byteOffset, t.size)
  return [
    {
      name: 'TypedArray.set float32 (1 thread)',
      bytes: inputs.n * 8,
      baseline: kBaseline,
      async setup() {
        src = await inputs.get('float32')
        out = src.map(() => new Float32Array(inputs.n).fill(1))
      },
      run: (i) => out[i % out.length].set(src[i % src.length].data as Float32Array),
      teardown: () => void (out = []),
    },
    {
      name: 'JS loop float32→bfloat16 (1 thread)',
      bytes: inputs.n * 6,
      baseline: kBaseline,
      async setup() {
        src = await inputs.get('float32')
        bf = src.map(() => new Uint16Array(inputs.n).fill(1))
        // A baseline must do the same work: check it against the kernel once.
        jsToBf16(words(src[0]), bf[0])
        const ref = await src[0].cast('bfloat16')
        const same = (ref.data as Uint16Array).every((v, i) => v === bf[0][i])
        ref.dispose()
        if (!same) throw new Error('cast suite: the JS bfloat16 loop disagrees with the kernel; fix the baseline')
      },
      run: (i) => jsToBf16(words(src[i % src.length]), bf[i % bf.length]),
      teardown: () => void (bf = []),
    },
  ]
}

/** The cast suite; see the module comment. */
export const castSuite: BenchSuite = {
  name: 'cast',
  description: 'dtype conversion, outputs preallocated',
  bytesMeaning: 'bytes read + written',
  devices: ['cpu', 'cuda'],
  cases(ctx: SuiteContext): BenchCase[] {
    const n = (ctx.quick ? 4 : 16) * kMi
    const cpu = ctx.device === 'cpu'
    // The smallest set is an fp8 input with a float32 output: 5 bytes per element.
    const sets = rotationSets(5 * n, cpu ? 0 : kCudaRotationBytes)
    const inputs = new Inputs(ctx.device, n, sets)
    ctx.defer(() => inputs.dispose())
    ctx.note(`${n / kMi} Mi elements per run; ${sets} input sets rotated so no run starts cache-hot`)
    return [
      kernelCase(kBaseline, inputs, 'float32', 'float32', undefined),
      ...kCasts.map(([from, to]) => kernelCase(`${from}→${to}`, inputs, from, to, kBaseline)),
      apiCase(inputs, 'float32', 'float16'),
      ...(cpu ? jsCases(inputs) : []),
    ]
  },
}
