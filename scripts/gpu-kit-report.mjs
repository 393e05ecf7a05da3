#!/usr/bin/env node
// The key figure of a step of scripts/gpu-kit-run.sh, as one line, read from
// what the step wrote:
//   status FILE     sk.cudaStatus() and sk.devices() into FILE (JSON); prints
//                   "gpu<TAB>figure" or "none<TAB>why CUDA is unavailable"
//   vitest FILE     vitest's JSON report: counts and the first failures
//   attention FILE  gpu-attention-bench.mjs's targets
//   linear FILE     gpu-linear-bench.mjs's 8192³ ratios and target
//   prefill FILE    the prefill suite's target notes
//   fp8 FILE        the fp8 suite's target notes (its CUDA rows)
import { readFileSync, writeFileSync } from 'node:fs'

const [what, file] = process.argv.slice(2)
const read = () => JSON.parse(readFileSync(file, 'utf8'))
const x = (v) => (v == null ? '-' : `${v.toFixed(2)}x`)

async function status() {
  const sk = await import(new URL('../dist/index.js', import.meta.url).href)
  const { cudaBinding } = await import(new URL('../dist/native.js', import.meta.url).href)
  const cuda = sk.cudaStatus()
  const devices = sk.devices()
  const raw = cudaBinding()?.status() ?? null
  writeFileSync(file, JSON.stringify({ cudaStatus: cuda, addon: raw, devices }, null, 2))
  if (!cuda.available) return `none\t${cuda.reason}`
  const gpus = devices.filter((d) => d.kind === 'cuda')
  const names = gpus.map((d) => `${d.name} ${d.model} (cc ${d.computeCapability}, ${d.multiprocessors} SMs)`).join(', ')
  return `gpu\tCUDA ${names}; built for ${raw?.archs ?? '?'}; 2:4 linear: ${gpus[0]?.sparseLinear} (${gpus[0]?.sparseLinearReason})`
}

function vitest() {
  const r = read()
  const failures = r.testResults.flatMap((f) =>
    f.assertionResults.filter((a) => a.status === 'failed').map((a) => a.fullName ?? a.title),
  )
  const counts = `vitest ${r.numPassedTests} passed, ${r.numFailedTests} failed, ${r.numPendingTests + r.numTodoTests} skipped`
  // A file that failed outside its tests (an import, a hook) has no failed test to name.
  const broken = r.testResults
    .filter((f) => f.status === 'failed' && !f.assertionResults.some((a) => a.status === 'failed'))
    .map((f) => `${f.name.split('/').slice(-2).join('/')}: ${(f.message || 'failed').split('\n')[0]}`)
  const shown = [...failures.slice(0, 3), ...broken]
  return counts + (shown.length ? `; failed: ${shown.join(' | ').slice(0, 400)}` : '')
}

const targets = (list) =>
  list.map((t) => `${t.what} ${x(t.measured)} (${t.met ? 'met' : `NOT met, want ${t.want}x`})`).join('; ')

function linear() {
  const r = read()
  const cube = r.rows.find((row) => row.m === 8192 && row.n === 8192 && row.k === 8192)
  const dense = cube?.torchMatmulMs && cube.denseOursMs ? cube.torchMatmulMs / cube.denseOursMs : null
  return `8192³ vs torch.matmul: 2:4 mma.sp ${x(cube?.sp24OursVsTorch)}, cuSPARSELt ${x(cube?.cusparseltVsTorch)}, dense ${x(dense)}; ${targets([r.target])}`
}

// A bench suite's target notes (the prefill and fp8 suites).
const targetNotes = () => {
  const notes = read().notes.filter((n) => n.startsWith('target'))
  return notes.length ? notes.join('; ') : `no target notes (see ${file})`
}

const figures = {
  status,
  vitest,
  attention: () => targets(read().targets),
  linear,
  prefill: targetNotes,
  fp8: targetNotes,
}
if (!figures[what] || !file) {
  console.error('usage: gpu-kit-report.mjs status|vitest|attention|linear|prefill|fp8 FILE')
  process.exit(2)
}
try {
  console.log(await figures[what]())
} catch (err) {
  console.log(`no figure: ${err instanceof Error ? err.message : String(err)}`.slice(0, 300))
  process.exit(1)
}
