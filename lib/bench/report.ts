/**
 * Reporting benchmark results: the machine's description, the printed table,
 * and the JSON (and optional SVG) files in the `--out` folder.
 * @internal
 * @module
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { availableParallelism, cpus, totalmem } from 'node:os'
import { join } from 'node:path'

import { type DeviceName, devices, numThreads } from '../device.js'
import { cudaBinding, packageRoot } from '../native.js'
import { type BenchRow, lastLevelCacheBytes, type SuiteResult } from './harness.js'
import { renderSvg } from './plot.js'

/** The CUDA device a result was measured on. */
export interface CudaMachine {
  name: DeviceName
  model: string
  computeCapability: string
  totalMemory: number
  multiprocessors: number
  runtimeVersion: number
  driverVersion: number
}

/** Where a result was measured: enough to tell two JSON files' machines apart. */
export interface Machine {
  cpu: string
  /**
   * The CPU's family, model and stepping from /proc/cpuinfo, with the core's
   * name where it is known: a VM often reports only "AMD EPYC", and Zen 4 and
   * Zen 5 differ 2× in AVX-512 throughput. Absent where /proc/cpuinfo is not.
   */
  cpuId?: string
  /** Logical CPUs the process may use. */
  cores: number
  memoryBytes: number
  lastLevelCacheBytes: number
  platform: string
  arch: string
  node: string
  napi: string
  sparsekit: string
  /** The CPU kernel set in use, and whether SPARSEKIT_ISA forced it. */
  isa: string
  isaForced: boolean
  supportedIsas: string[]
  threads: number
  /** Present when the suite ran on a CUDA device. */
  cuda?: CudaMachine
  /** ISO 8601 time the description was taken. */
  date: string
}

/** The sparsekit version from the package's own package.json. */
export function sparsekitVersion(): string {
  try {
    return (
      (JSON.parse(readFileSync(join(packageRoot, 'package.json'), 'utf8')) as { version?: string }).version ?? 'unknown'
    )
  } catch {
    return 'unknown'
  }
}

/** AMD's core names by family and model (its published model ranges); other vendors get numbers only. */
function amdCore(family: number, model: number): string | undefined {
  if (family === 0x1a) return 'Zen 5'
  if (family === 0x19)
    return (model >= 0x10 && model <= 0x1f) || (model >= 0x60 && model <= 0x7f) || (model >= 0xa0 && model <= 0xaf)
      ? 'Zen 4'
      : 'Zen 3'
  if (family === 0x17) return model >= 0x30 ? 'Zen 2' : 'Zen / Zen+'
  return undefined
}

/** "family 25 model 17 stepping 1 (Zen 4)" on x86, "implementer 0x41 part 0xd0c" on ARM; undefined elsewhere. */
export function cpuIdentity(cpuinfo?: string): string | undefined {
  let text = cpuinfo
  if (text === undefined)
    try {
      text = readFileSync('/proc/cpuinfo', 'utf8')
    } catch {
      return undefined
    }
  const field = (name: string): string | undefined =>
    new RegExp(`^${name}\\s*:\\s*(.+)$`, 'm').exec(text ?? '')?.[1]?.trim()
  const family = field('cpu family')
  const model = field('model')
  if (family !== undefined && model !== undefined) {
    const core = field('vendor_id') === 'AuthenticAMD' ? amdCore(Number(family), Number(model)) : undefined
    return `family ${family} model ${model} stepping ${field('stepping') ?? '?'}${core ? ` (${core})` : ''}`
  }
  const implementer = field('CPU implementer')
  const part = field('CPU part')
  return implementer && part ? `implementer ${implementer} part ${part}` : undefined
}

/** Describes this machine and, for a CUDA device name, that device. */
export function describeMachine(device: DeviceName): Machine {
  const all = devices()
  const cpu = all[0]
  if (cpu.kind !== 'cpu') throw new Error('sk.devices() did not list the CPU first')
  const machine: Machine = {
    cpu: cpus()[0]?.model.trim() || 'unknown',
    cpuId: cpuIdentity(),
    cores: availableParallelism(),
    memoryBytes: totalmem(),
    lastLevelCacheBytes: lastLevelCacheBytes(),
    platform: process.platform,
    arch: process.arch,
    node: process.version,
    napi: process.versions.napi ?? 'unknown',
    sparsekit: sparsekitVersion(),
    isa: cpu.isa,
    isaForced: cpu.forced,
    supportedIsas: cpu.supportedIsas,
    threads: numThreads(),
    date: new Date().toISOString(),
  }
  const name = device === 'cuda' ? 'cuda:0' : device
  const d = all.find((x) => x.name === name)
  if (d?.kind === 'cuda') {
    const status = cudaBinding()?.status()
    machine.cuda = {
      name: d.name,
      model: d.model,
      computeCapability: d.computeCapability,
      totalMemory: d.totalMemory,
      multiprocessors: d.multiprocessors,
      runtimeVersion: status?.runtimeVersion ?? 0,
      driverVersion: status?.driverVersion ?? 0,
    }
  }
  return machine
}

