// The CLI and the bench harness: `info` and usage errors through the built
// dist/cli/main.js (what `npx sparsekit` runs), the harness in-process on tiny
// suites (table, JSON file, SVG), and the real cast suite on tiny budgets.
// No timing targets: the shapes of the outputs are checked, never the speed.
import { spawnSync } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

import { afterAll, describe, expect, it } from 'vitest'

import {
  type BenchCase,
  type BenchSuite,
  type Budget,
  baselineGroups,
  percentile,
  rotationSets,
} from '../lib/bench/harness.js'
import { renderSvg } from '../lib/bench/plot.js'
import { timeoutScale } from './fixtures/child.js'
import type { ResultFile } from '../lib/bench/report.js'
import { castSuite, jsToBf16 } from '../lib/bench/suites/cast.js'
import { type BenchReport, runBench } from '../lib/cli/bench.js'
import type { InfoReport } from '../lib/cli/info.js'

const root = fileURLToPath(new URL('..', import.meta.url))
const main = join(root, 'dist', 'cli', 'main.js')
const version = (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string }).version

function cli(...args: string[]) {
  const r = spawnSync(process.execPath, [main, ...args], {
    cwd: root,
    encoding: 'utf8',
    timeout: 60_000 * timeoutScale,
  })
  return { status: r.status, stdout: r.stdout, stderr: r.stderr }
}

const tmp = mkdtempSync(join(tmpdir(), 'sk-cli-'))
afterAll(() => rmSync(tmp, { recursive: true, force: true }))

/** Enough runs to have percentiles, short enough for a loaded 2-core machine. */
const kTiny: Budget = { timedMs: 20, minRuns: 5, maxRuns: 40, warmupMs: 0, warmupRuns: 1 }
const silent = { update() {}, done() {} }

describe('dist/cli/main.js', () => {
  it('is built (npm test runs after npm run build) and starts with a node shebang', () => {
    expect(existsSync(main), `${main} is missing: run npm run build:ts`).toBe(true)
    expect(readFileSync(main, 'utf8').split('\n')[0]).toBe('#!/usr/bin/env node')
  })

  it('info --json prints one object with versions, CPU, kernels, CUDA status and devices', () => {
    const r = cli('info', '--json')
    expect(r.status, r.stderr).toBe(0)
    const info = JSON.parse(r.stdout) as InfoReport
    expect(info.sparsekit).toBe(version)
    expect(info.node).toBe(process.version)
    expect(info.napi).toBe(process.versions.napi)
    expect(info.platform).toBe(process.platform)
    expect(info.arch).toBe(process.arch)
    expect(info.cpu.supportedIsas).toContain('scalar')
    expect(info.cpu.supportedIsas).toContain(info.cpu.isa)
    expect(info.cpu.kernels.cast).toMatch(/^sk_cast_ukernel__/)
    expect(info.cpu.threads).toBeGreaterThanOrEqual(1)
    expect(info.cpu.cores).toBeGreaterThanOrEqual(1)
    expect(typeof info.cpu.features).toBe('object')
    expect(typeof info.cuda.available).toBe('boolean')
    // Unavailable CUDA always says why.
    if (!info.cuda.available) expect(info.cuda.reason.length).toBeGreaterThan(0)
    expect(info.devices[0]).toMatchObject({ name: 'cpu', kind: 'cpu', isa: info.cpu.isa })
    expect(info.devices.length).toBe(1 + (info.cuda.available ? info.cuda.deviceCount : 0))
  })

  it('info prints readable lines naming the ISA, the kernels and CUDA', () => {
    const r = cli('info')
    expect(r.status, r.stderr).toBe(0)
    for (const key of ['sparsekit', 'node', 'isa', 'features', 'kernel cast', 'threads', 'cuda', 'devices'])
      expect(r.stdout).toMatch(new RegExp(`^${key} `, 'm'))
  })

  it('info names cuSPARSELt only where a CUDA device could use it', () => {
    const info = JSON.parse(cli('info', '--json').stdout) as InfoReport
    const r = cli('info')
    if (info.cuda.available) expect(r.stdout).toMatch(/^sparse 2:4 /m)
    else expect(r.stdout).not.toMatch(/cuSPARSELt|sparse 2:4/)
  })

  it.each([['--version'], ['-v']])('%s prints the version and exits 0', (flag) => {
    const r = cli(flag)
    expect(r.status, r.stderr).toBe(0)
    expect(r.stdout).toBe(`${version}\n`)
  })

  it('--help prints usage and exits 0', () => {
    const r = cli('--help')
    expect(r.status).toBe(0)
    expect(r.stdout).toMatch(/^Usage: sparsekit/)
    expect(r.stdout).toContain('--device')
  })

  it.each([
    [['bench', '--bogus'], /Unknown option '--bogus'/],
    [['info', '--quick'], /Unknown option '--quick'/],
    [['bench', 'extra'], /Unexpected argument 'extra'/],
    [['bench', '--device', 'tpu'], /--device must be cpu, cuda, cuda:N or auto/],
    [['bench', '--suite', 'nope', '--device', 'cpu'], /unknown suite 'nope'; known suites: cast, copy/],
    [['frobnicate'], /unknown command 'frobnicate'/],
    [[], /missing command/],
  ])('usage error %j exits 2 with a message', (args, message) => {
    const r = cli(...args)
    expect(r.status).toBe(2)
    expect(r.stderr).toMatch(message)
    expect(r.stderr).toContain('sparsekit --help')
    expect(r.stdout).toBe('')
  })

  it('bench --suite copy on the CPU is skipped with its reason, not faked, and writes no file', () => {
    const out = join(tmp, 'copy-skip')
    const r = cli('bench', '--quick', '--device', 'cpu', '--suite', 'copy', '--out', out)
    expect(r.status, r.stderr).toBe(0)
    expect(r.stdout).toMatch(/^copy: skipped on cpu: host↔device transfers need a CUDA device/m)
    expect(existsSync(join(out, 'copy-cpu.json'))).toBe(false)
  })
})

