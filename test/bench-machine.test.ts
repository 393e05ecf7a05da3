/**
 * The CPU identity a benchmark file records: a VM's "AMD EPYC" alone does
 * not tell a Zen 4 from a Zen 5, whose AVX-512 throughput differs 2×.
 */
import { describe, expect, it } from 'vitest'

import { cpuIdentity } from '../lib/bench/report.js'

const x86 = (vendor: string, family: number, model: number): string =>
  [
    `vendor_id\t: ${vendor}`,
    `cpu family\t: ${family}`,
    `model\t\t: ${model}`,
    'model name\t: AMD EPYC',
    'stepping\t: 1',
  ]
    .map((line) => `${line}\n`)
    .join('')

describe('cpuIdentity', () => {
  it('names AMD cores from family and model', () => {
    expect(cpuIdentity(x86('AuthenticAMD', 25, 17))).toBe('family 25 model 17 stepping 1 (Zen 4)')
    expect(cpuIdentity(x86('AuthenticAMD', 25, 1))).toBe('family 25 model 1 stepping 1 (Zen 3)')
    expect(cpuIdentity(x86('AuthenticAMD', 26, 2))).toBe('family 26 model 2 stepping 1 (Zen 5)')
    expect(cpuIdentity(x86('AuthenticAMD', 23, 49))).toBe('family 23 model 49 stepping 1 (Zen 2)')
  })

  it('gives numbers only for other vendors, and ARM parts', () => {
    expect(cpuIdentity(x86('GenuineIntel', 6, 143))).toBe('family 6 model 143 stepping 1')
    expect(cpuIdentity('processor\t: 0\nCPU implementer\t: 0x41\nCPU part\t: 0xd0c\n')).toBe(
      'implementer 0x41 part 0xd0c',
    )
    expect(cpuIdentity('')).toBeUndefined()
  })

  it.skipIf(process.platform !== 'linux' || process.arch !== 'x64')('reads this machine on x86-64 Linux', () => {
    expect(cpuIdentity()).toMatch(/^family \d+ model \d+ stepping/)
  })
})