/** One line naming the device a suite ran on, for the table and the plot. */
export function deviceLabel(machine: Machine, device: DeviceName): string {
  if (machine.cuda)
    return `${machine.cuda.name} (${machine.cuda.model}, sm_${machine.cuda.computeCapability.replace('.', '')})`
  const cpu = machine.cpuId ? `${machine.cpu} ${machine.cpuId}` : machine.cpu
  return `${device} (${cpu}, ${machine.isa}${machine.isaForced ? ' forced' : ''}, ${machine.threads} threads)`
}

const fmtMs = (ms: number): string =>
  ms >= 100 ? ms.toFixed(0) : ms >= 10 ? ms.toFixed(1) : ms >= 1 ? ms.toFixed(2) : ms.toFixed(3)
const fmtRate = (v: number | undefined): string => (v === undefined ? '—' : v >= 100 ? v.toFixed(0) : v.toFixed(1))

const fmtExtra = (v: number | undefined): string =>
  v === undefined ? '—' : v !== 0 && Math.abs(v) < 1e-2 ? v.toExponential(2) : v.toFixed(4)

function vsBaseline(r: BenchRow, rows: BenchRow[]): string {
  if (rows.some((x) => x.baseline === r.name) && r.baseline === undefined) return 'baseline'
  if (r.ratio === undefined) return '—'
  return `${r.ratio.toFixed(2)}× ${r.baseline}${r.ratioBasis === 'time' ? ' (time)' : ''}`
}

/**
 * The result as a fixed-width table with a two-line header naming the suite,
 * the device and what the throughput and ratio columns mean.
 */
export function formatTable(result: SuiteResult, machine: Machine): string {
  const rows = result.rows
  const hasBytes = rows.some((r) => r.gbps !== undefined)
  const hasFlops = rows.some((r) => r.gflops !== undefined)
  const extras = [...new Set(rows.flatMap((r) => Object.keys(r.extra ?? {})))]
  const firstRuns = Math.max(0, ...rows.map((r) => r.firstRuns ?? 0))
  const header = [
    'case',
    'median ms',
    'p10 ms',
    'p90 ms',
    ...(firstRuns ? [`first ${firstRuns} ms`] : []),
    ...(hasBytes ? ['GB/s'] : []),
    ...(hasFlops ? ['GFLOP/s'] : []),
    ...extras,
    'runs',
    'vs baseline',
  ]
  const body = rows.map((r) => [
    r.name,
    fmtMs(r.medianMs),
    fmtMs(r.p10Ms),
    fmtMs(r.p90Ms),
    ...(firstRuns ? [r.firstMedianMs === undefined ? '—' : fmtMs(r.firstMedianMs)] : []),
    ...(hasBytes ? [fmtRate(r.gbps)] : []),
    ...(hasFlops ? [fmtRate(r.gflops)] : []),
    ...extras.map((k) => fmtExtra(r.extra?.[k])),
    String(r.runs),
    vsBaseline(r, rows),
  ])
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((b) => b[i].length)))
  // Text columns (first and last) align left, numbers right.
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i === 0 || i === cells.length - 1 ? c.padEnd(widths[i]) : c.padStart(widths[i])))
      .join('  ')
      .trimEnd()
  const notes = [
    ...result.notes,
    hasBytes && result.bytesMeaning ? `GB/s counts ${result.bytesMeaning}` : '',
    "vs baseline = throughput ÷ the baseline row's, measured in this process (same work: the speedup)",
  ].filter(Boolean)
  return [
    `${result.suite} on ${deviceLabel(machine, result.device)}${result.quick ? ', quick' : ''}: ${result.description}`,
    ...notes.map((n) => `  ${n}`),
    '',
    line(header),
    ...body.map(line),
  ].join('\n')
}

/**
 * `cast-cpu`, `cast-cuda` (cuda:0), `cast-cuda1`: file names without a colon;
 * a CPU kernel set forced by SPARSEKIT_ISA adds its name (`spmm-cpu-avx2`),
 * so a forced run never overwrites the machine's own.
 */
export function resultStem(suite: string, device: DeviceName, forcedIsa?: string): string {
  const d = device === 'cuda' || device === 'cuda:0' ? 'cuda' : device.replace(':', '')
  return `${suite}-${d}${forcedIsa && d === 'cpu' ? `-${forcedIsa}` : ''}`
}

/** What a result file holds. */
export interface ResultFile extends SuiteResult {
  machine: Machine
}

/**
 * Writes `<outDir>/<suite>-<device>.json` and, with `plot`, the SVG chart
 * beside it. Returns the paths written.
 */
export function writeResult(result: SuiteResult, machine: Machine, outDir: string, plot: boolean): string[] {
  mkdirSync(outDir, { recursive: true })
  const stem = join(outDir, resultStem(result.suite, result.device, machine.isaForced ? machine.isa : undefined))
  // Machine first: it is what a reader checks before trusting the rows.
  const { suite, description, bytesMeaning, device, quick, notes, rows } = result
  const file: ResultFile = { suite, description, bytesMeaning, device, quick, machine, notes, rows }
  writeFileSync(`${stem}.json`, JSON.stringify(file, null, 2) + '\n')
  const written = [`${stem}.json`]
  if (plot) {
    writeFileSync(`${stem}.svg`, renderSvg(result, [deviceLabel(machine, result.device), ...result.notes]))
    written.push(`${stem}.svg`)
  }
  return written
}
