/**
 * The benchmark harness. Op modules register suites; each suite returns cases;
 * each case is warmed up, then timed run by run until a time budget is spent.
 * Every row reports median, p10 and p90, throughput, and a ratio against a
 * baseline case measured in the same process (DESIGN.md, "Performance method").
 * @internal
 * @module
 */
import { readFileSync } from 'node:fs'

import type { DeviceName } from '../device.js'

/** One measured operation. */
export interface BenchCase {
  /** Row label, unique within the suite, e.g. `float32→float16`. */
  name: string
  /**
   * Does the work once and settles when it has finished (await device work).
   * `iteration` counts from 0 across warm-up and timed runs, so a case can
   * rotate among input sets with `sets[iteration % sets.length]`.
   */
  run(iteration: number): Promise<void> | void
  /**
   * Untimed work right before each run (warm-up included), e.g. another
   * library's call whose threads are still busy when `run` starts.
   */
  before?(iteration: number): Promise<void> | void
  /**
   * Times this many runs right after setup, before any warm-up, into the
   * row's `firstMedianMs` (a user's first calls: fresh pages, cold caches).
   */
  firstRuns?: number
  /** Bytes moved per run, by the suite's convention ({@link BenchSuite.bytesMeaning}); gives GB/s. */
  bytes?: number
  /** Floating-point operations per run; gives GFLOP/s. */
  flops?: number
  /** Name of the case in the same suite this one is compared with. */
  baseline?: string
  /**
   * Figures measured once besides the timing (accuracy: an error, a share of
   * softmax mass), by name; shown as columns of the table and kept in the
   * JSON row. Read after the case has run, so setup() may fill it in.
   */
  extra?: Record<string, number>
  /** Allocates inputs before the first run; kept out of the timings. */
  setup?(): Promise<void> | void
  /**
   * Frees what setup() made, right after the case (with rounds, its group of
   * cases) has been measured; awaited, so a baseline's worker threads are
   * gone before the next case is timed.
   */
  teardown?(): Promise<void> | void
}

/** A device kind a suite can run on. */
export type BenchDeviceKind = 'cpu' | 'cuda'

/** What a suite's `cases()` is told. */
export interface SuiteContext {
  /** The device the suite runs on: `'cpu'` or `'cuda:N'`. */
  device: DeviceName
  /** Quick mode: smaller inputs and ~0.3 s per case instead of ~2 s. */
  quick: boolean
  /** Registers a cleanup (freeing shared inputs) to run after the last case. */
  defer(fn: () => void): void
  /** Adds a line under the suite's description in the table and JSON (sizes, rotation). */
  note(text: string): void
}

/** A named family of cases, e.g. every cast of one size. */
export interface BenchSuite {
  /** Short name used by `--suite` and in result file names. */
  name: string
  /** One line printed above the table. */
  description: string
  /** What a case's `bytes` counts (e.g. "bytes read + written"). */
  bytesMeaning?: string
  /** The device kinds the suite applies to; others are skipped with {@link BenchSuite.skipReason}. */
  devices: readonly BenchDeviceKind[]
  /** Why the suite does not apply to a device kind it does not list. */
  skipReason?: string
  /** Builds the cases; inputs should be made in each case's setup() to bound memory. */
  cases(ctx: SuiteContext): Promise<BenchCase[]> | BenchCase[]
  /**
   * Timing rounds (default 1: each case timed in one stretch, one case after
   * the other). With R > 1 the cases linked by `baseline` are set up together
   * and timed in R alternating rounds of 1/R of the budget each, so a machine
   * whose speed drifts from minute to minute drifts under a case and its
   * baseline alike; each row pools its rounds' samples.
   */
  rounds?: number
  /** Idle milliseconds before each case of a round (default 30, for ORT's spinning threads); 0 times cases back to back, as a user's code runs them. */
  settleMs?: number
  /** Notes computed from the finished rows (each target with the ratio measured), after the others. */
  summary?(rows: readonly BenchRow[]): string[]
}

/** Timing policy of one case. */
export interface Budget {
  /** Timed runs continue until this many milliseconds have passed... */
  timedMs: number
  /** ...and at least this many runs were made. */
  minRuns: number
  /** Upper bound on runs, so microsecond cases stop. */
  maxRuns: number
  /** Warm-up: at least this long and {@link Budget.warmupRuns} runs. */
  warmupMs: number
  /** Minimum warm-up runs (JIT, first-touch pages, lazy CUDA module loads). */
  warmupRuns: number
}

