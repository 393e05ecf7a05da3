#!/usr/bin/env node
// What every sparsekit tarball ships, checked before `npm pack` packs it
// (package.json's prepack runs this file): LICENSE, README.md, both CPU
// prebuilds and the CUDA prebuild, each the file `npm run prebuilds` built
// (prebuilds/release.json holds its sha256) from these very sources, for the
// right machine, needing glibc ≤ 2.31 and no libstdc++ of the system.
// On a problem it prints what is wrong and how to fix it, and npm packs nothing.
//
// Also the helpers scripts/prebuild.mjs and the package test use: the ELF
// machine of a file, the symbol versions it needs (readelf -V), the hash of
// the native sources.
import { spawnSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import { closeSync, existsSync, openSync, readdirSync, readFileSync, readSync, statSync } from 'node:fs'
import { join, relative } from 'node:path'
import { fileURLToPath } from 'node:url'

const checkout = fileURLToPath(new URL('..', import.meta.url))

/** The oldest glibc the binaries may need: Debian 11's, the build root's (scripts/prebuild-root.sh). */
export const GLIBC_FLOOR = '2.31'
/** The binaries every tarball ships, with the ELF machine each is for. */
export const BINARIES = [
  { path: 'prebuilds/linux-x64/sparsekit.node', machine: 'x86-64' },
  { path: 'prebuilds/linux-arm64/sparsekit.node', machine: 'aarch64' },
  { path: 'cuda-prebuild/linux-x64/sparsekit_cuda.node', machine: 'x86-64' },
]
/** Written by scripts/prebuild.mjs: the build root, and per binary its sha256, sources hash and glibc. */
export const MANIFEST = 'prebuilds/release.json'
const DOCS = ['LICENSE', 'README.md']
/** Everything a native binary is built from. */
const NATIVE_SOURCES = ['binding.gyp', 'CMakeLists.txt', 'csrc', 'cuda']
const FIX =
  'Make the binaries with `npm run prebuilds` (they build in a Debian 11 root: see "Releases" in README.md), ' +
  'or the whole tarball with `npm run release`.'

/** 'x86-64', 'aarch64', or what else the ELF header says (e_machine); null for a file that is not ELF. */
export function elfMachine(file) {
  const head = Buffer.alloc(20)
  const fd = openSync(file, 'r')
  try {
    if (readSync(fd, head, 0, 20, 0) < 20 || head.readUInt32BE(0) !== 0x7f454c46) return null
  } finally {
    closeSync(fd)
  }
  const machine = head.readUInt16LE(18)
  return machine === 62 ? 'x86-64' : machine === 183 ? 'aarch64' : `machine ${machine}`
}

function compareVersions(a, b) {
  const x = a.split('.').map(Number)
  const y = b.split('.').map(Number)
  for (let i = 0; i < Math.max(x.length, y.length); ++i)
    if ((x[i] ?? 0) !== (y[i] ?? 0)) return (x[i] ?? 0) - (y[i] ?? 0)
  return 0
}

/**
 * The symbol versions a shared object needs (its .gnu.version_r, read with
 * binutils' readelf, which reads every ELF machine): the newest GLIBC_, and
 * any GLIBCXX_ / CXXABI_ (a dependency on the system's libstdc++).
 */
export function symbolVersions(file) {
  const r = spawnSync('readelf', ['-V', '-W', file], { encoding: 'utf8' })
  if (r.status !== 0)
    throw new Error(`readelf -V ${file} failed (${r.error?.message ?? r.stderr.trim()}); install binutils`)
  const names = [...r.stdout.matchAll(/Name: (\S+)\s+Flags/g)].map((m) => m[1])
  const glibc = names
    .filter((n) => n.startsWith('GLIBC_'))
    .map((n) => n.slice(6))
    .sort(compareVersions)
  return { glibc: glibc.at(-1) ?? 'none', cxx: names.filter((n) => /^(GLIBCXX|CXXABI)_/.test(n)).sort() }
}

function listFiles(dir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? listFiles(join(dir, e.name)) : [join(dir, e.name)],
  )
}

/** sha256 over the native sources (paths and contents): a binary built from other sources has another. */
export function nativeSourceHash(root = checkout) {
  const hash = createHash('sha256')
  const files = NATIVE_SOURCES.flatMap((p) =>
    statSync(join(root, p)).isDirectory() ? listFiles(join(root, p)) : [join(root, p)],
  )
  for (const f of files.map((f) => relative(root, f)).sort())
    hash
      .update(`${f}\0`)
      .update(readFileSync(join(root, f)))
      .update('\0')
  return hash.digest('hex')
}

export function sha256(file) {
  return createHash('sha256').update(readFileSync(file)).digest('hex')
}

/** Problems with one shipped binary as a file: its machine, the glibc it needs, a libstdc++ dependency. */
export function checkBinary(file, machine) {
  const problems = []
  const got = elfMachine(file)
  if (got !== machine) problems.push(`${file} is built for ${got ?? 'no ELF machine'}, not ${machine}`)
  const needs = symbolVersions(file)
  if (needs.glibc !== 'none' && compareVersions(needs.glibc, GLIBC_FLOOR) > 0)
    problems.push(
      `${file} needs GLIBC_${needs.glibc}, newer than the floor ${GLIBC_FLOOR} (was it built outside the Debian 11 root?)`,
    )
  if (needs.cxx.length)
    problems.push(`${file} needs the system's libstdc++ (${needs.cxx.join(', ')}); it must link it statically`)
  return problems
}

/** Everything wrong with the checkout at `root` as a release (empty when it may be packed). */
export function checkRelease(root = checkout) {
  const problems = []
  for (const doc of DOCS) if (!existsSync(join(root, doc))) problems.push(`${doc} is missing`)
  let manifest = null
  try {
    manifest = JSON.parse(readFileSync(join(root, MANIFEST), 'utf8'))
  } catch {
    problems.push(`${MANIFEST} is missing or unreadable (npm run prebuilds writes it)`)
  }
  const sources = manifest && nativeSourceHash(root)
  for (const { path, machine } of BINARIES) {
    const file = join(root, path)
    if (!existsSync(file)) {
      problems.push(`${path} is missing`)
      continue
    }
    problems.push(...checkBinary(file, machine).map((p) => p.replace(file, path)))
    const entry = manifest?.binaries?.[path]
    if (!manifest) continue
    if (!entry || entry.sha256 !== sha256(file))
      problems.push(`${path} is not the file \`npm run prebuilds\` built (another build replaced it)`)
    else if (entry.sources !== sources)
      problems.push(`${path} was built from other sources (binding.gyp, CMakeLists.txt, csrc/ or cuda/ changed since)`)
  }
  return problems
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const root = process.cwd()
  const problems = checkRelease(root)
  if (problems.length) {
    console.error(
      `sparsekit: npm pack refused: the tarball would lack what users need:\n${problems.map((p) => `  - ${p}`).join('\n')}`,
    )
    console.error(
      `Every tarball ships LICENSE, README.md and these binaries: ${BINARIES.map((b) => b.path).join(', ')}. ${FIX}`,
    )
    process.exit(1)
  }
  console.log(
    `check-package: ok: ${[...DOCS, ...BINARIES.map((b) => b.path)].join(', ')} (glibc ≤ ${GLIBC_FLOOR}, built from these sources)`,
  )
}
