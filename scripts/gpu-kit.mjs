#!/usr/bin/env node
// `npm run gpu:kit`: builds here everything a bare GPU machine needs to run
// scripts/gpu-kit-run.sh (it has no Node, npm or make) and packs it into one
// git-ignored folder, .gpu-kit/, under 60 MiB (docs/gpu-kit.md):
//   node.xz         this Node binary, xz-compressed
//   payload.tar.xz  unpacked over the checkout there: node_modules/ (the
//                   runtime closure of package.json's dependencies and vitest,
//                   read from the installed package.json files), dist/,
//                   build/Release/{sparsekit.node,sk_native_tests},
//                   build-cuda/Release/sparsekit_cuda.node (sm_90a + PTX),
//                   build-gpu-kit/gpu-probe-mma-sp (the mma.sp layout probe)
//   manifest.json   what was packed, from which commit, sizes, and a hash of
//                   the sources the binaries were built from (the device
//                   hashes its copy to tell a stale kit)
// Builds first: TypeScript (dist/), the CPU addon and the native tests
// (build/, incremental), the CUDA addon for 90a in build-gpu-kit/cuda/ (its
// own folder: build-cuda/ keeps the default architectures), the probe.
// Then prints the device call (carry list and command).
//
// Env: SK_KIT_XZ_LEVEL (default 1: higher levels pack a few MiB smaller and
// take several times longer), SPARSEKIT_BUILD_JOBS (nvcc jobs, default 2).
import { spawnSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { basename, dirname, join, relative } from 'node:path'
import { fileURLToPath } from 'node:url'

import { nodeHeadersDir } from './build-cpu.mjs'

const root = fileURLToPath(new URL('..', import.meta.url))
const kitDir = join(root, '.gpu-kit')
const work = join(root, 'build-gpu-kit')
const stage = join(work, 'stage')
const probe = join(work, 'gpu-probe-mma-sp')
const kLimitBytes = 60 * 2 ** 20
const kTreeLimitBytes = 64 * 2 ** 20
const xzLevel = process.env.SK_KIT_XZ_LEVEL ?? '1'
/** Inputs of the binaries: a change here after packing makes the kit stale. */
const kSourceRoots = [
  'lib',
  'csrc',
  'cuda',
  'scripts/gpu-probe-mma-sp.cu',
  'CMakeLists.txt',
  'binding.gyp',
  'tsconfig.json',
  'package.json',
  'package-lock.json',
]

const mib = (bytes) => `${(bytes / 2 ** 20).toFixed(1)} MiB`

function log(msg) {
  console.log(`gpu-kit: ${msg}`)
}

function die(msg) {
  console.error(`gpu-kit: error: ${msg}`)
  process.exit(1)
}

function run(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { cwd: root, stdio: 'inherit', ...opts })
  if (r.status !== 0) die(`${cmd} ${args.join(' ')} failed (${r.error?.message ?? `exit ${r.status ?? r.signal}`})`)
}

function output(cmd, args) {
  const r = spawnSync(cmd, args, { cwd: root, encoding: 'utf8' })
  return r.status === 0 ? r.stdout.trim() : ''
}

async function timed(what, fn) {
  const t0 = Date.now()
  log(`${what} ...`)
  await fn()
  log(`${what}: ${((Date.now() - t0) / 1000).toFixed(1)} s`)
}

/** The headers node-gyp needs without a download: npm's nodedir, else this Node's own prefix. */
function nodeGypEnv() {
  return { ...process.env, npm_config_nodedir: nodeHeadersDir() }
}

function newerThan(target, sources) {
  if (!existsSync(target)) return false
  const t = statSync(target).mtimeMs
  return sources.every((s) => statSync(s).mtimeMs < t)
}

// ---- the runtime node_modules: package.json dependency graphs, as Node resolves them

/** The installed folder `name` resolves to from package folder `from` (Node's lookup, stopping at the checkout). */
function resolvePackage(from, name) {
  for (let dir = from; ; dir = dirname(dir)) {
    if (basename(dir) !== 'node_modules') {
      const candidate = join(dir, 'node_modules', name)
      if (existsSync(join(candidate, 'package.json'))) return candidate
    }
    if (dir === root || dirname(dir) === dir) return null
  }
}

/**
 * Package folders reachable from `names` through dependencies, installed
 * optionalDependencies (npm installs only this platform's) and peer
 * dependencies not marked optional. A required one that is not installed is
 * an error.
 */