/** ~0.3 s per case in quick mode, ~2 s otherwise. */
export function budgetFor(quick: boolean): Budget {
  return quick
    ? { timedMs: 300, minRuns: 5, maxRuns: 10_000, warmupMs: 50, warmupRuns: 2 }
    : { timedMs: 2000, minRuns: 10, maxRuns: 100_000, warmupMs: 300, warmupRuns: 3 }
}

/** The measurement of one case. */
export interface BenchRow {
  name: string
  runs: number
  medianMs: number
  p10Ms: number
  p90Ms: number
  bytes?: number
  flops?: number
  /** From the median: bytes / median time, in 1e9 bytes per second. */
  gbps?: number
  /** From the median: flops / median time, in 1e9 per second. */
  gflops?: number
  /** The baseline row's name, when the case has one. */
  baseline?: string
  /** Median of the case's first {@link BenchCase.firstRuns} runs after setup, before warm-up. */
  firstMedianMs?: number
  firstRuns?: number
  /** This case's throughput ÷ the baseline's (for the same work: the speedup). */
  ratio?: number
  /** Which throughput the ratio compares: GB/s, GFLOP/s, or 1/time when neither is given. */
  ratioBasis?: 'GB/s' | 'GFLOP/s' | 'time'
  /** The case's {@link BenchCase.extra} figures. */
  extra?: Record<string, number>
}

const registry = new Map<string, BenchSuite>()

/**
 * Adds a suite to the ones `sparsekit bench` knows.
 * @throws Error when a suite of that name is already registered.
 * @example
 * ```ts
 * registerSuite({ name: 'attention', description: '…', devices: ['cpu', 'cuda'], cases: (ctx) => [...] })
 * ```
 */
export function registerSuite(suite: BenchSuite): void {
  if (registry.has(suite.name)) throw new Error(`bench suite '${suite.name}' is already registered`)
  registry.set(suite.name, suite)
}

/** Registered suites, in registration order. */
export function registeredSuites(): BenchSuite[] {
  return [...registry.values()]
}

/** Percentile of sorted samples, linear between ranks (numpy's default). */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return NaN
  const pos = (sorted.length - 1) * p
  const lo = Math.floor(pos)
  const hi = Math.ceil(pos)
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo)
}

/** Warms a case up, then times it run by run under the budget. Samples are in ms. */
export async function measure(c: BenchCase, budget: Budget, onProgress?: (done: number) => void): Promise<number[]> {
  let iteration = 0
  const warmStart = performance.now()
  while (iteration < budget.warmupRuns || performance.now() - warmStart < budget.warmupMs) {
    await c.before?.(iteration)
    await c.run(iteration++)
  }
  const samples: number[] = []
  const start = performance.now()
  let lastReport = start
  while (
    samples.length < budget.maxRuns &&
    (samples.length < budget.minRuns || performance.now() - start < budget.timedMs)
  ) {
    samples.push(await timedRun(c, iteration++))
    const now = performance.now()
    if (onProgress && now - lastReport > 100) {
      lastReport = now
      onProgress(Math.min(1, (now - start) / budget.timedMs))
    }
  }
  return samples
}

/** One run of a case in ms, its untimed `before` work first. */
async function timedRun(c: BenchCase, iteration: number): Promise<number> {
  await c.before?.(iteration)
  const t0 = process.hrtime.bigint()
  await c.run(iteration)
  return Number(process.hrtime.bigint() - t0) / 1e6
}

/** The case's first `firstRuns` runs after setup, timed one by one (no warm-up). */
export async function measureFirst(c: BenchCase): Promise<number[]> {
  const samples: number[] = []
  for (let i = 0; i < (c.firstRuns ?? 0); ++i) samples.push(await timedRun(c, i))
  return samples
}

/** Median, p10, p90 and throughput of one case's samples. */
export function summarize(c: BenchCase, samples: number[], first: number[] = []): BenchRow {
  const sorted = [...samples].sort((a, b) => a - b)
  const medianMs = percentile(sorted, 0.5)
  const row: BenchRow = {
    name: c.name,
    runs: samples.length,
    medianMs,
    p10Ms: percentile(sorted, 0.1),
    p90Ms: percentile(sorted, 0.9),
  }
  if (first.length) {
    row.firstMedianMs = percentile(
      [...first].sort((a, b) => a - b),
      0.5,
    )
    row.firstRuns = first.length
  }
  if (c.bytes !== undefined) {
    row.bytes = c.bytes
    row.gbps = c.bytes / (medianMs * 1e6)
  }
  if (c.flops !== undefined) {
    row.flops = c.flops
    row.gflops = c.flops / (medianMs * 1e6)
  }
  if (c.baseline !== undefined) row.baseline = c.baseline
  if (c.extra) row.extra = { ...c.extra }
  return row
}

