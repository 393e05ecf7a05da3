// The API fuzzer (test/fuzz/run.mjs) stays usable: a short run finds no
// uncoded error, crash or hang, and the harness itself reports a crash and
// an uncoded error with the seed and the call, replays the crash alone, and
// fails. Longer runs: `node test/fuzz/run.mjs --seconds 600` (or SK_FUZZ_SECONDS).
import { describe, expect, it } from 'vitest'

import { describeExit, distMissingReason, fixture, hasDist, runNode, warnIfDistStale } from './fixtures/child.js'

const runner = fixture('../fuzz/run.mjs')

describe.skipIf(!hasDist)('the API fuzzer', () => {
  if (!hasDist) console.warn(`skipping the fuzzer tests: ${distMissingReason}`)
  warnIfDistStale()

  it('300 calls of seed 16: no uncoded error, crash or hang', () => {
    const r = runNode(runner, ['--calls', '300', '--seed', '16', '--seconds', '600'], { timeoutMs: 120_000 })
    expect(r.status, describeExit(r)).toBe(0)
    expect(r.stdout).toMatch(/fuzz: seed 16, 300 calls/)
    expect(r.stdout).toMatch(/uncoded errors 0, crashes 0, hangs 0/)
  })

  it('a crash is reported with its seed and call, replayed alone, and fails the run; the batch goes on after it', () => {
    const r = runNode(runner, ['--calls', '20', '--seed', '16', '--batch', '20', '--inject', 'crash@7'], {
      timeoutMs: 120_000,
    })
    expect(r.status, describeExit(r)).toBe(1)
    expect(r.stdout).toMatch(
      /CRASH seed 16 call 7 \w+\(.*\): killed by SIGSEGV; reproduces alone \(killed by SIGSEGV\)/,
    )
    expect(r.stdout).toMatch(/replay: node test\/fuzz\/run\.mjs --seed 16 --from 7 --calls 1/)
    expect(r.stdout).toMatch(/fuzz: seed 16, 2\d calls/)
  })

  it('an uncoded error is reported with its seed, call and stack, and fails the run', () => {
    const r = runNode(runner, ['--calls', '10', '--seed', '16', '--inject', 'uncoded@3'], { timeoutMs: 120_000 })
    expect(r.status, describeExit(r)).toBe(1)
    expect(r.stdout).toMatch(/UNCODED seed 16 call 3 .*TypeError: injected by the harness self-test/)
    expect(r.stdout).toMatch(/uncoded errors 1, crashes 0, hangs 0/)
  })
})