function runtimeClosure(names) {
  const found = new Set()
  const queue = names.map((name) => ({ from: root, name, required: true, by: 'package.json' }))
  while (queue.length > 0) {
    const { from, name, required, by } = queue.pop()
    const dir = resolvePackage(from, name)
    if (!dir) {
      if (required) die(`${name} (needed by ${by}) is not installed: run npm ci`)
      continue
    }
    if (found.has(dir)) continue
    found.add(dir)
    const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'))
    const add = (deps, required) => {
      for (const dep of deps) queue.push({ from: dir, name: dep, required, by: pkg.name })
    }
    add(Object.keys(pkg.dependencies ?? {}), true)
    add(Object.keys(pkg.optionalDependencies ?? {}), false)
    // An optional peer is used only when the application installs it for its own needs: not ours.
    add(
      Object.keys(pkg.peerDependencies ?? {}).filter((n) => pkg.peerDependenciesMeta?.[n]?.optional !== true),
      true,
    )
  }
  return [...found].sort()
}

/** Copies the closure into stage/node_modules: each package without the nested node_modules it holds. */
function stageModules(dirs) {
  for (const dir of dirs) {
    const dest = join(stage, relative(root, dir))
    cpSync(dir, dest, {
      recursive: true,
      filter: (src) => !relative(dir, src).split('/').includes('node_modules'),
    })
  }
}

// ---- sources and sizes

function sourceFiles() {
  const listed = output('git', ['ls-files', '--cached', '--others', '--exclude-standard', '--', ...kSourceRoots])
  if (!listed) die('git ls-files listed no sources (is this a git checkout?)')
  return listed
    .split('\n')
    .filter((f) => existsSync(join(root, f)))
    .sort()
}

/**
 * sha256 of `sha256sum`'s lines for the files, sorted by byte: what
 * gpu-kit-run.sh recomputes over `find` of the roots in its copy, which holds
 * exactly the tracked and untracked-not-ignored files listed here.
 */
function sourceHash(files) {
  const lines = files.map(
    (f) =>
      `${createHash('sha256')
        .update(readFileSync(join(root, f)))
        .digest('hex')}  ${f}\n`,
  )
  return createHash('sha256').update(lines.join('')).digest('hex')
}

function dirBytes(dir) {
  let total = 0
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name)
    total += e.isDirectory() ? dirBytes(p) : e.isFile() ? statSync(p).size : 0
  }
  return total
}

/** Bytes of what the device tool sends besides carried paths: tracked and untracked-not-ignored files. */
function treeBytes() {
  const files = output('git', ['ls-files', '--cached', '--others', '--exclude-standard', '-z'])
    .split('\0')
    .filter(Boolean)
  return files.reduce((sum, f) => {
    try {
      return sum + statSync(join(root, f)).size
    } catch {
      return sum // deleted in the working tree
    }
  }, 0)
}

// ---- main

if (process.platform !== 'linux' || process.arch !== 'x64')
  die(`the GPU machines are linux-x64; this is ${process.platform}-${process.arch}`)
for (const tool of ['tar', 'xz', 'git']) if (!output('sh', ['-c', `command -v ${tool}`])) die(`${tool} is needed here`)
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'))
const t0 = Date.now()

// build-ts.mjs, not tsc alone: dist/ also needs its package.json (CommonJS) and the ES module entry.
await timed('TypeScript (dist/)', () => run(process.execPath, [join(root, 'scripts', 'build-ts.mjs')]))
await timed('CPU addon and native tests (build/)', () => {
  const gyp = join(root, 'node_modules', 'node-gyp', 'bin', 'node-gyp.js')
  // configure regenerates the Makefiles only (a rebuild would start from nothing); make then rebuilds what changed.
  const configured =
    existsSync(join(root, 'build', 'config.gypi')) &&
    newerThan(join(root, 'build', 'Makefile'), [join(root, 'binding.gyp')])
  if (!configured) run(process.execPath, [gyp, 'configure'], { env: nodeGypEnv() })
  run(process.execPath, [gyp, 'build', '--jobs', 'max'], { env: nodeGypEnv() })
})
await timed('CUDA addon for sm_90a + PTX (build-gpu-kit/cuda/)', () =>
  run(process.execPath, [join(root, 'scripts', 'build-cuda.mjs')], {
    env: {
      ...process.env,
      SPARSEKIT_CUDA_ARCHS: '90a',
      SPARSEKIT_CUDA_BUILD_DIR: 'build-gpu-kit/cuda',
      SPARSEKIT_CUDA_REQUIRED: '1',
    },
  }),
)
await timed('mma.sp layout probe (sm_90a)', () => {
  const inputs = [join(root, 'scripts', 'gpu-probe-mma-sp.cu'), join(root, 'cuda', 'sp24', 'fragments.h')]
  if (newerThan(probe, inputs)) return log('probe is up to date')
  const nvcc = output('sh', ['-c', 'command -v nvcc']) || '/usr/local/cuda/bin/nvcc'
  run(nvcc, [
    '-std=c++17',
    '-O2',
    '-gencode',
    'arch=compute_90a,code=sm_90a',
    '-I.',
    '-o',
    probe,
    'scripts/gpu-probe-mma-sp.cu',
  ])
})