/**
 * Fills in each row's ratio against its baseline row. Throughput, not time:
 * for the same work it is the speedup, and against a copy of other size it is
 * the fraction of copy bandwidth reached, which time alone would misstate.
 */
export function applyBaselines(rows: BenchRow[]): void {
  const byName = new Map(rows.map((r) => [r.name, r]))
  for (const r of rows) {
    const b = r.baseline === undefined ? undefined : byName.get(r.baseline)
    if (!b) continue
    if (r.gbps !== undefined && b.gbps !== undefined) {
      r.ratio = r.gbps / b.gbps
      r.ratioBasis = 'GB/s'
    } else if (r.gflops !== undefined && b.gflops !== undefined) {
      r.ratio = r.gflops / b.gflops
      r.ratioBasis = 'GFLOP/s'
    } else {
      r.ratio = b.medianMs / r.medianMs
      r.ratioBasis = 'time'
    }
  }
}

/** Where progress goes: one `\r`-updated line on a TTY stderr, nothing otherwise. */
export interface Progress {
  update(text: string): void
  done(): void
}

/** A progress line on stderr when it is a terminal; silent when piped or in CI logs. */
export function ttyProgress(stream: NodeJS.WriteStream = process.stderr): Progress {
  if (!stream.isTTY) return { update() {}, done() {} }
  let shown = false
  return {
    update(text) {
      // A pty with no size reports 0 columns: treat it as 80.
      const width = Math.max(20, (stream.columns || 80) - 1)
      stream.write(`\r\x1b[K${text.length > width ? text.slice(0, width - 1) + '…' : text}`)
      shown = true
    },
    done() {
      if (shown) stream.write('\r\x1b[K')
      shown = false
    },
  }
}

/** The result of one suite on one device. */
export interface SuiteResult {
  suite: string
  description: string
  bytesMeaning?: string
  device: DeviceName
  quick: boolean
  /** What the suite said about this run's setup through {@link SuiteContext.note}. */
  notes: string[]
  rows: BenchRow[]
}

/**
 * Runs every case of a suite on a device, baselines included, and returns the rows.
 * Cases run in the order given; a baseline may be listed anywhere.
 * @param budget - timing policy; default {@link budgetFor}(quick).
 */
export async function runCases(
  suite: BenchSuite,
  opts: { device: DeviceName; quick: boolean; budget?: Budget; progress?: Progress },
): Promise<SuiteResult> {
  const budget = opts.budget ?? budgetFor(opts.quick)
  const progress = opts.progress ?? ttyProgress()
  const cleanups: (() => void)[] = []
  const notes: string[] = []
  const ctx: SuiteContext = {
    device: opts.device,
    quick: opts.quick,
    defer: (fn) => cleanups.push(fn),
    note: (t) => notes.push(t),
  }
  let rows: BenchRow[] = []
  try {
    const cases = await suite.cases(ctx)
    checkCases(suite.name, cases)
    const rounds = Math.max(1, Math.floor(suite.rounds ?? 1))
    const samples = new Map<BenchCase, number[]>(cases.map((c) => [c, []]))
    const firsts = new Map<BenchCase, number[]>()
    const settleMs = suite.settleMs ?? kSettleMs
    const label = (c: BenchCase, round: number) =>
      `${suite.name} ${opts.device} [${cases.indexOf(c) + 1}/${cases.length}]${rounds > 1 ? ` round ${round + 1}/${rounds}` : ''} ${c.name}`
    for (const group of rounds > 1 ? baselineGroups(cases) : cases.map((c) => [c])) {
      const ready: BenchCase[] = []
      try {
        for (const c of group) {
          progress.update(`${label(c, 0)}: setting up`)
          await c.setup?.()
          ready.push(c)
          if (c.firstRuns) {
            progress.update(`${label(c, 0)}: first ${c.firstRuns} runs`)
            firsts.set(c, await measureFirst(c))
          }
        }
        for (let r = 0; r < rounds; ++r)
          for (const c of group) {
            if (group.length > 1 && settleMs > 0) await settle(settleMs)
            progress.update(`${label(c, r)}: warming up`)
            const got = await measure(c, roundBudget(budget, rounds, r), (f) =>
              progress.update(`${label(c, r)}: ${Math.round(f * 100)}%`),
            )
            samples.get(c)!.push(...got)
          }
      } finally {
        for (const c of ready) await c.teardown?.()
      }
    }
    rows = cases.map((c) => summarize(c, samples.get(c)!, firsts.get(c)))
  } finally {
    progress.done()
    for (const fn of cleanups.reverse()) fn()
  }
  applyBaselines(rows)
  if (suite.summary) notes.push(...suite.summary(rows))
  const { name, description, bytesMeaning } = suite
  return { suite: name, description, bytesMeaning, device: opts.device, quick: opts.quick, notes, rows }
}

