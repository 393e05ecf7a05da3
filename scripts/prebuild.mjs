#!/usr/bin/env node
// `npm run prebuilds`: the binaries the npm package ships, built in a Debian 11
// root (scripts/prebuild-root.sh: glibc 2.31, GCC 10) so that they load on any
// Linux with glibc 2.31 or newer:
//   prebuilds/linux-x64/sparsekit.node            prebuildify --napi, in a copy of the sources
//   prebuilds/linux-arm64/sparsekit.node          scripts/build-arm64.sh (cross-built; also .arm64/bin/sk_native_tests)
//   cuda-prebuild/linux-x64/sparsekit_cuda.node   scripts/build-cuda.mjs into build/prebuild-cuda (needs /usr/local/cuda)
//   prebuilds/release.json                        per binary: sha256, the sources' hash, the glibc it needs
// Each binary is checked (check-package.mjs: machine, glibc ≤ 2.31, no GLIBCXX)
// before it is recorded. build/Release and build-cuda/ stay as they were.
//
// On the host this makes (or reuses) the root, fetches the arm64 Node headers
// from npm, and runs itself inside the root, where SK_IN_BUILD_ROOT is set.
//
// Usage: node scripts/prebuild.mjs [linux-x64] [linux-arm64] [cuda]   (default: all three)
import { spawnSync } from 'node:child_process'
import {
  copyFileSync,
  cpSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs'
import { arch, platform } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

import { nodeHeadersDir } from './build-cpu.mjs'
import {
  BINARIES,
  checkBinary,
  GLIBC_FLOOR,
  MANIFEST,
  nativeSourceHash,
  sha256,
  symbolVersions,
} from './check-package.mjs'

const root = fileURLToPath(new URL('..', import.meta.url))
const targets = {
  'linux-x64': 'prebuilds/linux-x64/sparsekit.node',
  'linux-arm64': 'prebuilds/linux-arm64/sparsekit.node',
  cuda: 'cuda-prebuild/linux-x64/sparsekit_cuda.node',
}

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

function timed(name, fn) {
  const t0 = Date.now()
  fn()
  log(`${name}: ${((Date.now() - t0) / 1000).toFixed(0)}s`)
}

// prebuildify runs `node-gyp rebuild` in its working directory: that deletes
// build/ and then moves the .node out of build/Release. Run in the checkout it
// would leave the developer without build/Release/sparsekit.node, so it runs
// in a throwaway copy (build/prebuild-linux-x64/).
function buildX64() {
  const src = join(root, 'build', 'prebuild-linux-x64')
  rmSync(src, { recursive: true, force: true })
  mkdirSync(src, { recursive: true })
  for (const name of readdirSync(root)) {
    if (skipTop.has(name) || name.startsWith('build') || name.endsWith('.tgz')) continue
    cpSync(join(root, name), join(src, name), { recursive: true })
  }
  // binding.gyp asks node for node-addon-api's gyp file. A copy inside src keeps
  // that path, and the Makefiles gyp writes for it, out of the checkout's build/.
  cpSync(join(root, 'node_modules', 'node-addon-api'), join(src, 'node_modules', 'node-addon-api'), { recursive: true })
  // prebuildify finds node-gyp (a devDependency) in node_modules/.bin above src.
  const env = { ...process.env, npm_config_nodedir: nodeHeadersDir(), JOBS: process.env.JOBS ?? 'max' }
  run(
    process.execPath,
    [
      join(root, 'node_modules', 'prebuildify', 'bin.js'),
      '--napi',
      '--strip',
      '--target',
      process.versions.node,
      '--cwd',
      src,
    ],
    { env },
  )
  const dest = join(root, 'prebuilds', 'linux-x64')
  rmSync(dest, { recursive: true, force: true })
  cpSync(join(src, 'prebuilds', 'linux-x64'), dest, { recursive: true })
  rmSync(src, { recursive: true, force: true }) // kept only when the build fails, to look at
  // Loads here, in the root (PREBUILDS_ONLY: node-gyp-build skips build/Release).
  const probe = spawnSync(
    process.execPath,
    ['-e', "console.log(require('node-gyp-build')(process.argv[1]).cpuInfo().isa)", root],
    {
      cwd: root,
      env: { ...process.env, PREBUILDS_ONLY: '1' },
      encoding: 'utf8',
    },
  )
  if (probe.status !== 0) throw new Error(`prebuilds/linux-x64 does not load:\n${probe.stderr}`)
  log(`prebuilds/linux-x64 loads (isa ${probe.stdout.trim()})`)
}

function buildCuda() {
  if (!existsSync('/usr/local/cuda/bin/nvcc'))
    throw new Error('the CUDA prebuild needs the CUDA toolkit in /usr/local/cuda')
  const out = join('build', 'prebuild-cuda')
  run(process.execPath, [join(root, 'scripts', 'build-cuda.mjs')], {
    env: { ...process.env, SPARSEKIT_CUDA_BUILD_DIR: out, CUDACXX: '/usr/local/cuda/bin/nvcc' },
  })
  const built = join(root, out, 'Release', 'sparsekit_cuda.node')
  if (!existsSync(built)) throw new Error(`${out}/Release/sparsekit_cuda.node was not built`)
  mkdirSync(join(root, 'cuda-prebuild', 'linux-x64'), { recursive: true })
  copyFileSync(built, join(root, targets.cuda))
}

/** Inside the root: builds what was asked. */
function buildHere(wanted) {
  if (wanted.includes('linux-x64')) timed('linux-x64', buildX64)
  if (wanted.includes('linux-arm64')) timed('linux-arm64', () => run('bash', [join(root, 'scripts', 'build-arm64.sh')]))
  if (wanted.includes('cuda')) timed('cuda', buildCuda)
}

/** On the host: the root, the arm64 headers, the builds in the root, then the checks and the manifest. */
function buildInRoot(wanted) {
  if (`${platform()}-${arch()}` !== 'linux-x64')
    throw new Error(`prebuilds are made on linux-x64 (this is ${platform()}-${arch()})`)
  const rootScript = join(root, 'scripts', 'prebuild-root.sh')
  timed('build root', () => run('bash', [rootScript, 'ensure'], { stdio: ['ignore', 'ignore', 'inherit'] }))
  if (wanted.includes('linux-arm64'))
    run('bash', [join(root, 'scripts', 'build-arm64.sh'), '--node'], { stdio: ['ignore', 'ignore', 'inherit'] })
  run('bash', [rootScript, 'run', 'node', 'scripts/prebuild.mjs', ...wanted])

  const path = join(root, MANIFEST)
  const manifest = existsSync(path) ? JSON.parse(readFileSync(path, 'utf8')) : { binaries: {} }
  const rootInfo = spawnSync(
    'bash',
    [
      rootScript,
      'run',
      'sh',
      '-c',
      'echo "Debian $(cat /etc/debian_version), glibc $(ldd --version | head -n 1 | awk \'{print $NF}\'), g++ $(g++ -dumpversion), $(cmake --version | head -n 1)"',
    ],
    { cwd: root, encoding: 'utf8' },
  )
  manifest.root = rootInfo.stdout.trim()
  manifest.glibcFloor = GLIBC_FLOOR
  const sources = nativeSourceHash(root)
  for (const w of wanted) {
    const rel = targets[w]
    const problems = checkBinary(join(root, rel), BINARIES.find((b) => b.path === rel).machine)
    if (problems.length) throw new Error(problems.join('\n'))
    manifest.binaries[rel] = {
      sha256: sha256(join(root, rel)),
      sources,
      glibc: symbolVersions(join(root, rel)).glibc,
      built: new Date().toISOString(),
    }
    log(
      `${rel}: ${(statSync(join(root, rel)).size / 2 ** 20).toFixed(1)} MiB, needs GLIBC_${manifest.binaries[rel].glibc}`,
    )
  }
  writeFileSync(path, JSON.stringify(manifest, null, 2) + '\n')
  log(`${MANIFEST} written (${manifest.root})`)
}

function main() {
  const wanted = process.argv.slice(2)
  for (const w of wanted)
    if (!(w in targets)) throw new Error(`unknown target ${w}; expected ${Object.keys(targets).join(', ')}`)
  const chosen = wanted.length ? wanted : Object.keys(targets)
  if (process.env.SK_IN_BUILD_ROOT) buildHere(chosen)
  else timed('prebuilds', () => buildInRoot(chosen))
}

try {
  main()
} catch (err) {
  console.error(`prebuild: error: ${err.message}`)
  process.exit(1)
}
