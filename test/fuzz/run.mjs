#!/usr/bin/env node
// The seeded fuzzer of sparsekit's public API: random and adversarial
// arguments over every op and builder (ops.mjs, values.mjs), run in batches
// of calls in child processes (child.mjs), so a native crash ends one batch
// and is reported with the seed and the call instead of ending the run. A
// crash is replayed alone in a fresh process to confirm it.
//
//   node test/fuzz/run.mjs [--seconds S] [--calls N] [--seed N] [--batch N] [--json FILE]
//
// Defaults: 20 s (SK_FUZZ_SECONDS), a seed from the clock (SK_FUZZ_SEED), 1500
// calls per process. Counts calls, successes, coded errors (thrown / rejected,
// per code), errors the fuzzer's own getters threw (passed through unchanged),
// uncoded errors, crashes and hangs; exits 1 on any of the last three.
import { spawnSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'

const { values: opt } = parseArgs({
  options: {
    seconds: { type: 'string', default: process.env.SK_FUZZ_SECONDS ?? '20' },
    calls: { type: 'string' },
    seed: { type: 'string', default: process.env.SK_FUZZ_SEED },
    batch: { type: 'string', default: '1500' },
    json: { type: 'string' },
    from: { type: 'string', default: '0' },
    inject: { type: 'string' }, // harness self-test: crash@N or uncoded@N
  },
})
const seed = opt.seed === undefined ? Date.now() % 2 ** 31 : Number(opt.seed)
const budgetMs = Number(opt.seconds) * 1000
const maxCalls = opt.calls === undefined ? Infinity : Number(opt.calls)
const batch = Number(opt.batch)
const child = fileURLToPath(new URL('./child.mjs', import.meta.url))
const dir = mkdtempSync(join(tmpdir(), 'sk-fuzz-'))
const progressFile = join(dir, 'progress.json')

const total = {
  calls: 0,
  ok: 0,
  thrown: {},
  rejected: {},
  rejectedOps: {},
  passthrough: 0,
  uncoded: [],
  hangs: [],
  crashes: [],
}

function merge(c) {
  total.calls += c.calls
  total.ok += c.ok
  total.passthrough += c.passthrough
  for (const how of ['thrown', 'rejected', 'rejectedOps'])
    for (const [code, n] of Object.entries(c[how])) total[how][code] = (total[how][code] ?? 0) + n
  total.uncoded.push(...c.uncoded)
  total.hangs.push(...c.hangs)
}

function runBatch(from, count) {
  writeFileSync(progressFile, '')
  const args = ['--expose-gc', child, String(seed), String(from), String(count), progressFile]
  if (opt.inject) args.push(opt.inject)
  const r = spawnSync(process.execPath, args, {
    encoding: 'utf8',
    timeout: 10 * 60_000,
    killSignal: 'SIGKILL',
    maxBuffer: 64 << 20,
  })
  const lines = (r.stdout ?? '').trim().split('\n')
  let summary = null
  try {
    summary = r.status === 0 && r.signal === null ? JSON.parse(lines[lines.length - 1]) : null
  } catch {
    summary = null
  }
  if (summary) return { summary }
  let progress = null
  try {
    progress = JSON.parse(readFileSync(progressFile, 'utf8'))
  } catch {
    progress = null
  }
  const how = r.signal ? `killed by ${r.signal}` : `exited with ${r.status}`
  return { died: { how, progress, stderr: (r.stderr ?? '').slice(-3000) } }
}

const t0 = Date.now()
let from = Number(opt.from)
while (total.calls < maxCalls && Date.now() - t0 < budgetMs) {
  const count = Math.min(batch, maxCalls - total.calls)
  const out = runBatch(from, count)
  if (out.summary) {
    merge(out.summary)
    if (out.summary.hangs.length) break
    from += count
    continue
  }
  const { how, progress, stderr } = out.died
  const record = progress?.record ?? { seed, index: from, op: '(unknown: no progress written)', args: '' }
  if (progress) merge(progress.counts)
  // Replay the call alone: a crash that needs the calls before it says so.
  const again = runBatch(record.index, 1)
  const alone = again.summary ? 'not alone (it needs the calls before it in its batch)' : `alone (${again.died.how})`
  total.crashes.push({ ...record, how, reproduces: alone, stderr })
  total.calls += 1
  from = record.index + 1
}
rmSync(dir, { recursive: true, force: true })

const seconds = ((Date.now() - t0) / 1000).toFixed(1)
const sum = (o) => Object.values(o).reduce((a, b) => a + b, 0)
const codes = (o) =>
  Object.entries(o)
    .sort()
    .map(([c, n]) => `${c.replace('ERR_SK_', '')} ${n}`)
    .join(', ') || 'none'
console.log(`fuzz: seed ${seed}, ${total.calls} calls in ${seconds} s`)
console.log(
  `fuzz:   ok ${total.ok}; coded errors ${sum(total.thrown)} thrown (${codes(total.thrown)}), ${sum(total.rejected)} rejected (${codes(total.rejected)})`,
)
console.log(`fuzz:   rejections by op: ${codes(total.rejectedOps)}`)
console.log(`fuzz:   passed through from the fuzzer's own getters/traps ${total.passthrough}`)
console.log(
  `fuzz:   uncoded errors ${total.uncoded.length}, crashes ${total.crashes.length}, hangs ${total.hangs.length}`,
)
for (const u of total.uncoded.slice(0, 10))
  console.log(
    `fuzz: UNCODED seed ${u.seed} call ${u.index} ${u.op}(${u.args}) ${u.how}: ${u.error}\n${u.stack}\n  replay: node test/fuzz/run.mjs --seed ${u.seed} --from ${u.index} --calls 1`,
  )
for (const c of total.crashes)
  console.log(
    `fuzz: CRASH seed ${c.seed} call ${c.index} ${c.op}(${c.args}): ${c.how}; reproduces ${c.reproduces}\n  replay: node test/fuzz/run.mjs --seed ${c.seed} --from ${c.index} --calls 1\n${c.stderr}`,
  )
for (const h of total.hangs) console.log(`fuzz: HANG seed ${h.seed} call ${h.index} ${h.op}(${h.args})`)
if (opt.json) writeFileSync(opt.json, JSON.stringify({ seed, seconds: Number(seconds), ...total }, null, 1))
const failed = total.uncoded.length + total.crashes.length + total.hangs.length
console.log(failed ? 'fuzz: FAILED' : 'fuzz: ok')
process.exit(failed ? 1 : 0)
