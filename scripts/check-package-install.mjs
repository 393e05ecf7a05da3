#!/usr/bin/env node
// The release tarball as a user gets it: packed, installed into empty projects
// with install scripts disabled, then used the ways users use it:
//   - the README's example, verbatim, as an ES module
//   - `import` and `require` (CommonJS), alone and together: one copy of the
//     classes and of the native addon, the addon from prebuilds/<platform>-<arch>
//   - TypeScript with "module": "nodenext" in an ES module and in a CommonJS
//     project: type-checked (a wrong call must be an error) and run
//   - `npx sparsekit info` and `npx sparsekit --version`
//   - the load errors on a machine the package has no addon for
//   - in the Debian 11 build root (glibc 2.31, scripts/prebuild-root.sh) with
//     the node that runs there: the README example and a CUDA load
// Before packing, check-package.mjs's checkRelease (what prepack runs) must
// pass; it reads each binary's required symbol versions against the floor.
//
// Usage: node scripts/check-package-install.mjs [--keep]   (--keep: leave the temp folder)
// Under test-arm64.sh (SK_QEMU set) the running node is the emulated arm64 one:
// the consumer runs with it and loads prebuilds/linux-arm64; the TypeScript
// and build-root parts (x64 only, or the same on every machine) are left out.
import { spawnSync } from 'node:child_process'
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { arch, platform, tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

import { BINARIES, checkRelease, elfMachine, MANIFEST, symbolVersions } from './check-package.mjs'

const checkout = fileURLToPath(new URL('..', import.meta.url))
const target = `${platform()}-${arch()}`
const emulated = Boolean(process.env.SK_QEMU)

/** Files the tarball must hold besides the binaries; nothing that builds from source may be in it. */
const required = [
  'package.json',
  'LICENSE',
  'README.md',
  MANIFEST,
  'dist/package.json',
  'dist/index.js',
  'dist/index.d.ts',
  'dist/index.mjs',
  'dist/index.d.mts',
  'dist/cli/main.js',
]
const forbidden = [
  /^binding\.gyp$/,
  /^CMakeLists\.txt$/,
  /^csrc\//,
  /^cuda\//,
  /^build/,
  /^test\//,
  /^lib\//,
  /^scripts\//,
  /^node_modules\//,
  /\.tgz$/,
  /\.map$/,
]

/** The README's example (the ```ts block under "## Example"), verbatim. */
export function readmeExample() {
  const readme = readFileSync(join(checkout, 'README.md'), 'utf8')
  const m = /^## Example\n[\s\S]*?```ts\n([\s\S]*?)```/m.exec(readme)
  if (!m) throw new Error('README.md has no ```ts block under "## Example"')
  return m[1]
}

// CommonJS and ES module at once: one module instance, one addon.
const both = `
import * as esm from 'sparsekit'
import { createRequire } from 'node:module'
const require = createRequire(import.meta.url)
const cjs = require('sparsekit')
const t = esm.tensor(new Float32Array([1, 2.5, 65520, -0, NaN, 1e-8]), [2, 3])
const h = await cjs.tensor(new Float32Array([1, 2.5, 65520, -0, NaN, 1e-8]), [2, 3]).cast('float16')
let code = ''
try { cjs.zeros([-1]) } catch (err) { code = err instanceof esm.SparsekitError ? err.code : 'not a SparsekitError of the ES module' }
console.log(JSON.stringify({
  esmKeys: Object.keys(esm).sort(), cjsKeys: Object.keys(cjs).sort(),
  same: esm.Tensor === cjs.Tensor && esm.SparsekitError === cjs.SparsekitError && esm.tensor === cjs.tensor,
  crossInstance: t instanceof cjs.Tensor && h instanceof esm.Tensor, code,
  f16: [...h.data], addons: Object.keys(require.cache).filter((k) => k.endsWith('.node')),
}))
`
// CommonJS alone (no top-level await there).
const cjsOnly = `
const sk = require('sparsekit')
sk.tensor(new Float32Array([1, 2.5]), [2]).cast('bfloat16').then((b) => {
  console.log(JSON.stringify({ bf16: [...b.data], isa: sk.devices()[0].isa, addons: Object.keys(require.cache).filter((k) => k.endsWith('.node')) }))
})
`
// What a user sees when the package has no addon for this machine.
const loadErrors = `
const sk = require('sparsekit')
let cpu = ''
try { sk.devices() } catch (err) { cpu = err.code + ': ' + err.message }
console.log(JSON.stringify({ cpu, cuda: sk.cudaStatus().reason }))
`
// TypeScript in both module modes: the @ts-expect-error fails the check if the types are missing or any.
const tsMain = (esm) => `
import * as sk from 'sparsekit'
import { SparsekitError, type Tensor } from 'sparsekit'
async function main(): Promise<void> {
  const t: Tensor = sk.tensor(new Float32Array([1, 2]), [2])
  const h: Tensor = await t.cast('float16')
  const bits = h.data as Uint16Array
  // @ts-expect-error: dims are numbers
  const bad = () => sk.zeros(['two'])
  let code = ''
  try { sk.zeros([-1]) } catch (err) { if (err instanceof SparsekitError) code = err.code }
  console.log(JSON.stringify({ mode: ${JSON.stringify(esm ? 'esm' : 'cjs')}, type: h.type, bits: [...bits], code, bad: typeof bad }))
}
${esm ? 'await main()' : 'void main()'}
`

function clean(env) {
  // npm passes its config to scripts as npm_* variables; a nested npm would
  // read them as its own and could install into this checkout.
  const keep = new Set(['npm_config_cache', 'npm_config_registry', 'npm_config_userconfig'])
  return Object.fromEntries(Object.entries(env).filter(([k]) => !k.startsWith('npm_') || keep.has(k)))
}

/**
 * Packs, installs and exercises the package; throws with every problem found.
 * @returns the findings, for the test to assert on
 */
export function checkInstall({ keep = false, log = console.log } = {}) {
  const seconds = {}
  const env = clean(process.env)
  const step = (name, fn) => {
    const t0 = Date.now()
    const out = fn()
    seconds[name] = Math.round((Date.now() - t0) / 100) / 10
    log(`check-package-install: ${name} ${seconds[name]}s`)
    return out
  }
  const run = (cmd, args, cwd, extraEnv = {}) => {
    const r = spawnSync(cmd, args, { cwd, env: { ...env, ...extraEnv }, encoding: 'utf8', maxBuffer: 64 << 20 })
    if (r.status !== 0)
      throw new Error(
        `\`${cmd} ${args.join(' ')}\` in ${cwd} failed (${r.error?.message ?? `exit ${r.status ?? r.signal}`}):\n${r.stdout}\n${r.stderr}`,
      )
    return r.stdout
  }
  const lastJson = (out) => JSON.parse(out.trim().split('\n').pop())

  const release = checkRelease(checkout)
  if (release.length) throw new Error(`not a release (npm pack would refuse):\n${release.join('\n')}`)
  const tmp = mkdtempSync(join(tmpdir(), 'sparsekit-pack-'))
  try {
    // --ignore-scripts: prepack is checkRelease (just run) and prepare rebuilds dist/, which other tests read meanwhile.
    const [packed] = step('pack', () =>
      JSON.parse(run('npm', ['pack', '--json', '--ignore-scripts', '--pack-destination', tmp], checkout)),
    )
    const tarball = join(tmp, packed.filename)
    const paths = packed.files.map((f) => f.path)
    const problems = []
    for (const p of [...required, ...BINARIES.map((b) => b.path)])
      if (!paths.includes(p)) problems.push(`the tarball lacks ${p}`)
    for (const p of paths)
      if (forbidden.some((re) => re.test(p))) problems.push(`the tarball holds ${p}, which users never need`)
    if (problems.length) throw new Error(problems.join('\n'))

    // An empty project with the tarball installed, scripts off (the runtime
    // dependencies come from npm's cache when this checkout was installed).
    const project = (name, type) => {
      const dir = join(tmp, name)
      mkdirSync(dir)
      writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: `sk-${name}`, private: true, type }, null, 2))
      run(
        'npm',
        [
          'install',
          tarball,
          '--ignore-scripts',
          '--no-audit',
          '--no-fund',
          '--prefer-offline',
          '--no-package-lock',
          '--loglevel=error',
        ],
        dir,
      )
      return dir
    }
    const app = step('install', () => project('app', 'module'))
    const installed = join(app, 'node_modules', 'sparsekit')
    if (existsSync(join(installed, 'build')))
      throw new Error('the installed package has a build/ folder: something compiled on install')
    // What each shipped binary needs, read from the installed copy.
    const binaries = Object.fromEntries(
      BINARIES.map(({ path }) => [
        path,
        { machine: elfMachine(join(installed, path)), ...symbolVersions(join(installed, path)) },
      ]),
    )

    writeFileSync(join(app, 'example.mjs'), readmeExample())
    const example = step('readme example', () => run(process.execPath, ['example.mjs'], app))
    writeFileSync(join(app, 'both.mjs'), both)
    const together = step('import + require', () => lastJson(run(process.execPath, ['both.mjs'], app)))
    writeFileSync(join(app, 'cjs.cjs'), cjsOnly)
    const cjs = step('require', () => lastJson(run(process.execPath, ['cjs.cjs'], app)))
    // The bin as a user runs it. Under qemu, npx would start the host's node
    // (the bin's shebang), so the emulated node runs the linked bin instead.
    const bin = (...args) =>
      emulated
        ? run(process.execPath, [join(app, 'node_modules', '.bin', 'sparsekit'), ...args], app)
        : run('npx', ['--no-install', 'sparsekit', ...args], app)
    const info = step('npx sparsekit info', () => bin('info'))
    const version = bin('--version').trim()

    // Load errors a user can act on: a copy without this platform's CPU prebuild and without the CUDA one.
    const broken = join(tmp, 'broken')
    cpSync(app, broken, { recursive: true, verbatimSymlinks: true })
    rmSync(join(broken, 'node_modules', 'sparsekit', 'prebuilds', target), { recursive: true })
    rmSync(join(broken, 'node_modules', 'sparsekit', 'cuda-prebuild', target), { recursive: true, force: true })
    writeFileSync(join(broken, 'errors.cjs'), loadErrors)
    const errors = step('load errors', () =>
      lastJson(run(process.execPath, ['errors.cjs'], broken, { SPARSEKIT_CUDA: '' })),
    )

    const ts = {}
    if (!emulated)
      step('typescript', () => {
        for (const mode of ['esm', 'cjs']) {
          const dir = project(`ts-${mode}`, mode === 'esm' ? 'module' : 'commonjs')
          const compilerOptions = {
            module: 'nodenext',
            target: 'es2022',
            strict: true,
            outDir: 'out',
            skipLibCheck: false,
            types: ['node'],
            typeRoots: [join(checkout, 'node_modules', '@types')],
          }
          writeFileSync(join(dir, 'tsconfig.json'), JSON.stringify({ compilerOptions, files: ['main.ts'] }, null, 2))
          writeFileSync(join(dir, 'main.ts'), tsMain(mode === 'esm'))
          run(process.execPath, [join(checkout, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', dir], dir)
          ts[mode] = {
            ...lastJson(run(process.execPath, [join('out', 'main.js')], dir)),
            emitted: readFileSync(join(dir, 'out', 'main.js'), 'utf8'),
          }
        }
      })

    // The x64 prebuild in Debian 11, with the node that runs there.
    let oldRoot = null
    const rootScript = join(checkout, 'scripts', 'prebuild-root.sh')
    if (
      !emulated &&
      target === 'linux-x64' &&
      spawnSync('bash', [rootScript, 'verify'], { stdio: 'ignore' }).status === 0
    )
      oldRoot = step('debian 11 root', () => {
        const probe = `const sk = require('sparsekit'); const t = sk.tensor(new Float32Array([1, 2.5, 65520]), [3]);
          t.cast('float16').then((h) => console.log(JSON.stringify({ glibc: process.report.getReport().header.glibcVersionRuntime,
          f16: [...h.data], isa: sk.devices()[0].isa, cuda: sk.cudaStatus(), addons: Object.keys(require.cache).filter((k) => k.endsWith('.node')) })))`
        writeFileSync(join(app, 'probe.cjs'), probe)
        return {
          example: run('bash', [rootScript, 'run', '--bind', tmp, 'node', 'example.mjs'], app),
          ...lastJson(run('bash', [rootScript, 'run', '--bind', tmp, 'node', 'probe.cjs'], app)),
        }
      })
    return {
      tarball: packed.filename,
      files: paths.length,
      bytes: packed.size,
      unpackedBytes: packed.unpackedSize,
      listing: packed.files,
      installed,
      binaries,
      example,
      together,
      cjs,
      info,
      version,
      errors,
      ts,
      oldRoot,
      seconds,
    }
  } finally {
    if (keep) log(`check-package-install: kept ${tmp}`)
    else rmSync(tmp, { recursive: true, force: true })
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  try {
    const r = checkInstall({ keep: process.argv.includes('--keep') })
    console.log(
      `check-package-install: ${r.tarball}: ${r.files} files, ${(r.bytes / 1024).toFixed(0)} KiB packed, ${(r.unpackedBytes / 1024).toFixed(0)} KiB unpacked`,
    )
    for (const f of r.listing) console.log(`  ${String(f.size).padStart(9)}  ${f.path}`)
    for (const [path, b] of Object.entries(r.binaries))
      console.log(
        `check-package-install: ${path}: ${b.machine}, GLIBC_${b.glibc}${b.cxx.length ? `, ${b.cxx.join(' ')}` : ''}`,
      )
    console.log(
      `check-package-install: ok: README example, import, require, TypeScript (esm, cjs), npx sparsekit info, ${r.oldRoot ? `Debian 11 (glibc ${r.oldRoot.glibc})` : 'no build root here'}`,
    )
  } catch (err) {
    console.error(`check-package-install: FAILED\n${err.message}`)
    process.exit(1)
  }
}
