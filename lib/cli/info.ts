/**
 * `sparsekit info`: what this install can do here — versions, the CPU's
 * features and the kernels picked for it, and whether CUDA is usable or why not.
 * The first thing to paste into a bug report.
 * @internal
 * @module
 */
import { availableParallelism, cpus } from 'node:os'

import { cudaStatus, type DeviceInfo, devices, numThreads } from '../device.js'
import { cudaBinding } from '../native.js'
import { sparsekitVersion } from '../bench/report.js'

/** What `sparsekit info --json` prints. */
export interface InfoReport {
  sparsekit: string
  node: string
  napi: string
  platform: string
  arch: string
  cpu: {
    model: string
    cores: number
    arch: string
    /** The kernel set in use; `isaForced` when SPARSEKIT_ISA chose it. */
    isa: string
    isaForced: boolean
    supportedIsas: string[]
    features: Record<string, boolean>
    /** The micro-kernel picked per op. */
    kernels: Record<string, string>
    threads: number
  }
  cuda: {
    available: boolean
    /** Why CUDA cannot be used; '' when it can. */
    reason: string
    deviceCount: number
    /** e.g. 13000 for CUDA 13.0; 0 when the addon did not load. */
    runtimeVersion: number
    driverVersion: number
    /** The SASS/PTX targets the addon was built for. */
    archs: string
    /** The 2:4 linear backend: `'cuSPARSELt 0.8.1 from <path>'` or `'cuSPARSELt not used: <why>'`; '' without the addon. */
    cusparselt: string
  }
  devices: DeviceInfo[]
}

/** Collects the report; loading the CPU addon is the only side effect. */
export function collectInfo(): InfoReport {
  const all = devices()
  const cpu = all[0]
  if (cpu.kind !== 'cpu') throw new Error('sk.devices() did not list the CPU first')
  const status = cudaStatus()
  const raw = cudaBinding()?.status()
  return {
    sparsekit: sparsekitVersion(),
    node: process.version,
    napi: process.versions.napi ?? 'unknown',
    platform: process.platform,
    arch: process.arch,
    cpu: {
      model: cpus()[0]?.model.trim() || 'unknown',
      cores: availableParallelism(),
      arch: cpu.arch,
      isa: cpu.isa,
      isaForced: cpu.forced,
      supportedIsas: cpu.supportedIsas,
      features: cpu.features,
      kernels: cpu.kernels,
      threads: numThreads(),
    },
    cuda: {
      available: status.available,
      reason: status.reason,
      deviceCount: raw?.deviceCount ?? 0,
      runtimeVersion: raw?.runtimeVersion ?? 0,
      driverVersion: raw?.driverVersion ?? 0,
      archs: raw?.archs ?? '',
      cusparselt: cudaBinding()?.cusparseLtStatus().describe ?? '',
    },
    devices: all,
  }
}

/** 13000 → `13.0`, as CUDA encodes versions (1000 × major + 10 × minor). */
export function cudaVersion(v: number): string {
  return v > 0 ? `${Math.floor(v / 1000)}.${Math.floor((v % 1000) / 10)}` : 'none'
}

function gib(bytes: number): string {
  return `${(bytes / 2 ** 30).toFixed(0)} GiB`
}

/** The report as aligned `key  value` lines. */
export function formatInfo(r: InfoReport): string {
  const present = Object.keys(r.cpu.features).filter((k) => r.cpu.features[k])
  const absent = Object.keys(r.cpu.features).filter((k) => !r.cpu.features[k])
  const cuda = r.cuda.available
    ? `available: runtime ${cudaVersion(r.cuda.runtimeVersion)}, driver ${cudaVersion(r.cuda.driverVersion)}, ` +
      `built for ${r.cuda.archs || '?'}, ${r.cuda.deviceCount} device${r.cuda.deviceCount === 1 ? '' : 's'}`
    : `unavailable: ${r.cuda.reason}`
  const devs = r.devices.map((d) =>
    d.kind === 'cpu'
      ? `cpu (${r.cpu.isa}, ${r.cpu.threads} threads)`
      : `${d.name} (${d.model}, compute ${d.computeCapability}, ${gib(d.totalMemory)}, ${d.multiprocessors} SMs)`,
  )
  const lines: [string, string][] = [
    ['sparsekit', r.sparsekit],
    ['node', `${r.node} (N-API ${r.napi}), ${r.platform}-${r.arch}`],
    ['cpu', `${r.cpu.model}, ${r.cpu.cores} cores, ${r.cpu.arch}`],
    [
      'isa',
      `${r.cpu.isa} (${r.cpu.isaForced ? 'forced by SPARSEKIT_ISA' : 'chosen at load'}; supported: ${r.cpu.supportedIsas.join(', ')})`,
    ],
    ['features', `${present.join(' ') || 'none'}${absent.length ? `  (absent: ${absent.join(' ')})` : ''}`],
    ...Object.entries(r.cpu.kernels).map(([op, k]): [string, string] => [`kernel ${op}`, k]),
    ['threads', String(r.cpu.threads)],
    ['cuda', cuda],
    // cuSPARSELt's state (and how to install it) matters only where a CUDA device can use it.
    ...(r.cuda.available && r.cuda.cusparselt ? ([['sparse 2:4', r.cuda.cusparselt]] as [string, string][]) : []),
    ['devices', devs.join('; ')],
  ]
  const width = Math.max(...lines.map(([k]) => k.length))
  return lines.map(([k, v]) => `${k.padEnd(width)}  ${v}`).join('\n')
}
