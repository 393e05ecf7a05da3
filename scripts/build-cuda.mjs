#!/usr/bin/env node
// Builds the CUDA addon (build-cuda/Release/sparsekit_cuda.node) with cmake-js,
// or skips it with one line where nvcc is absent or SPARSEKIT_SKIP_CUDA=1, so
// `npm run build` works on machines without the CUDA toolkit.
//
// Environment:
//   SPARSEKIT_CUDA_ARCHS  SASS targets, e.g. "90a" or "80;89;90a" (default: CMakeLists.txt's)
//   SPARSEKIT_CUDA_BUILD_DIR  build folder, relative to the checkout (default build-cuda; the GPU kit
//                         builds its 90a-only addon in its own, so build-cuda/ keeps the default archs)
//   SPARSEKIT_CUDA_REQUIRED=1  fail instead of skipping when nvcc is absent
//   SPARSEKIT_SKIP_CUDA=1 skip the build
//   SPARSEKIT_BUILD_JOBS  parallel compile jobs (default 2: nvcc is memory hungry)
//   CUDACXX               the nvcc to use (else PATH, then /usr/local/cuda/bin)
import { spawnSync } from 'node:child_process'
import { accessSync, constants, readFileSync, realpathSync, rmSync } from 'node:fs'
import { delimiter, dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = fileURLToPath(new URL('..', import.meta.url))
const DEFAULT_JOBS = 2

function executable(path) {
  try {
    accessSync(path, constants.X_OK)
    return true
  } catch {
    return false
  }
}

function findNvcc() {
  if (process.env.CUDACXX && executable(process.env.CUDACXX)) return process.env.CUDACXX
  const dirs = (process.env.PATH ?? '').split(delimiter).filter(Boolean)
  for (const dir of [...dirs, '/usr/local/cuda/bin']) {
    const candidate = join(dir, 'nvcc')
    if (executable(candidate)) return candidate
  }
  return null
}

function skip(why) {
  if (process.env.SPARSEKIT_CUDA_REQUIRED === '1') {
    console.error(`sparsekit: ${why}, and the CUDA addon is required (SPARSEKIT_CUDA_REQUIRED=1)`)
    process.exit(1)
  }
  console.log(`sparsekit: ${why}, skipping the CUDA addon`)
  process.exit(0)
}

if (process.env.SPARSEKIT_SKIP_CUDA === '1') skip('SPARSEKIT_SKIP_CUDA=1')
const found = findNvcc()
if (!found) skip('nvcc not found')
// The real path, so /usr/local/bin/nvcc and /usr/local/cuda/bin/nvcc (one binary) do not look like a change.
const nvcc = realpathSync(found)

// CMake cannot switch compilers inside an existing cache: it deletes the cache
// itself and re-runs without cmake-js's variables. Start clean instead.
const buildDir = process.env.SPARSEKIT_CUDA_BUILD_DIR || 'build-cuda'
const cacheFile = join(root, buildDir, 'CMakeCache.txt')
let cached = ''
try {
  cached = /^CMAKE_CUDA_COMPILER:\w+=(.*)$/m.exec(readFileSync(cacheFile, 'utf8'))?.[1] ?? ''
} catch {
  // no cache yet
}
if (cached && cached !== nvcc) {
  console.log(`sparsekit: the CUDA compiler changed (${cached} → ${nvcc}); starting from a clean ${buildDir}/`)
  rmSync(join(root, buildDir), { recursive: true, force: true })
}

const jobs = Number.parseInt(process.env.SPARSEKIT_BUILD_JOBS ?? '', 10) || DEFAULT_JOBS
const cmakeJs = join(root, 'node_modules', 'cmake-js', 'bin', 'cmake-js')
const common = ['--out', buildDir, '--CDCMAKE_CUDA_COMPILER=' + nvcc]
// Always passed, so a changed SPARSEKIT_CUDA_ARCHS replaces the cached list;
// "default" stands for CMakeLists.txt's own default.
const archs = (process.env.SPARSEKIT_CUDA_ARCHS ?? '').trim()
common.push('--CDSPARSEKIT_CUDA_ARCHS=' + (archs || 'default'))
const env = {
  ...process.env,
  PATH: [dirname(nvcc), process.env.PATH ?? ''].filter(Boolean).join(delimiter),
  CUDACXX: nvcc,
}

// configure, then build: `cmake-js compile` keeps a stale cache (so a changed
// SPARSEKIT_CUDA_ARCHS would be ignored) and reruns a failed build from
// scratch, doubling the time a real error takes to report.
for (const args of [
  ['configure', ...common],
  ['build', ...common, '--parallel', String(jobs)],
]) {
  const started = Date.now()
  const run = spawnSync(process.execPath, [cmakeJs, ...args], { cwd: root, env, stdio: 'inherit' })
  if (run.status !== 0) {
    const how = run.error ? run.error.message : run.signal ? `signal ${run.signal}` : `exit code ${run.status}`
    console.error(`sparsekit: building the CUDA addon failed at cmake-js ${args[0]} (${how})`)
    process.exit(run.status || 1)
  }
  console.log(`sparsekit: cmake-js ${args[0]} took ${((Date.now() - started) / 1000).toFixed(1)} s`)
}