/** A tiny suite whose cases record what the harness did to them. */
function tinySuite(log: string[]): BenchSuite {
  const src = new Float32Array(1 << 14).fill(1.5)
  const dst = new Float32Array(1 << 14)
  const iterations: number[] = []
  const copy: BenchCase = { name: 'copy', bytes: src.byteLength * 2, run: () => dst.set(src) }
  const half: BenchCase = {
    name: 'half <copy> & more',
    bytes: src.byteLength,
    baseline: 'copy',
    setup: () => void log.push('setup'),
    run: (i) => {
      iterations.push(i)
      dst.set(src.subarray(0, src.length / 2))
    },
    teardown: () => void log.push(`teardown after ${iterations.length} runs from ${iterations[0]}`),
  }
  const flops: BenchCase = { name: 'flops only', flops: 1e6, baseline: 'copy', run: async () => void dst.fill(2) }
  return {
    name: 'tiny',
    description: 'harness self-test',
    bytesMeaning: 'bytes read + written',
    devices: ['cpu'],
    cases(ctx) {
      ctx.note(`quick=${ctx.quick} on ${ctx.device}`)
      ctx.defer(() => log.push('deferred'))
      return [copy, half, flops]
    },
  }
}

describe('bench harness', () => {
  it('runs a suite in-process: table on stdout, JSON with the machine and all rows, SVG beside it', async () => {
    const log: string[] = []
    let text = ''
    const out = join(tmp, 'tiny')
    const code = await runBench(
      {
        device: 'cpu',
        quick: true,
        json: false,
        plot: true,
        suites: [],
        out,
        budget: kTiny,
        progress: silent,
        write: (t) => void (text += t),
      },
      [tinySuite(log)],
    )
    expect(code).toBe(0)
    expect(log).toEqual(['setup', expect.stringMatching(/^teardown after \d+ runs from 0$/), 'deferred'])

    // Table: header lines, then one row per case with the ratio against its baseline.
    expect(text).toMatch(/^tiny on cpu \(.+, quick: harness self-test$/m)
    expect(text).toContain('quick=true on cpu')
    expect(text).toMatch(/^case\s+median ms\s+p10 ms\s+p90 ms\s+GB\/s\s+GFLOP\/s\s+runs\s+vs baseline$/m)
    expect(text).toMatch(/^copy\s.*\sbaseline$/m)
    expect(text).toMatch(/^half <copy> & more\s.*\s\d+\.\d\d× copy$/m)
    expect(text).toMatch(/^flops only\s.*\s\d+\.\d\d× copy \(time\)$/m)

    const file = JSON.parse(readFileSync(join(out, 'tiny-cpu.json'), 'utf8')) as ResultFile
    expect(file).toMatchObject({ suite: 'tiny', device: 'cpu', quick: true, notes: ['quick=true on cpu'] })
    expect(file.machine).toMatchObject({
      node: process.version,
      platform: process.platform,
      arch: process.arch,
      sparsekit: version,
    })
    expect(file.machine.cpu.length).toBeGreaterThan(0)
    expect(file.machine.cores).toBeGreaterThanOrEqual(1)
    expect(file.machine.memoryBytes).toBeGreaterThan(0)
    expect(file.machine.supportedIsas).toContain(file.machine.isa)
    expect(file.machine.threads).toBeGreaterThanOrEqual(1)
    expect(file.machine.cuda).toBeUndefined()
    expect(Number.isNaN(Date.parse(file.machine.date))).toBe(false)
    expect(file.rows.map((r) => r.name)).toEqual(['copy', 'half <copy> & more', 'flops only'])
    for (const r of file.rows) {
      expect(r.runs).toBeGreaterThanOrEqual(kTiny.minRuns)
      expect(r.runs).toBeLessThanOrEqual(kTiny.maxRuns)
      expect(r.p10Ms).toBeLessThanOrEqual(r.medianMs)
      expect(r.medianMs).toBeLessThanOrEqual(r.p90Ms)
      expect(r.medianMs).toBeGreaterThan(0)
    }
    const [copy, half, flops] = file.rows
    expect(copy.gbps).toBeCloseTo(copy.bytes! / (copy.medianMs * 1e6), 9)
    expect(copy.ratio).toBeUndefined()
    expect(half).toMatchObject({ baseline: 'copy', ratioBasis: 'GB/s' })
    expect(half.ratio).toBeCloseTo(half.gbps! / copy.gbps!, 9)
    expect(flops).toMatchObject({ baseline: 'copy', ratioBasis: 'time' })
    expect(flops.gflops).toBeCloseTo(1e6 / (flops.medianMs * 1e6), 9)
    expect(flops.ratio).toBeCloseTo(copy.medianMs / flops.medianMs, 9)

    const svg = readFileSync(join(out, 'tiny-cpu.svg'), 'utf8')
    expect(svg).toMatch(/^<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg" width="\d+" height="\d+"/)
    expect(svg.trimEnd().endsWith('</svg>')).toBe(true)
    expect(svg).toContain('half &lt;copy&gt; &amp; more') // names are escaped
    expect(svg).not.toMatch(/&(?!(lt|gt|amp|apos|quot);)/)
    expect(svg).toContain('GB/s (median')
    expect(svg.match(/<rect /g)!.length).toBe(1 + file.rows.length) // background + one bar per case
  })

  it('--json prints one document; skipped suites carry their reason; a failing suite exits 1 without stopping the rest', async () => {
    let text = ''
    const broken: BenchSuite = {
      name: 'broken',
      description: 'throws',
      devices: ['cpu'],
      cases: () => [
        {
          name: 'x',
          run: () => {
            throw new Error('boom')
          },
        },
      ],
    }
    const gpuOnly: BenchSuite = {
      name: 'gpuonly',
      description: 'cuda only',
      devices: ['cuda'],
      skipReason: 'needs a GPU',
      cases: () => [],
    }
    const stderr = process.stderr.write
    process.stderr.write = (() => true) as typeof process.stderr.write
    let code: number
    try {
      code = await runBench(
        {
          device: 'cpu',
          quick: true,
          json: true,
          plot: false,
          suites: [],
          out: join(tmp, 'json'),
          budget: kTiny,
          progress: silent,
          write: (t) => void (text += t),
        },
        [broken, gpuOnly, tinySuite([])],
      )
    } finally {
      process.stderr.write = stderr
    }
    expect(code).toBe(1)
    const report = JSON.parse(text) as BenchReport
    expect(report.failed).toEqual([{ suite: 'broken', device: 'cpu', error: 'boom' }])
    expect(report.skipped).toEqual([{ suite: 'gpuonly', device: 'cpu', reason: 'needs a GPU' }])
    expect(report.results.map((r) => r.suite)).toEqual(['tiny'])
    expect(report.files).toEqual([join(tmp, 'json', 'tiny-cpu.json')])
  })

  it('rounds: cases linked by baseline are set up together, timed in alternating rounds, torn down together; summary notes see the rows', async () => {
    const log: string[] = []
    const mk = (name: string, baseline?: string): BenchCase => ({
      name,
      baseline,
      setup: () => void log.push(`setup ${name}`),
      run: (i) => void (i === 0 && log.push(`run ${name}`)), // each round's first run
      teardown: () => void log.push(`teardown ${name}`),
    })
    const suite: BenchSuite = {
      name: 'rounds',
      description: 'harness self-test',
      devices: ['cpu'],
      rounds: 2,
      cases: () => [mk('ort'), mk('ours', 'ort'), mk('alone'), mk('mine', 'ours')],
      summary: (rows) => rows.map((r) => `${r.name} ${r.runs} runs${r.ratio === undefined ? '' : ' vs ' + r.baseline}`),
    }
    expect(baselineGroups(suite.cases({} as never) as BenchCase[]).map((g) => g.map((c) => c.name))).toEqual([
      ['ort', 'ours', 'mine'],
      ['alone'],
    ])
    let text = ''
    const opts = {
      device: 'cpu',
      quick: true,
      json: true,
      plot: false,
      suites: [],
      out: join(tmp, 'rounds'),
      budget: kTiny,
      progress: silent,
      write: (t: string) => void (text += t),
    }
    expect(await runBench(opts, [suite])).toBe(0)
    const group = ['ort', 'ours', 'mine']
    expect(log).toEqual([
      ...group.map((n) => `setup ${n}`),
      ...group.map((n) => `run ${n}`),
      ...group.map((n) => `run ${n}`),
      ...group.map((n) => `teardown ${n}`),
      'setup alone',
      'run alone',
      'run alone',
      'teardown alone',
    ])
    const result = (JSON.parse(text) as BenchReport).results[0]
    expect(result.rows.map((r) => r.name)).toEqual(['ort', 'ours', 'alone', 'mine']) // suite order
    for (const r of result.rows) expect(r.runs).toBeGreaterThanOrEqual(2 * Math.ceil(kTiny.minRuns / 2)) // both rounds pooled
    expect(result.notes).toEqual(
      result.rows.map((r) => `${r.name} ${r.runs} runs${r.baseline ? ' vs ' + r.baseline : ''}`),
    )
  })

  it('user-mode hooks: untimed before() precedes every run; firstRuns are timed after setup, before warm-up', async () => {
    const log: string[] = []
    const c: BenchCase = {
      name: 'kept',
      firstRuns: 3,
      setup: () => void log.push('setup'),
      before: (i) => void log.push(`before ${i}`),
      run: (i) => void log.push(`run ${i}`),
    }
    const suite: BenchSuite = {
      name: 'user-hooks',
      description: 'harness self-test',
      devices: ['cpu'],
      settleMs: 0,
      cases: () => [c],
    }
    let text = ''
    const opts = {
      device: 'cpu',
      quick: true,
      json: false,
      plot: false,
      suites: [],
      out: join(tmp, 'hooks'),
      budget: kTiny,
      progress: silent,
      write: (t: string) => void (text += t),
    }
    expect(await runBench(opts, [suite])).toBe(0)
    expect(log.slice(0, 7)).toEqual(['setup', 'before 0', 'run 0', 'before 1', 'run 1', 'before 2', 'run 2'])
    for (let i = 1; i < log.length; i += 2)
      expect([log[i].split(' ')[0], log[i + 1].split(' ')[0]]).toEqual(['before', 'run'])
    expect(text).toMatch(/^case\s+median ms\s+p10 ms\s+p90 ms\s+first 3 ms\s+runs\s+vs baseline$/m)
    const row = (JSON.parse(readFileSync(join(tmp, 'hooks', 'user-hooks-cpu.json'), 'utf8')) as ResultFile).rows[0]
    expect(row).toMatchObject({ name: 'kept', firstRuns: 3 })
    expect(row.firstMedianMs).toBeGreaterThanOrEqual(0)
  })

  it('rejects a case whose baseline is not in the suite', async () => {
    const bad: BenchSuite = {
      name: 'bad',
      description: '',
      devices: ['cpu'],
      cases: () => [{ name: 'a', baseline: 'b', run() {} }],
    }
    const stderr = process.stderr.write
    let message = ''
    process.stderr.write = ((t: string) => {
      message += t
      return true
    }) as typeof process.stderr.write
    try {
      const opts = {
        device: 'cpu',
        quick: true,
        json: false,
        plot: false,
        suites: [],
        out: join(tmp, 'bad'),
        budget: kTiny,
        progress: silent,
        write: () => {},
      }
      expect(await runBench(opts, [bad])).toBe(1)
    } finally {
      process.stderr.write = stderr
    }
    expect(message).toContain("names baseline 'b', which is not one of its cases")
  })

  it('percentile interpolates between ranks; rotation exceeds 64 MiB in at least 2 sets', () => {
    expect(percentile([1, 2, 3, 4, 5], 0.5)).toBe(3)
    expect(percentile([1, 2, 3, 4], 0.5)).toBe(2.5)
    expect(percentile([10, 20], 0.1)).toBeCloseTo(11, 12)
    expect(rotationSets(1 << 30)).toBe(2)
    const per = 24 << 20
    expect(rotationSets(per) * per).toBeGreaterThanOrEqual(64 << 20)
  })

  it('renders an SVG for rows with neither bytes nor flops (runs/s)', () => {
    const svg = renderSvg(
      {
        suite: 's',
        description: 'd',
        device: 'cpu',
        quick: false,
        notes: [],
        rows: [{ name: 'a', runs: 3, medianMs: 2, p10Ms: 1, p90Ms: 3 }],
      },
      ['cpu'],
    )
    expect(svg).toContain('runs/s')
    expect(svg).toContain('>500<') // 1000 / 2 ms
  })
})

describe('cast suite', () => {
  it('the JS bfloat16 baseline rounds to nearest even and keeps NaN quiet', () => {
    const bits = new Uint32Array([0x3f800000, 0x3f808000, 0x3f818000, 0x3f808001, 0x7f800000, 0x7f800001, 0xff7fffff])
    const out = new Uint16Array(bits.length)
    jsToBf16(bits, out)
    expect([...out]).toEqual([0x3f80, 0x3f80, 0x3f82, 0x3f81, 0x7f80, 0x7fc0, 0xff80])
  })

  it('runs on the CPU: every cast and the reference rows, against copy float32', async () => {
    let text = ''
    const out = join(tmp, 'cast')
    const opts = {
      device: 'cpu',
      quick: true,
      json: false,
      plot: false,
      suites: [],
      out,
      budget: kTiny,
      progress: silent,
      write: (t: string) => void (text += t),
    }
    expect(await runBench(opts, [castSuite])).toBe(0)
    const file = JSON.parse(readFileSync(join(out, 'cast-cpu.json'), 'utf8')) as ResultFile
    const names = file.rows.map((r) => r.name)
    for (const c of [
      'float32→float16',
      'float32→bfloat16',
      'float32→float8e4m3fn',
      'float16→float32',
      'float8e4m3fn→float32',
    ])
      expect(file.rows.find((r) => r.name === c)).toMatchObject({ baseline: 'copy float32', ratioBasis: 'GB/s' })
    expect(names[0]).toBe('copy float32')
    expect(names).toContain('JS loop float32→bfloat16 (1 thread)')
    expect(file.rows.find((r) => r.name === 'float32→float16')!.bytes).toBe(4 * 2 ** 20 * 6)
    expect(text).toMatch(/rotated/)
  })
})
