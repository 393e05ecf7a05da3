// One batch of the API fuzzer, in its own process (test/fuzz/run.mjs starts
// it): `node --expose-gc child.mjs <seed> <from> <count> <progress-file>
// [inject]`. Call i draws everything from its own stream (values.mjs), so it
// replays alone. Before each call the progress file gets the call and the
// counts so far: if the process dies, the parent names the call that killed it.
// Prints one JSON line of counts at the end.
import { writeFileSync } from 'node:fs'

import { ops } from './ops.mjs'
import { isCallersOwn, makeValues, rngFor, show } from './values.mjs'

const sk = await import(new URL('../../dist/index.js', import.meta.url).href)
const [seed, from, count] = process.argv.slice(2, 5).map(Number)
const progress = process.argv[5]
// Self-test of the harness: "crash@N" or "uncoded@N" makes call N fail that way.
const [injectKind, injectAt] = (process.argv[6] ?? '').split('@')
const kCallTimeoutMs = 30_000
const names = Object.keys(ops)

const counts = { calls: 0, ok: 0, thrown: {}, rejected: {}, rejectedOps: {}, passthrough: 0, uncoded: [], hangs: [] }

/** Replaces one or two arguments, or one field of an options argument, with an adversarial value. */
function mutate(g, args, fixed) {
  for (let j = g.rng.int(1, 2); j > 0; j--) {
    const i = g.rng.int(fixed, args.length) // args.length: one argument too many
    const a = args[i]
    if (a !== null && typeof a === 'object' && Object.getPrototypeOf(a) === Object.prototype && g.rng.chance(0.75)) {
      const keys = Object.keys(a)
      const key =
        keys.length && g.rng.chance(0.85) ? g.rng.pick(keys) : g.rng.pick(['junk', '__proto__', 'constructor', 'qLen'])
      args[i] = { ...a, [key]: g.any() }
    } else {
      args[i] = g.any()
    }
  }
}

/** Disposes whatever a call returned (tensors, weights, { out, lse }). */
function release(v) {
  if (v === null || typeof v !== 'object') return
  if (typeof v.dispose === 'function') return void v.dispose()
  if (Array.isArray(v)) return void v.forEach(release)
  if (v.out) release(v.out)
  if (v.lse) release(v.lse)
}

const timeout = (ms) =>
  new Promise((_, reject) => setTimeout(() => reject(Object.assign(new Error('hang'), { hang: true })), ms).unref())

function classify(err, how, record) {
  if (isCallersOwn(err)) return void counts.passthrough++
  if (err?.hang) return void counts.hangs.push(record)
  if (err instanceof sk.SparsekitError && typeof err.code === 'string' && err.code.startsWith('ERR_SK_')) {
    counts[how][err.code] = (counts[how][err.code] ?? 0) + 1
    if (how === 'rejected')
      counts.rejectedOps[`${record.op} ${err.code}`] = (counts.rejectedOps[`${record.op} ${err.code}`] ?? 0) + 1
    return
  }
  counts.uncoded.push({
    ...record,
    how,
    error: `${err?.constructor?.name}: ${String(err?.message)}`,
    stack: String(err?.stack).split('\n').slice(0, 6).join('\n'),
  })
}

for (let i = from; i < from + count; i++) {
  const g = makeValues(rngFor(seed, i), sk)
  const name = g.rng.pick(names)
  let record = { seed, index: i, op: name, args: '(being made)' }
  writeFileSync(progress, JSON.stringify({ record, counts }))
  try {
    const [made, call, fixed = 0] = ops[name](g, sk)
    const args = await Promise.all(made)
    if (g.rng.chance(0.6)) mutate(g, args, fixed)
    record = { seed, index: i, op: name, args: args.map((a) => show(a)).join(', ') }
    writeFileSync(progress, JSON.stringify({ record, counts }))
    counts.calls++
    if (injectKind === 'crash' && Number(injectAt) === i) process.kill(process.pid, 'SIGSEGV')
    if (injectKind === 'uncoded' && Number(injectAt) === i) throw new TypeError('injected by the harness self-test')
    let result
    try {
      result = call(sk, ...args)
    } catch (err) {
      classify(err, 'thrown', record)
      continue
    }
    try {
      release(await Promise.race([result, timeout(kCallTimeoutMs)]))
      counts.ok++
    } catch (err) {
      classify(err, 'rejected', record)
    }
  } catch (err) {
    // Making the arguments failed (the generators' own bug) or the injected error.
    classify(err, 'thrown', record)
  } finally {
    for (const x of g.made) x.dispose?.()
    if (i % 256 === 0) globalThis.gc?.()
  }
  if (counts.hangs.length) break // a hung op holds the executor: the batch cannot go on
}
console.log(JSON.stringify(counts))
process.exit(0)
