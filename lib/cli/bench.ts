/**
 * `sparsekit bench`: runs the registered suites on one device, prints a table
 * per suite (or one JSON document), and writes each suite's result file.
 * @internal
 * @module
 */
import { resolve } from 'node:path'

import { cudaStatus, type DeviceName, parseDevice } from '../device.js'
import { type BenchSuite, budgetFor, type Budget, type Progress, registeredSuites, runCases } from '../bench/harness.js'
import { describeMachine, formatTable, type ResultFile, writeResult } from '../bench/report.js'
import { registerBuiltinSuites } from '../bench/suites/index.js'

/** What `bench` was asked to do. */
export interface BenchOptions {
  /** `cpu`, `cuda`, `cuda:N`, or `auto` (cuda:0 when CUDA is available, else cpu). */
  device: string
  quick: boolean
  json: boolean
  plot: boolean
  /** Suite names; empty runs them all. */
  suites: string[]
  /** Directory for result files. */
  out: string
  /** Timing policy override (tests); default {@link budgetFor}(quick). */
  budget?: Budget
  progress?: Progress
  /** Where the report goes; default stdout. */
  write?: (text: string) => void
}

/** A request the user can fix (bad suite name): the CLI exits 2 for these. */
export class UsageError extends Error {}

/** `auto` → the best device present; anything else is checked as a device name. */
export function resolveDevice(device: string): DeviceName {
  if (device === 'auto') return cudaStatus().available ? 'cuda:0' : 'cpu'
  const d = parseDevice('--device', device)
  return d.kind === 'cpu' ? 'cpu' : `cuda:${d.index}`
}

/** Picks suites by name, in registration order; throws UsageError naming the known ones. */
export function selectSuites(names: string[], all: BenchSuite[] = registeredSuites()): BenchSuite[] {
  for (const n of names)
    if (!all.some((s) => s.name === n))
      throw new UsageError(`unknown suite '${n}'; known suites: ${all.map((s) => s.name).join(', ')}`)
  return names.length === 0 ? all : all.filter((s) => names.includes(s.name))
}

/** The JSON `bench --json` prints. */
export interface BenchReport {
  results: ResultFile[]
  skipped: { suite: string; device: DeviceName; reason: string }[]
  failed: { suite: string; device: DeviceName; error: string }[]
  files: string[]
}

/**
 * Runs the bench command; resolves to the exit code (0, or 1 when a suite failed).
 * A suite that does not apply to the device is skipped with its reason, never faked.
 */
export async function runBench(opts: BenchOptions, suites?: BenchSuite[]): Promise<number> {
  registerBuiltinSuites()
  const write = opts.write ?? ((t: string) => void process.stdout.write(t))
  const chosen = suites ?? selectSuites(opts.suites)
  const device = resolveDevice(opts.device)
  const kind = device === 'cpu' ? 'cpu' : 'cuda'
  const report: BenchReport = { results: [], skipped: [], failed: [], files: [] }
  const outDir = resolve(opts.out)
  for (const suite of chosen) {
    if (!suite.devices.includes(kind)) {
      const reason = suite.skipReason ?? `the suite has no ${kind} cases`
      report.skipped.push({ suite: suite.name, device, reason })
      if (!opts.json) write(`${suite.name}: skipped on ${device}: ${reason}\n\n`)
      continue
    }
    try {
      const result = await runCases(suite, {
        device,
        quick: opts.quick,
        budget: opts.budget ?? budgetFor(opts.quick),
        progress: opts.progress,
      })
      const machine = describeMachine(device)
      const files = writeResult(result, machine, outDir, opts.plot)
      report.results.push({ ...result, machine })
      report.files.push(...files)
      if (!opts.json) write(`${formatTable(result, machine)}\n\nwrote ${files.join(', ')}\n\n`)
    } catch (err) {
      const error = err instanceof Error ? err.message : String(err)
      report.failed.push({ suite: suite.name, device, error })
      // stderr in both modes, so a JSON consumer's stdout stays one document.
      process.stderr.write(`sparsekit bench: ${suite.name} failed on ${device}: ${error}\n`)
    }
  }
  if (opts.json) write(JSON.stringify(report, null, 2) + '\n')
  return report.failed.length > 0 ? 1 : 0
}
