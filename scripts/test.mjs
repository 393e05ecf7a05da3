#!/usr/bin/env node
// `npm test`: the native C++ tests of the core (built by binding.gyp with the
// addon), then the vitest suite (numeric tests once per ISA, see
// vitest.config.ts). Extra arguments go to vitest.
import { spawnSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = fileURLToPath(new URL('..', import.meta.url))
const nativeTests = join(root, 'build', 'Release', 'sk_native_tests')

function run(cmd, args, env = {}) {
  console.log(`\n> ${[cmd, ...args].join(' ')}`)
  const r = spawnSync(cmd, args, { cwd: root, stdio: 'inherit', env: { ...process.env, ...env } })
  return r.status ?? 1
}

if (!existsSync(nativeTests)) {
  console.error(`sparsekit: ${nativeTests} is missing; run \`npm run build\` first`)
  process.exit(1)
}
let failed = 0
// The native tests check every ISA the CPU supports against the scalar kernels themselves.
failed |= run(nativeTests, [])
failed |= run(process.execPath, [join(root, 'node_modules', 'vitest', 'vitest.mjs'), 'run', ...process.argv.slice(2)])
process.exit(failed ? 1 : 0)
