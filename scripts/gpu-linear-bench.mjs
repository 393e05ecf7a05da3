#!/usr/bin/env node
// Times the CUDA linear, bf16: our 2:4 kernel (mma.sp), cuSPARSELt (when the
// addon found it: set SPARSEKIT_CUSPARSELT to the wheel's libcusparseLt.so.0),
// our dense kernel (mma.sync) and, when PyTorch imports, torch.matmul(x, wᵀ)
// (and torch's own 2:4 F.linear when it works), at 8192³ and the MLP shapes
// (K 4096, N 11008) with M 16 and 4096. Writes bench/results/linear-cuda.json
// (or the file named by the first argument) and prints a table. Target
// (checked, not asserted): 2:4 bf16 ≥ 1.3× torch.matmul at 8192³.
//
// Timing: kWarmup calls, then kReps calls queued back to back on the stream
// and awaited once; time / kReps (stream-ordered, so launch overhead overlaps).
// Step 7 of scripts/gpu-kit-run.sh. Needs dist/ (npm run build:ts) and a CUDA device.
import { spawnSync } from 'node:child_process'
import { existsSync, mkdirSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'

const root = fileURLToPath(new URL('..', import.meta.url))
const outFile = process.argv[2] ?? join(root, 'bench', 'results', 'linear-cuda.json')
const kWarmup = 3,
  kReps = 20
const shapes = (process.env.SK_LINEAR_BENCH_SHAPES ?? '8192x8192x8192,16x11008x4096,4096x11008x4096')
  .split(',')
  .map((s) => s.split('x').map(Number)) // m x n x k
const dist = (p) => pathToFileURL(join(root, 'dist', p)).href
if (!existsSync(join(root, 'dist', 'sparse', 'sp24-cuda.js'))) {
  console.error('gpu-linear-bench: dist/ is not built (npm run build:ts)')
  process.exit(1)
}
const sk = await import(dist('index.js'))
const sp24 = await import(dist('sparse/sp24-cuda.js'))
const { cudaBinding } = await import(dist('native.js'))
const binding = cudaBinding()
if (!binding?.status().available) {
  console.error(`gpu-linear-bench: CUDA unavailable: ${binding?.status().reason ?? 'addon not loaded'}`)
  process.exit(1)
}
const lt = binding.cusparseLtStatus()
console.log(`cuSPARSELt: ${lt.describe}`)

function rng(seed) {
  let x = seed >>> 0 || 1
  return () => {
    x ^= x << 13
    x ^= x >>> 17
    x ^= x << 5
    return (x >>> 0) / 4294967296
  }
}
function randomBf16(n, seed) {
  const next = rng(seed),
    out = new Uint16Array(n),
    f = new Float32Array(1),
    u = new Uint32Array(f.buffer)
  for (let i = 0; i < n; ++i) {
    f[0] = (next() + next() + next() - 1.5) * 2
    out[i] = u[0] >>> 16
  }
  return out
}
function randomMeta(n, k, seed) {
  const next = rng(seed),
    nib = [0x4, 0x8, 0x9, 0xc, 0xd, 0xe],
    bytes = Math.ceil(k / 8),
    meta = new Uint8Array(n * bytes)
  for (let r = 0; r < n; ++r)
    for (let q = 0; q < k / 4; ++q) meta[r * bytes + (q >> 1)] |= nib[Math.floor(next() * 6)] << (q & 1 ? 4 : 0)
  return meta
}

async function timeMs(run) {
  for (let i = 0; i < kWarmup; ++i) await run()
  await binding.synchronize(0)
  const t0 = process.hrtime.bigint()
  const pending = []
  for (let i = 0; i < kReps; ++i) pending.push(run())
  await Promise.all(pending)
  return Number(process.hrtime.bigint() - t0) / 1e6 / kReps
}

const rows = []
for (const [m, n, k] of shapes) {
  const x = await sk.tensor(randomBf16(m * k, 1), [m, k], 'bfloat16').to('cuda')
  const values = randomBf16((n * k) / 2, 2),
    meta = randomMeta(n, k, 3)
  const ours = await sp24.sparsifySp24CudaFromCpuLayout(values, meta, 'bfloat16', [n, k], 'cuda', {
    backend: 'sparsekit',
  })
  const auto = await sp24.sparsifySp24CudaFromCpuLayout(values, meta, 'bfloat16', [n, k], 'cuda')
  const denseW = await ours.toDense()
  const out = sk.zeros([m, n], 'bfloat16', 'cuda')
  const flop = 2 * m * n * k
  const row = { m, n, k }
  row.sp24OursMs = await timeMs(() => sp24.linearSp24Cuda(x, ours, null, out))
  row.cusparseltMs = sp24.usesCusparseLt(auto) ? await timeMs(() => sp24.linearSp24Cuda(x, auto, null, out)) : null
  row.cusparseltFallback = sp24.usesCusparseLt(auto)
    ? binding.cusparseLtStatus().lastFallback
    : sp24.sparseLinearFallbackReason()
  row.denseOursMs = await timeMs(() => sp24.linearDenseCuda(x, denseW, null, out))
  for (const key of ['sp24OursMs', 'cusparseltMs', 'denseOursMs'])
    if (row[key]) row[key.replace('Ms', 'Tflops')] = flop / row[key] / 1e9 // dense-equivalent TFLOP/s
  console.log(
    `m${m} n${n} k${k}: 2:4 ours ${row.sp24OursMs.toFixed(3)} ms, cuSPARSELt ${row.cusparseltMs?.toFixed(3) ?? '-'} ms, dense ours ${row.denseOursMs.toFixed(3)} ms`,
  )
  rows.push(row)
  for (const t of [x, out, denseW]) t.dispose()
  ours.dispose()
  auto.dispose()
}

// torch.matmul(x, w.t()) and torch's 2:4 F.linear on the same shapes.
const py = `
import json, sys, torch
import torch.nn.functional as F
shapes = json.loads(sys.argv[1])
res = []
def bench(fn, warm=${kWarmup}, reps=${kReps}):
    for _ in range(warm): fn()
    torch.cuda.synchronize()
    a, b = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    a.record()
    for _ in range(reps): fn()
    b.record(); torch.cuda.synchronize()
    return a.elapsed_time(b) / reps
for m, n, k in shapes:
    x = torch.randn(m, k, device='cuda', dtype=torch.bfloat16)
    w = torch.randn(n, k, device='cuda', dtype=torch.bfloat16)
    mask = torch.tensor([1, 1, 0, 0], device='cuda', dtype=torch.bool).repeat(n, k // 4)
    w = w * mask
    r = {'m': m, 'n': n, 'k': k, 'matmulMs': bench(lambda: torch.matmul(x, w.t()))}
    try:
        from torch.sparse import to_sparse_semi_structured
        ws = to_sparse_semi_structured(w)
        r['semiStructuredMs'] = bench(lambda: F.linear(x, ws))
    except Exception as e:
        r['semiStructuredError'] = str(e)[:200]
    res.append(r)
    del x, w
print(json.dumps({'torch': torch.__version__, 'device': torch.cuda.get_device_name(), 'cusparselt': torch.backends.cusparselt.version() if torch.backends.cusparselt.is_available() else None, 'results': res}))
`
let torch = null
const probe = spawnSync('python3', ['-c', 'import torch; assert torch.cuda.is_available()'], { encoding: 'utf8' })
if (probe.status === 0) {
  const r = spawnSync('python3', ['-c', py, JSON.stringify(shapes)], { encoding: 'utf8', maxBuffer: 1 << 24 })
  if (r.status === 0) torch = JSON.parse(r.stdout.trim().split('\n').pop())
  else console.error(`torch timing failed:\n${r.stderr}`)
} else {
  console.log('torch: not importable with CUDA; torch.matmul baseline skipped')
}
for (const row of rows) {
  const t = torch?.results.find((r) => r.m === row.m && r.n === row.n && r.k === row.k)
  row.torchMatmulMs = t?.matmulMs ?? null
  row.torchSemiStructuredMs = t?.semiStructuredMs ?? null
  row.sp24OursVsTorch = t ? t.matmulMs / row.sp24OursMs : null
  row.cusparseltVsTorch = t && row.cusparseltMs ? t.matmulMs / row.cusparseltMs : null
}
console.log('\n  m     n      k     2:4 ours  cuSPARSELt  dense ours  torch.matmul  torch 2:4   ours/torch  lt/torch')
const f = (v) => (v == null ? '-' : v.toFixed(3))
for (const r of rows)
  console.log(
    `  ${String(r.m).padEnd(5)} ${String(r.n).padEnd(6)} ${String(r.k).padEnd(5)} ${f(r.sp24OursMs).padStart(8)} ${f(r.cusparseltMs).padStart(11)} ${f(r.denseOursMs).padStart(11)} ${f(r.torchMatmulMs).padStart(13)} ${f(r.torchSemiStructuredMs).padStart(10)} ${f(r.sp24OursVsTorch).padStart(11)} ${f(r.cusparseltVsTorch).padStart(9)}`,
  )
const cube = rows.find((r) => r.m === 8192 && r.n === 8192 && r.k === 8192)
const best = cube ? Math.max(cube.sp24OursVsTorch ?? 0, cube.cusparseltVsTorch ?? 0) : null
const target = {
  what: '2:4 bf16 (best of ours and cuSPARSELt) vs torch.matmul at 8192^3',
  want: 1.3,
  measured: best,
  met: best != null && best >= 1.3,
}
console.log(
  `target: ${target.what} >= ${target.want}x: ${best == null ? 'not measured' : `${best.toFixed(2)}x, ${target.met ? 'met' : 'NOT met'}`}`,
)
mkdirSync(dirname(outFile), { recursive: true })
writeFileSync(
  outFile,
  JSON.stringify(
    {
      date: new Date().toISOString(),
      dtype: 'bfloat16',
      warmup: kWarmup,
      reps: kReps,
      status: binding.status(),
      cusparselt: lt,
      torch: torch ? { version: torch.torch, device: torch.device, cusparselt: torch.cusparselt } : null,
      target,
      rows,
    },
    null,
    2,
  ),
)
console.log(`wrote ${outFile}`)
