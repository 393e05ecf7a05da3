// The npm tarball as a user gets it: packed, installed into an empty project
// with install scripts disabled, imported from ESM, and its bin run. The work
// is in scripts/check-package.mjs (also runnable on its own); this asserts on
// what it found. Builds prebuilds/<platform>-<arch> first if it is missing.
import { arch, platform } from 'node:os'

import { describe, expect, it } from 'vitest'

import { checkPackage } from '../scripts/check-package.mjs'

const target = `${platform()}-${arch()}`

describe('npm package', () => {
  it(`installs with --ignore-scripts and loads prebuilds/${target}`, () => {
    const r = checkPackage({ buildMissing: true, log: (line: string) => console.log(line) })

    expect(r.prebuilds).toContain(`prebuilds/${target}/sparsekit.node`)
    expect(r.consumer.arch).toBe(arch())
    expect(r.consumer.loaded.some((p: string) => p.includes(`prebuilds/${target}/`))).toBe(true)
    // 1, 2.5, 65520 (ties to even → Inf), -0, NaN, 1e-8 (underflow) as float16 bits
    expect(r.consumer.f16.filter((_: number, i: number) => i !== 4)).toEqual([0x3c00, 0x4100, 0x7c00, 0x8000, 0x0000])
    expect(r.consumer.f8).toEqual([0x38, 0x42, 0x7e, 0x80, 0x7f, 0x00])
    expect(typeof r.cli).toBe('object')
    console.log(`npm package: ${r.files} files, ${(r.bytes / 1024).toFixed(0)} KiB; steps (s): ${JSON.stringify(r.seconds)}`)
  }, 600_000)
})
