#!/usr/bin/env node
// Proves the npm tarball works as a user gets it: `npm pack`, install the
// tarball into an empty project with install scripts disabled, import it from
// ESM, cast a tensor, and run the `sparsekit` bin. Nothing is compiled on the
// consumer's side, so this is also the check that the prebuilds load.
//
// Usage: node scripts/check-package.mjs [--build-missing] [--keep]
//   --build-missing  build prebuilds/<this platform> first if it is missing
//   --keep           leave the temp folder (its path is printed)
// Under test-arm64.sh (SK_QEMU set) the running node is the emulated arm64
// one: the consumer runs with it and must load prebuilds/linux-arm64.
import { spawnSync } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { arch, platform, tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = fileURLToPath(new URL('..', import.meta.url))
const target = `${platform()}-${arch()}`

/** Files the tarball must hold; nothing that builds from source may be in it. */
const required = ['package.json', 'dist/index.js', 'dist/index.d.ts', 'dist/cli/main.js']
const forbidden = [/^binding\.gyp$/, /^csrc\//, /^cuda\//, /^build\//, /^test\//, /^lib\//, /^node_modules\//, /\.tgz$/]
/** Lifecycle scripts that would run on a consumer's `npm install` (and need approval in npm 11). */
const installScripts = ['preinstall', 'install', 'postinstall']

// Runs in the consumer: the README's example, checked bit for bit.
const smoke = `
import * as sk from 'sparsekit'
import { createRequire } from 'node:module'
const x = sk.tensor(new Float32Array([1, 2.5, 65520, -0, NaN, 1e-8]), [2, 3])
const h = await x.cast('float16')
const f8 = await x.cast('float8e4m3fn')
const back = await h.cast('float32')
const loaded = Object.keys(createRequire(process.cwd() + '/').cache).filter((k) => k.endsWith('.node'))
const cpu = sk.devices()[0]
console.log(JSON.stringify({
  dims: h.dims, type: h.type, f16: [...h.data], f8: [...f8.data], back: [...back.data].map(String),
  arch: cpu.arch, isa: cpu.isa, loaded, cuda: sk.cudaStatus(),
}))
for (const t of [x, h, f8, back]) t.dispose()
`
// float16 bits: 1, 2.5, 65520 rounds to even → Inf, -0, NaN (any payload), 1e-8 underflows to +0.
const wantF16 = [0x3c00, 0x4100, 0x7c00, 0x8000, 'nan', 0x0000]
// float8e4m3fn, saturating (the default): 65520 → 448 (0x7e), NaN → 0x7f.
const wantF8 = [0x38, 0x42, 0x7e, 0x80, 0x7f, 0x00]
const wantBack = ['1', '2.5', 'Infinity', '0', 'NaN', '0'] // String(-0) is '0'

function clean(env) {
  // npm passes its config to scripts as npm_* variables; a nested npm would
  // read them as its own and could install into this checkout.
  const keep = new Set(['npm_config_cache', 'npm_config_registry', 'npm_config_userconfig', 'npm_config_nodedir'])
  return Object.fromEntries(Object.entries(env).filter(([k]) => !k.startsWith('npm_') || keep.has(k)))
}

/**
 * Packs, installs and exercises the package; throws with every problem found.
 * @returns {{ tarball: string, files: number, bytes: number, prebuilds: string[], consumer: object, cli: object, seconds: Record<string, number> }}
 */
export function checkPackage({ buildMissing = false, keep = false, log = console.log } = {}) {
  const seconds = {}
  const env = clean(process.env)
  const step = (name, fn) => {
    const t0 = Date.now()
    const out = fn()
    seconds[name] = Math.round((Date.now() - t0) / 100) / 10
    log(`check-package: ${name} ${seconds[name]}s`)
    return out
  }
  const run = (cmd, args, cwd) => {
    const r = spawnSync(cmd, args, { cwd, env, encoding: 'utf8', maxBuffer: 64 << 20 })
    if (r.status !== 0)
      throw new Error(`\`${cmd} ${args.join(' ')}\` in ${cwd} failed (${r.error?.message ?? `exit ${r.status ?? r.signal}`}):\n${r.stdout}\n${r.stderr}`)
    return r.stdout
  }

  if (!existsSync(join(root, 'dist', 'index.js'))) throw new Error('dist/ is missing: run `npm run build:ts` first')
  const prebuildDir = join(root, 'prebuilds', target)
  const hasPrebuild = () => existsSync(prebuildDir) && readdirSync(prebuildDir).some((f) => f.endsWith('.node'))
  if (!hasPrebuild()) {
    if (!buildMissing || process.env.SK_QEMU)
      throw new Error(`prebuilds/${target} is missing: run \`npm run prebuild\`${target === 'linux-arm64' ? ' (or scripts/build-arm64.sh)' : ''}`)
    step('prebuild', () => run(process.execPath, [join(root, 'scripts', 'prebuild.mjs'), target], root))
  }

  const tmp = mkdtempSync(join(tmpdir(), 'sparsekit-pack-'))
  try {
    // --ignore-scripts: `prepare` would rebuild everything (and rewrite build/) on pack.
    const [packed] = step('pack', () => JSON.parse(run('npm', ['pack', '--json', '--ignore-scripts', '--pack-destination', tmp], root)))
    const tarball = join(tmp, packed.filename)
    const paths = packed.files.map((f) => f.path)
    const problems = []
    for (const p of required) if (!paths.includes(p)) problems.push(`the tarball lacks ${p}`)
    for (const p of paths) if (forbidden.some((re) => re.test(p))) problems.push(`the tarball holds ${p}, which users never need`)
    const prebuilds = paths.filter((p) => /^(prebuilds|cuda-prebuild)\/.+\.node$/.test(p))
    if (!prebuilds.some((p) => p.startsWith(`prebuilds/${target}/`))) problems.push(`the tarball has no prebuilds/${target}/*.node`)
    const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'))
    for (const s of installScripts) if (pkg.scripts?.[s]) problems.push(`package.json has an ${s} script; consumers must not need one`)
    if (pkg.gypfile !== false && paths.includes('binding.gyp')) problems.push('binding.gyp ships without "gypfile": false: npm would run node-gyp on install')
    if (problems.length) throw new Error(problems.join('\n'))

    const app = join(tmp, 'app')
    step('install', () => {
      mkdirSync(app)
      writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'sk-consumer', private: true, type: 'module' }, null, 2))
      // The runtime dependencies come from npm's cache when this checkout was installed.
      run('npm', ['install', tarball, '--prefix', app, '--ignore-scripts', '--no-audit', '--no-fund', '--prefer-offline', '--no-package-lock', '--loglevel=error'], app)
    })
    if (existsSync(join(app, 'node_modules', 'sparsekit', 'build')))
      throw new Error('the installed package has a build/ folder: something compiled on install')

    const consumer = step('import', () => JSON.parse(run(process.execPath, ['--input-type=module', '-e', smoke], app).trim().split('\n').pop()))
    const f16ok = consumer.f16.every((b, i) => (wantF16[i] === 'nan' ? (b & 0x7c00) === 0x7c00 && (b & 0x3ff) !== 0 : b === wantF16[i]))
    if (!f16ok) problems.push(`float16 bits ${hex(consumer.f16)}, expected ${hex(wantF16)}`)
    if (consumer.f8.join() !== wantF8.join()) problems.push(`float8e4m3fn bits ${hex(consumer.f8)}, expected ${hex(wantF8)}`)
    if (consumer.back.join() !== wantBack.join()) problems.push(`float16 → float32 gave ${consumer.back.join(', ')}, expected ${wantBack.join(', ')}`)
    if (consumer.arch !== arch()) problems.push(`the addon reports arch ${consumer.arch}, expected ${arch()}`)
    const fromPrebuild = consumer.loaded.some((p) => p.includes(join('node_modules', 'sparsekit', 'prebuilds', target)))
    if (!fromPrebuild) problems.push(`the CPU addon did not load from prebuilds/${target}: ${consumer.loaded.join(', ') || 'none loaded'}`)

    // The bin as a user runs it. Under qemu, npx would start the host's node
    // (the bin's shebang), so the emulated node runs the linked bin instead.
    const cli = step('cli', () => {
      const out = process.env.SK_QEMU
        ? run(process.execPath, [join(app, 'node_modules', '.bin', 'sparsekit'), 'info', '--json'], app)
        : run('npx', ['--no-install', 'sparsekit', 'info', '--json'], app)
      try {
        return JSON.parse(out)
      } catch {
        throw new Error(`\`sparsekit info --json\` printed no JSON:\n${out}`)
      }
    })
    if (problems.length) throw new Error(problems.join('\n'))
    return { tarball: packed.filename, files: paths.length, bytes: packed.size, prebuilds, consumer, cli, seconds }
  } finally {
    if (keep) log(`check-package: kept ${tmp}`)
    else rmSync(tmp, { recursive: true, force: true })
  }
}

function hex(list) {
  return `[${list.map((v) => (typeof v === 'number' ? `0x${v.toString(16)}` : v)).join(', ')}]`
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const args = process.argv.slice(2)
  try {
    const r = checkPackage({ buildMissing: args.includes('--build-missing'), keep: args.includes('--keep') })
    console.log(`check-package: ${r.tarball}: ${r.files} files, ${(r.bytes / 1024).toFixed(0)} KiB packed`)
    console.log(`check-package: binaries: ${r.prebuilds.join(', ')}`)
    console.log(`check-package: ok: installed without scripts, cast on ${r.consumer.arch}/${r.consumer.isa}, \`sparsekit info --json\` ran`)
  } catch (err) {
    console.error(`check-package: FAILED\n${err.message}`)
    process.exit(1)
  }
}