/**
 * The cases linked by `baseline` (directly or through other cases), each
 * group in suite order, groups in the order of their first case.
 */
export function baselineGroups(cases: readonly BenchCase[]): BenchCase[][] {
  const byName = new Map(cases.map((c) => [c.name, c]))
  const root = new Map<BenchCase, BenchCase>(cases.map((c) => [c, c]))
  const find = (c: BenchCase): BenchCase => (root.get(c) === c ? c : find(root.get(c)!))
  for (const c of cases) {
    const b = c.baseline === undefined ? undefined : byName.get(c.baseline)
    if (b) root.set(find(c), find(b))
  }
  const groups = new Map<BenchCase, BenchCase[]>()
  for (const c of cases) {
    const r = find(c)
    if (!groups.has(r)) groups.set(r, [])
    groups.get(r)!.push(c)
  }
  return [...groups.values()]
}

/** Round r of R: 1/R of the timed budget; the full warm-up before the first round, one run before the others. */
function roundBudget(b: Budget, rounds: number, r: number): Budget {
  if (rounds === 1) return b
  return {
    timedMs: b.timedMs / rounds,
    minRuns: Math.ceil(b.minRuns / rounds),
    maxRuns: Math.ceil(b.maxRuns / rounds),
    warmupMs: r === 0 ? b.warmupMs : b.warmupMs / rounds,
    warmupRuns: r === 0 ? b.warmupRuns : 1,
  }
}

/**
 * Between cases of a round: ORT's intra-op threads may spin after a run (its
 * default). Measured here, an idle ORT session did not slow the next case
 * (conv 256 at 90 %: 0.69 ms right after ORT, 0.70 alone); 30 ms is cheap
 * insurance on machines where it would.
 */
const kSettleMs = 30
const settle = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))

function checkCases(suite: string, cases: BenchCase[]): void {
  const names = new Set<string>()
  for (const c of cases) {
    if (names.has(c.name)) throw new Error(`bench suite '${suite}' has two cases named '${c.name}'`)
    names.add(c.name)
  }
  for (const c of cases)
    if (c.baseline !== undefined && !names.has(c.baseline))
      throw new Error(
        `bench case '${c.name}' of suite '${suite}' names baseline '${c.baseline}', which is not one of its cases`,
      )
}

const kMiB = 1 << 20

/** Below this many bytes in all, rotated inputs could stay in the last-level cache between runs. */
export const kMinRotationBytes = 64 * kMiB

/** The CPU's last-level cache in bytes from Linux sysfs, or 0 when it cannot be read. */
export function lastLevelCacheBytes(): number {
  let best = 0
  for (let i = 0; i < 8; ++i) {
    try {
      const text = readFileSync(`/sys/devices/system/cpu/cpu0/cache/index${i}/size`, 'utf8').trim()
      const m = /^(\d+)([KMG]?)$/.exec(text)
      if (m)
        best = Math.max(best, Number(m[1]) * { '': 1, K: 1024, M: kMiB, G: 1024 * kMiB }[m[2] as '' | 'K' | 'M' | 'G'])
    } catch {
      break
    }
  }
  return best
}

/**
 * How many input sets to rotate among so their total exceeds both
 * {@link kMinRotationBytes} and twice the last-level cache (at least 2 sets,
 * so no run starts with the previous run's data at hand).
 * @param bytesPerSet - bytes one run touches (inputs and outputs).
 * @param minTotal - a larger floor, e.g. for a GPU's L2.
 */
export function rotationSets(bytesPerSet: number, minTotal = 0): number {
  const total = Math.max(kMinRotationBytes, 2 * lastLevelCacheBytes(), minTotal)
  return Math.max(2, Math.ceil(total / Math.max(1, bytesPerSet)))
}

/** Fills memory with non-zero pseudo-random words (xorshift32): cheap inputs for copies, never all zeros. */
export function fillNoise(words: Uint32Array, seed = 1): void {
  let x = seed >>> 0 || 1
  for (let i = 0; i < words.length; ++i) {
    x ^= x << 13
    x ^= x >>> 17
    x ^= x << 5
    words[i] = x >>> 0
  }
}
