#!/usr/bin/env node
/**
 * The `sparsekit` command: `info` and `bench`. Exit codes: 0 success, 1 a
 * failure while running (a suite failed, CUDA asked for but unavailable),
 * 2 a usage error (unknown command, flag or suite).
 * @internal
 * @module
 */
import { parseArgs, type ParseArgsConfig } from 'node:util'

import { sparsekitVersion } from '../bench/report.js'
import { SparsekitError } from '../errors.js'
import { runBench, UsageError } from './bench.js'
import { collectInfo, formatInfo } from './info.js'

const kUsage = `Usage: sparsekit <command> [options]

Commands:
  info    versions, CPU features and the kernels picked, CUDA status, devices
  bench   run benchmark suites: a table per suite, results in <out>/<suite>-<device>.json

info options:
  --json            print one JSON object

bench options:
  --device DEVICE   cpu, cuda, cuda:N or auto (default auto: cuda:0 when CUDA is available, else cpu)
  --quick           smaller inputs, ~0.3 s per case (default ~2 s per case)
  --json            print the results as one JSON document instead of tables
  --plot            also write an SVG bar chart beside each JSON file
  --suite NAME      run only this suite; repeat for several (default: all)
  --out DIR         directory for result files (default bench/out)

  -h, --help        show this help
  -v, --version     print the version
`

function usageError(message: string): never {
  throw new UsageError(message)
}

type Options = NonNullable<ParseArgsConfig['options']>
type Values = Record<string, string | boolean | (string | boolean)[] | undefined>

/** parseArgs with strict checking: an unknown flag or a stray argument is a usage error. */
function parse(command: string, args: string[], options: Options): Values {
  try {
    const all: Options = { ...options, help: { type: 'boolean', short: 'h' } }
    return parseArgs({ args, options: all, strict: true, allowPositionals: false }).values
  } catch (err) {
    const code = (err as { code?: string }).code
    if (typeof code === 'string' && code.startsWith('ERR_PARSE_ARGS'))
      usageError(`${command}: ${(err as Error).message}`)
    throw err
  }
}

function help(): number {
  process.stdout.write(kUsage)
  return 0
}

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv
  if (command === undefined) usageError('missing command')
  if (command === '-h' || command === '--help' || command === 'help') return help()
  if (command === '-v' || command === '--version') {
    process.stdout.write(`${sparsekitVersion()}\n`)
    return 0
  }
  if (command === 'info') {
    const values = parse('info', rest, { json: { type: 'boolean' } })
    if (values.help) return help()
    const info = collectInfo()
    process.stdout.write(values.json ? JSON.stringify(info, null, 2) + '\n' : formatInfo(info) + '\n')
    return 0
  }
  if (command === 'bench') {
    const values = parse('bench', rest, {
      device: { type: 'string', default: 'auto' },
      quick: { type: 'boolean', default: false },
      json: { type: 'boolean', default: false },
      plot: { type: 'boolean', default: false },
      suite: { type: 'string', multiple: true, default: [] },
      out: { type: 'string', default: 'bench/out' },
    })
    if (values.help) return help()
    const device = values.device as string
    if (!/^(auto|cpu|cuda(:\d+)?)$/.test(device))
      usageError(`bench: --device must be cpu, cuda, cuda:N or auto, not '${device}'`)
    return runBench({
      device,
      quick: values.quick as boolean,
      json: values.json as boolean,
      plot: values.plot as boolean,
      suites: values.suite as string[],
      out: values.out as string,
    })
  }
  return usageError(`unknown command '${command}'`)
}

// No top-level await: lib/ compiles to CommonJS.
main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code
  },
  (err: unknown) => {
    if (err instanceof UsageError) {
      process.stderr.write(`sparsekit: ${err.message}\nRun 'sparsekit --help' for usage.\n`)
      process.exitCode = 2
    } else {
      // A SparsekitError's message already says what to do (e.g. why CUDA is unavailable).
      const message =
        err instanceof SparsekitError
          ? `${err.message} [${err.code}]`
          : err instanceof Error
            ? (err.stack ?? err.message)
            : String(err)
      process.stderr.write(`sparsekit: ${message}\n`)
      process.exitCode = 1
    }
  },
)
