/**
 * Devices: `cpu` always, `cuda:N` when the CUDA addon loads and a driver and
 * device are present.
 * @module
 */
import { deviceError } from './errors.js'
import { cpuBinding, cudaBinding, cudaUnavailableReason } from './native.js'
import { checkInt } from './validate.js'

/** A device name: `'cpu'`, `'cuda'` (= `'cuda:0'`) or `'cuda:N'`. */
export type DeviceName = 'cpu' | 'cuda' | `cuda:${number}`

/** A parsed device. @internal */
export type Device = { kind: 'cpu' } | { kind: 'cuda'; index: number }

/** What {@link devices} reports for each device. */
export type DeviceInfo =
  | {
      /** Always `'cpu'`. */
      name: 'cpu'
      /** Always `'cpu'`. */
      kind: 'cpu'
      /** The addon's architecture: `x64` or `arm64`. */
      arch: string
      /** The kernel set in use (`scalar`, `avx2`, `avx512`, `neon`), chosen at load or forced with SPARSEKIT_ISA. */
      isa: string
      /** Whether SPARSEKIT_ISA forced `isa` rather than the CPU's features choosing it. */
      forced: boolean
      /** Every kernel set this CPU can run, `scalar` first. */
      supportedIsas: string[]
      /** CPU feature flags detected at load, e.g. `{ avx2: true, avx512f: false }`. */
      features: Record<string, boolean>
      /** The micro-kernel picked per op, e.g. `{ cast: 'sk_cast_ukernel__avx512' }`. */
      kernels: Record<string, string>
      /** Threads CPU kernels use (see {@link setNumThreads}). */
      threads: number
    }
  | {
      /** `'cuda:N'`. */
      name: `cuda:${number}`
      /** Always `'cuda'`. */
      kind: 'cuda'
      /** The device's name, e.g. `NVIDIA H200`. */
      model: string
      /** `major.minor`, e.g. `'9.0'`. */
      computeCapability: string
      /** Device memory in bytes. */
      totalMemory: number
      /** Streaming multiprocessors. */
      multiprocessors: number
      /**
       * What runs a 2:4 `linear` here: `'cusparselt <version>'` when cuSPARSELt
       * was found (SPARSEKIT_CUSPARSELT path, else libcusparseLt.so.0 on the
       * library path; SPARSEKIT_CUSPARSELT=0 turns it off), else our
       * `'sparsekit mma.sp'` kernel.
       */
      sparseLinear: string
      /** Why our kernel is used, or what cuSPARSELt is (`'cuSPARSELt 0.8.1 from <path>'`). */
      sparseLinearReason: string
    }

/** The canonical name of a parsed device. @internal */
export const deviceName = (d: Device): string => (d.kind === 'cpu' ? 'cpu' : `cuda:${d.index}`)

/**
 * Parses and checks a device name; a CUDA device must exist. Throws
 * ERR_SK_DEVICE with the reason CUDA is unavailable.
 * @internal
 */
export function parseDevice(name: string, value: unknown): Device {
  if (value === undefined || value === 'cpu') return { kind: 'cpu' }
  const m = typeof value === 'string' ? /^cuda(?::(\d+))?$/.exec(value) : null
  if (!m) throw deviceError(name, "'cpu', 'cuda' or 'cuda:N'", value)
  const index = m[1] === undefined ? 0 : Number(m[1])
  const cuda = cudaBinding()
  const status = cuda?.status()
  if (!cuda || !status?.available)
    throw deviceError(name, `an available device (CUDA is unavailable: ${cudaUnavailableReason()})`, value)
  if (index >= status.deviceCount) throw deviceError(name, `a CUDA device index below ${status.deviceCount}`, value)
  return { kind: 'cuda', index }
}

/**
 * Lists the devices sparsekit can run on, CPU first.
 *
 * @example
 * ```ts
 * for (const d of sk.devices()) console.log(d.name, d.kind === 'cpu' ? d.isa : d.model)
 * ```
 */
export function devices(): DeviceInfo[] {
  const info = cpuBinding().cpuInfo()
  const out: DeviceInfo[] = [{ name: 'cpu', kind: 'cpu', ...info }]
  const cuda = cudaBinding()
  const status = cuda?.status()
  if (cuda && status?.available) {
    const lt = cuda.cusparseLtStatus()
    for (let i = 0; i < status.deviceCount; ++i) {
      const d = cuda.deviceInfo(i)
      out.push({
        name: `cuda:${i}`,
        kind: 'cuda',
        model: d.name,
        computeCapability: d.computeCapability,
        totalMemory: d.totalMemory,
        multiprocessors: d.multiprocessors,
        sparseLinear: lt.available ? `cusparselt ${lt.version}` : 'sparsekit mma.sp',
        sparseLinearReason: lt.describe,
      })
    }
  }
  return out
}

/** Whether CUDA can be used, and if not, why. */
export interface CudaAvailability {
  /** Whether a CUDA device can be used. */
  available: boolean
  /** Why not, with what to do about it; `''` when available. */
  reason: string
}

/**
 * Whether CUDA can be used, and if not, why (not built, no driver, no device).
 * @example
 * ```ts
 * const { available, reason } = sk.cudaStatus()
 * if (!available) console.log('CPU only:', reason)
 * ```
 */
export function cudaStatus(): CudaAvailability {
  const cuda = cudaBinding()
  const status = cuda?.status()
  return status?.available ? { available: true, reason: '' } : { available: false, reason: cudaUnavailableReason() }
}

/**
 * Sets how many threads CPU kernels use (the caller's job thread included).
 * Takes effect from the next queued op. Default: the number of CPUs.
 *
 * @param n - 1 to 1024.
 * @throws ERR_SK_INVALID_ARGUMENT for anything else.
 * @example
 * ```ts
 * sk.setNumThreads(2)
 * ```
 */
export function setNumThreads(n: number): void {
  cpuBinding().setNumThreads(checkInt('n', n, 1, 1024))
}

/**
 * The number of threads CPU kernels use.
 * @example
 * ```ts
 * console.log(sk.numThreads())
 * ```
 */
export function numThreads(): number {
  return cpuBinding().numThreads()
}

/** Throws unless both tensors live on the same device (never a silent copy). @internal */
export function sameDevice(a: Device, b: Device, name: string): void {
  if (deviceName(a) !== deviceName(b))
    throw deviceError(
      name,
      `a tensor on ${deviceName(a)} (mixed devices are an error; use await t.to())`,
      deviceName(b),
    )
}
