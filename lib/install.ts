/**
 * What this install is — a source checkout or the npm package — and what the
 * package ships, so that a native addon that does not load comes with advice
 * the user can act on.
 * @internal
 * @module
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { arch, platform } from 'node:os'
import { join } from 'node:path'

/** A source checkout has binding.gyp; the package does not ship it. */
export function isCheckout(root: string): boolean {
  return existsSync(join(root, 'binding.gyp'))
}

/** This machine as the prebuilds see it: `linux-x64, glibc 2.36`. */
export function describeHost(): string {
  if (platform() !== 'linux') return `${platform()}-${arch()}`
  const header = (process.report.getReport() as { header?: { glibcVersionRuntime?: string } }).header
  return `${platform()}-${arch()}, ${header?.glibcVersionRuntime ? `glibc ${header.glibcVersionRuntime}` : 'no glibc (musl?)'}`
}

function dirsWith(dir: string, file: string): string[] {
  if (!existsSync(dir)) return []
  return readdirSync(dir).filter((d) => existsSync(join(dir, d, file)))
}

function list(items: string[]): string {
  return items.length > 1 ? `${items.slice(0, -1).join(', ')} and ${items.at(-1)}` : (items[0] ?? 'no platform')
}

/** The oldest glibc the package's binaries run on, from prebuilds/release.json (written by the release build). */
function glibcFloor(root: string): string {
  try {
    return (
      (JSON.parse(readFileSync(join(root, 'prebuilds', 'release.json'), 'utf8')) as { glibcFloor?: string })
        .glibcFloor ?? ''
    )
  } catch {
    return ''
  }
}

/** What to do when the CPU addon does not load. */
export function cpuLoadAdvice(root: string): string {
  if (isCheckout(root))
    return 'In this checkout, build it with `npm run build:cpu` (needs python3, make and a C++17 compiler).'
  const floor = glibcFloor(root)
  return (
    `This package ships the CPU addon for ${list(dirsWith(join(root, 'prebuilds'), 'sparsekit.node'))}` +
    `${floor ? `, with glibc ${floor} or newer` : ''}; this is ${describeHost()}. Use one of those, or build sparsekit ` +
    'from its git repository: `npm install` in a clone builds the addon (needs python3, make and a C++17 compiler), ' +
    'then install that folder (`npm install /path/to/sparsekit`).'
  )
}

/** Why there is no CUDA addon to load. */
export function cudaMissingReason(root: string): string {
  if (isCheckout(root)) return 'the CUDA addon is not built (run `npm run build:cuda` where nvcc is installed)'
  const shipped = dirsWith(join(root, 'cuda-prebuild'), 'sparsekit_cuda.node')
  return `this package has no CUDA addon for ${platform()}-${arch()}${shipped.length ? ` (it ships one for ${list(shipped)})` : ''}`
}
