// Tests run in forked processes (native addons and the threads pool do not
// mix). Numeric tests (test/numeric) run once per kernel set this CPU
// supports, each in its own project with SPARSEKIT_ISA forced; the rest once.
import { createRequire } from 'node:module'
import { defineConfig } from 'vitest/config'

function supportedIsas(): string[] {
  const require = createRequire(import.meta.url)
  const load = require('node-gyp-build') as (dir: string) => { cpuInfo(): { supportedIsas: string[] } }
  return load(import.meta.dirname).cpuInfo().supportedIsas
}

const shared = { pool: 'forks' as const, testTimeout: 60_000, hookTimeout: 60_000 }

export default defineConfig({
  test: {
    projects: [
      ...supportedIsas().map((isa) => ({
        test: { ...shared, name: `isa:${isa}`, include: ['test/numeric/**/*.test.ts'], env: { SPARSEKIT_ISA: isa } },
      })),
      {
        test: {
          ...shared,
          name: 'api',
          include: ['test/**/*.test.ts'],
          exclude: ['test/numeric/**', '**/node_modules/**'],
        },
      },
    ],
  },
})