const built = {
  dist: join(root, 'dist'),
  'build/Release/sparsekit.node': join(root, 'build', 'Release', 'sparsekit.node'),
  'build/Release/sk_native_tests': join(root, 'build', 'Release', 'sk_native_tests'),
  'build-cuda/Release/sparsekit_cuda.node': join(work, 'cuda', 'Release', 'sparsekit_cuda.node'),
  'build-gpu-kit/gpu-probe-mma-sp': probe,
}
for (const [name, path] of Object.entries(built)) if (!existsSync(path)) die(`${name} was not built (${path})`)

let modules = []
await timed('staging the payload', () => {
  rmSync(stage, { recursive: true, force: true })
  mkdirSync(stage, { recursive: true })
  for (const [name, path] of Object.entries(built)) cpSync(path, join(stage, name), { recursive: true })
  modules = runtimeClosure([...Object.keys(pkg.dependencies ?? {}), 'vitest'])
  stageModules(modules)
  log(
    `node_modules: ${modules.length} packages, ${mib(dirBytes(join(stage, 'node_modules')))} unpacked: ${modules.map((d) => relative(join(root, 'node_modules'), d)).join(' ')}`,
  )
})

rmSync(kitDir, { recursive: true, force: true })
mkdirSync(kitDir, { recursive: true })
const xzEnv = { ...process.env, XZ_OPT: `-T0 -${xzLevel}` }
await timed(`payload.tar.xz (xz -${xzLevel})`, () =>
  run(
    'tar',
    [
      '--sort=name',
      '--owner=0',
      '--group=0',
      '--numeric-owner',
      '-C',
      stage,
      '-cJf',
      join(kitDir, 'payload.tar.xz'),
      ...readdirSync(stage).sort(),
    ],
    { env: xzEnv },
  ),
)

// Node compresses slowly: build-gpu-kit/ keeps the last node.xz, reused when made from this binary at this level.
const nodeStat = statSync(process.execPath)
const nodeStamp = `${process.execPath} ${process.version} ${nodeStat.size} ${nodeStat.mtimeMs} xz-${xzLevel}`
const cachedXz = join(work, 'node.xz')
const stampFile = join(work, 'node.xz.stamp')
await timed(`node.xz (${process.version}, xz -${xzLevel})`, () => {
  if (existsSync(cachedXz) && existsSync(stampFile) && readFileSync(stampFile, 'utf8') === nodeStamp)
    log('reusing build-gpu-kit/node.xz')
  else {
    rmSync(stampFile, { force: true })
    run('sh', ['-c', `xz -T0 -${xzLevel} -c "$1" > "$2"`, 'sh', process.execPath, cachedXz])
    writeFileSync(stampFile, nodeStamp)
  }
  cpSync(cachedXz, join(kitDir, 'node.xz'))
})

const sources = sourceFiles()
const files = Object.fromEntries(['node.xz', 'payload.tar.xz'].map((f) => [f, statSync(join(kitDir, f)).size]))
const manifest = {
  sparsekit: pkg.version,
  commit: output('git', ['rev-parse', 'HEAD']) || 'unknown',
  uncommittedChanges: output('git', ['status', '--porcelain', '--untracked-files=no']) !== '',
  built: new Date().toISOString(),
  node: process.version,
  cudaArchs: '90a (SASS) + compute_90 (PTX)',
  sourceRoots: kSourceRoots,
  sourceFiles: sources.length,
  sourceHash: sourceHash(sources),
  modules: modules.map((d) => relative(root, d)),
  files,
}
writeFileSync(join(kitDir, 'manifest.json'), JSON.stringify(manifest, null, 2) + '\n')

const kitBytes = dirBytes(kitDir)
const tree = treeBytes()
log(
  `kit: ${mib(kitBytes)} (limit 60 MiB): ${Object.entries(files)
    .map(([f, b]) => `${f} ${mib(b)}`)
    .join(', ')}`,
)
log(`sent to the device: ${mib(kitBytes + tree)} with the working tree (${mib(tree)}; limit 64 MiB)`)
log(
  `built in ${((Date.now() - t0) / 1000).toFixed(0)} s from ${manifest.commit.slice(0, 12)}${manifest.uncommittedChanges ? ' with uncommitted changes' : ''}`,
)
if (kitBytes > kLimitBytes) die(`the kit is ${mib(kitBytes)}, over 60 MiB`)
if (kitBytes + tree > kTreeLimitBytes)
  die(`the kit and the working tree are ${mib(kitBytes + tree)}, over the device's 64 MiB`)
console.log(`
Run it on a GPU machine with the device tool (docs/gpu-kit.md):
  carry:     [".gpu-kit"]
  command:   bash scripts/gpu-kit-run.sh
  timeout_s: 420
Then read summary.txt; logs.tgz holds every log and results/*-cuda.json.`)
