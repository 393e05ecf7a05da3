#!/usr/bin/env node
// The binaries the npm package ships (package.json's script for it runs this).
//   prebuilds/linux-x64/sparsekit.node    prebuildify --napi, in a copy of the sources
//   prebuilds/linux-arm64/sparsekit.node  scripts/build-arm64.sh (cross-built)
//   cuda-prebuild/linux-x64/sparsekit_cuda.node  copied from build-cuda/Release when it exists
//
// prebuildify runs `node-gyp rebuild` in its working directory: that deletes
// build/ and then moves the .node out of build/Release. Run in the checkout it
// would leave the developer without build/Release/sparsekit.node, so it runs in
// a throwaway copy (build/prebuild-<platform>-<arch>/) and build/Release stays
// as it was.
//
// Usage: node scripts/prebuild.mjs [linux-x64] [linux-arm64]   (default: both)
import { spawnSync } from 'node:child_process'
import { copyFileSync, cpSync, existsSync, mkdirSync, readdirSync, rmSync, statSync } from 'node:fs'
import { arch, platform } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = fileURLToPath(new URL('..', import.meta.url))
const host = `${platform()}-${arch()}`
const known = ['linux-x64', 'linux-arm64']

/** Top-level entries a native build never reads: outputs, packages, history (bench/ stays: bench/native has a gyp target). */
const skipTop = new Set(['.git', 'node_modules', '.arm64', 'dist', 'prebuilds', 'cuda-prebuild', 'docs'])

function log(msg) {
  console.log(`prebuild: ${msg}`)
}

function run(cmd, args, opts = {}) {
  log(`$ ${[cmd, ...args].join(' ')}`)
  const r = spawnSync(cmd, args, { cwd: root, stdio: 'inherit', ...opts })
  if (r.status !== 0) throw new Error(`${cmd} failed (${r.error?.message ?? `exit ${r.status ?? r.signal}`})`)
}

/** Headers for node-gyp without a nodejs.org download: npm's nodedir, else the running node's own prefix. */
function nodedirEnv() {
  if (process.env.npm_config_nodedir) return {}
  const prefix = dirname(dirname(process.execPath))
  return existsSync(join(prefix, 'include', 'node', 'node_api.h')) ? { npm_config_nodedir: prefix } : {}
}

/** npm puts its bundled node-gyp on PATH for `npm run`; a direct `node scripts/prebuild.mjs` needs the same. */
function pathWithNodeGyp() {
  const path = process.env.PATH ?? ''
  const onPath = spawnSync('sh', ['-c', 'command -v node-gyp'], { encoding: 'utf8' }).status === 0
  if (onPath) return path
  const npm = spawnSync('sh', ['-c', 'readlink -f "$(command -v npm)"'], { encoding: 'utf8' }).stdout.trim()
  const gypBin = join(dirname(npm), 'node-gyp-bin')
  if (!existsSync(join(gypBin, 'node-gyp'))) throw new Error(`node-gyp not found on PATH nor in ${gypBin}`)
  return `${gypBin}:${path}`
}

function buildHost() {
  const dest = join(root, 'prebuilds', host)
  const src = join(root, 'build', `prebuild-${host}`)
  const t0 = Date.now()
  rmSync(src, { recursive: true, force: true })
  mkdirSync(src, { recursive: true })
  for (const name of readdirSync(root)) {
    if (skipTop.has(name) || name.startsWith('build') || name.endsWith('.tgz')) continue
    cpSync(join(root, name), join(src, name), { recursive: true })
  }
  // binding.gyp asks node for node-addon-api's gyp file. A copy inside src keeps
  // that path, and the Makefiles gyp writes for it, out of the checkout's build/.
  cpSync(join(root, 'node_modules', 'node-addon-api'), join(src, 'node_modules', 'node-addon-api'), { recursive: true })
  const env = { ...process.env, ...nodedirEnv(), PATH: pathWithNodeGyp(), JOBS: process.env.JOBS ?? 'max' }
  run(process.execPath, [join(root, 'node_modules', 'prebuildify', 'bin.js'), '--napi', '--strip', '--target', process.versions.node, '--cwd', src], { env })
  rmSync(dest, { recursive: true, force: true })
  cpSync(join(src, 'prebuilds', host), dest, { recursive: true })
  rmSync(src, { recursive: true, force: true }) // kept only when the build fails, to look at
  // Prove the prebuild loads (PREBUILDS_ONLY: node-gyp-build skips build/Release).
  const probe = spawnSync(
    process.execPath,
    ['-e', "const b = require('node-gyp-build')(process.argv[1]); console.log(b.cpuInfo().arch)", root],
    { cwd: root, env: { ...process.env, PREBUILDS_ONLY: '1' }, encoding: 'utf8' },
  )
  if (probe.status !== 0) throw new Error(`prebuilds/${host} does not load:\n${probe.stderr}`)
  log(`${host} built in ${((Date.now() - t0) / 1000).toFixed(0)}s and loads (arch ${probe.stdout.trim()})`)
}

function buildArm64() {
  const t0 = Date.now()
  run('bash', [join(root, 'scripts', 'build-arm64.sh')], { env: { ...process.env, PATH: pathWithNodeGyp() } })
  log(`linux-arm64 built in ${((Date.now() - t0) / 1000).toFixed(0)}s`)
}

function copyCuda() {
  const built = join(root, 'build-cuda', 'Release', 'sparsekit_cuda.node')
  if (!existsSync(built)) {
    log('no build-cuda/Release/sparsekit_cuda.node: the package ships without the CUDA addon')
    return
  }
  const dest = join(root, 'cuda-prebuild', host)
  rmSync(dest, { recursive: true, force: true })
  mkdirSync(dest, { recursive: true })
  copyFileSync(built, join(dest, 'sparsekit_cuda.node'))
  log(`cuda-prebuild/${host}/sparsekit_cuda.node (${(statSync(built).size / 2 ** 20).toFixed(1)} MiB)`)
}

function main() {
  const wanted = process.argv.slice(2)
  for (const w of wanted) if (!known.includes(w)) throw new Error(`unknown target ${w}; expected ${known.join(' or ')}`)
  const targets = wanted.length ? wanted : known
  if (host !== 'linux-x64') throw new Error(`prebuilds are made on linux-x64 (this is ${host})`)
  if (targets.includes('linux-x64')) buildHost()
  if (targets.includes('linux-arm64')) buildArm64()
  if (targets.includes('linux-x64')) copyCuda()
  for (const dir of ['prebuilds', 'cuda-prebuild']) {
    if (!existsSync(join(root, dir))) continue
    for (const sub of readdirSync(join(root, dir)))
      for (const f of readdirSync(join(root, dir, sub)))
        log(`${dir}/${sub}/${f}  ${(statSync(join(root, dir, sub, f)).size / 1024).toFixed(0)} KiB`)
  }
}

try {
  main()
} catch (err) {
  console.error(`prebuild: error: ${err.message}`)
  process.exit(1)
}
