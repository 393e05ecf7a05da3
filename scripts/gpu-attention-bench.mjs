#!/usr/bin/env node
// Times CUDA attention (bf16, D 128, batch 1, 16 heads, S = 4K..32K; dense,
// causal and a 10% block-sparse mask) and, when PyTorch is importable,
// torch.nn.functional.scaled_dot_product_attention on the same shapes, then
// writes both to the JSON file named by the first argument (default
// bench/results/attention-sdpa-cuda.json) and prints a table with the ratios
// and the targets: dense >= 0.9x SDPA, 10% block-sparse >= 7x our own dense.
// Step 6 of scripts/gpu-kit-run.sh (S 4K and 16K); needs a CUDA device.
//
// The kernel is called through sk.attention when lib/ops/attention.ts is
// built into dist/, else through the CUDA binding directly (the JSON says
// which). Times are medians of kReps calls after kWarmup, each awaited.
//
// Env: SK_ATTN_BENCH_SEQS (default "4096,8192,16384,32768").
import { spawnSync } from 'node:child_process'
import { existsSync, mkdirSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'

const root = fileURLToPath(new URL('..', import.meta.url))
const outFile = process.argv[2] ?? join(root, 'bench', 'results', 'attention-sdpa-cuda.json')
const kHeads = 16,
  kHeadDim = 128,
  kBlock = 128,
  kDensity = 0.1
const kWarmup = 2,
  kReps = 5
const kBF16 = 2 // csrc/core/dtype.h
const seqs = (process.env.SK_ATTN_BENCH_SEQS ?? '4096,8192,16384,32768').split(',').map(Number)

const binding = createRequire(import.meta.url)(join(root, 'build-cuda', 'Release', 'sparsekit_cuda.node'))
const status = binding.status()
if (!status.available) {
  console.error(`gpu-attention-bench: CUDA unavailable: ${status.reason}`)
  process.exit(1)
}
const distIndex = join(root, 'dist', 'index.js')
const sk = existsSync(distIndex) ? await import(pathToFileURL(distIndex).href) : undefined
const viaSk = typeof sk?.attention === 'function' && typeof sk?.BlockMask?.fromBlocks === 'function'

/** bf16 bits of roughly N(0, 1) values (a sum of uniforms: cheap and not zeros). */
function randomBf16(n, seed) {
  const out = new Uint16Array(n)
  const f = new Float32Array(1),
    u = new Uint32Array(f.buffer)
  let x = seed >>> 0 || 1
  const next = () => {
    x ^= x << 13
    x ^= x >>> 17
    x ^= x << 5
    return (x >>> 0) / 4294967296
  }
  for (let i = 0; i < n; ++i) {
    f[0] = (next() + next() + next() - 1.5) * 2
    out[i] = u[0] >>> 16
  }
  return out
}

/** A fixed random pattern with kDensity of the 128×128 blocks, per head. */
function sparsePattern(s) {
  const n = Math.ceil(s / kBlock)
  const keep = new Uint8Array(kHeads * n * n)
  let x = 777
  for (let i = 0; i < keep.length; ++i) {
    x ^= x << 13
    x ^= x >>> 17
    x ^= x << 5
    keep[i] = (x >>> 0) / 4294967296 < kDensity ? 1 : 0
  }
  return { n, keep }
}

function nativeMask(s) {
  const { n, keep } = sparsePattern(s)
  const rows = kHeads * n
  const m = {
    batch: 1,
    heads: kHeads,
    qBlock: kBlock,
    kvBlock: kBlock,
    nQBlocks: n,
    nKvBlocks: n,
    fullNum: new Int32Array(rows),
    fullIdx: new Int32Array(rows * n),
    partialNum: new Int32Array(rows),
    partialIdx: new Int32Array(rows * n),
    rules: [],
  }
  for (let r = 0; r < rows; ++r)
    for (let kb = 0; kb < n; ++kb) if (keep[r * n + kb]) m.fullIdx[r * n + m.fullNum[r]++] = kb
  return m
}

async function median(fn) {
  for (let i = 0; i < kWarmup; ++i) await fn()
  const t = []
  for (let i = 0; i < kReps; ++i) {
    const t0 = process.hrtime.bigint()
    await fn()
    t.push(Number(process.hrtime.bigint() - t0) / 1e6)
  }
  return t.sort((a, b) => a - b)[Math.floor(t.length / 2)]
}

const flops = (s, mode) => 4 * s * s * kHeadDim * kHeads * (mode === 'causal' ? 0.5 : mode === 'sparse' ? kDensity : 1)

const ours = []
for (const s of seqs) {
  const elems = kHeads * s * kHeadDim
  const args = {
    dtype: kBF16,
    batch: 1,
    headsQ: kHeads,
    headsKv: kHeads,
    seqQ: s,
    seqKv: s,
    headDim: kHeadDim,
    qStrides: [elems, s * kHeadDim, kHeadDim],
    kStrides: [elems, s * kHeadDim, kHeadDim],
    vStrides: [elems, s * kHeadDim, kHeadDim],
    outStrides: [elems, s * kHeadDim, kHeadDim],
    scale: 1 / Math.sqrt(kHeadDim),
    causal: false,
  }
  const bufs = []
  let run
  if (viaSk) {
    const dims = [1, kHeads, s, kHeadDim]
    const [q, k, v] = await Promise.all(
      [1, 2, 3].map((seed) => sk.tensor(randomBf16(elems, seed), dims, 'bfloat16').to('cuda')),
    )
    const { n, keep } = sparsePattern(s)
    const mask = sk.BlockMask.fromBlocks((_b, h, qb, kb) => keep[(h * n + qb) * n + kb] === 1, {
      batch: 1,
      heads: kHeads,
      qLen: s,
      kvLen: s,
      blockSize: kBlock,
    })
    run = async (mode) => {
      const r = await sk.attention(q, k, v, { causal: mode === 'causal', mask: mode === 'sparse' ? mask : undefined })
      ;(r.out ?? r).dispose()
    }
    bufs.push(q, k, v)
  } else {
    const bytes = elems * 2
    const [q, k, v, o] = [0, 1, 2, 3].map(() => binding.alloc(0, bytes))
    for (const [i, buf] of [q, k, v].entries()) await binding.copyToDevice(randomBf16(elems, i + 1), buf, bytes)
    const mask = nativeMask(s)
    run = (mode) =>
      binding.attention(q, k, v, o, null, { ...args, causal: mode === 'causal' }, mode === 'sparse' ? mask : null)
    bufs.push(q, k, v, o)
  }
  for (const mode of ['dense', 'causal', 'sparse']) {
    const ms = await median(() => run(mode))
    const tflops = flops(s, mode) / ms / 1e9
    ours.push({ seq: s, mode, ms, tflops })
    console.log(
      `sparsekit ${mode.padEnd(6)} S=${String(s).padStart(5)}: ${ms.toFixed(3)} ms, ${tflops.toFixed(1)} TFLOP/s (effective)`,
    )
  }
  for (const b of bufs) (b.dispose ?? b.free).call(b)
}

// PyTorch SDPA on the same shapes, when torch imports.
const py = `
import json, sys, torch
import torch.nn.functional as F
seqs = [int(s) for s in sys.argv[1].split(',')]
res = []
for s in seqs:
    q, k, v = (torch.randn(1, ${kHeads}, s, ${kHeadDim}, device='cuda', dtype=torch.bfloat16) for _ in range(3))
    for causal in (False, True):
        for _ in range(${kWarmup}): F.scaled_dot_product_attention(q, k, v, is_causal=causal)
        ts = []
        for _ in range(${kReps}):
            a, b = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            a.record(); F.scaled_dot_product_attention(q, k, v, is_causal=causal); b.record(); torch.cuda.synchronize()
            ts.append(a.elapsed_time(b))
        res.append({'seq': s, 'mode': 'causal' if causal else 'dense', 'ms': sorted(ts)[len(ts) // 2]})
    del q, k, v
print(json.dumps({'torch': torch.__version__, 'device': torch.cuda.get_device_name(), 'results': res}))
`
let torch = null
const probe = spawnSync('python3', ['-c', 'import torch; assert torch.cuda.is_available()'], { encoding: 'utf8' })
if (probe.status === 0) {
  const r = spawnSync('python3', ['-c', py, seqs.join(',')], { encoding: 'utf8', maxBuffer: 1 << 24 })
  if (r.status === 0) torch = JSON.parse(r.stdout.trim().split('\n').pop())
  else console.error(`torch SDPA timing failed:\n${r.stderr}`)
} else {
  console.log('torch: not importable with CUDA; SDPA baseline skipped')
}

const rows = ours.map((o) => {
  const t = torch?.results.find((x) => x.seq === o.seq && x.mode === (o.mode === 'sparse' ? 'dense' : o.mode))
  const dense = ours.find((x) => x.seq === o.seq && x.mode === 'dense')
  return { ...o, torchMs: t?.ms ?? null, speedupVsTorch: t ? t.ms / o.ms : null, speedupVsOwnDense: dense.ms / o.ms }
})
const target = (what, want, measured) => ({ what, want, measured, met: measured != null && measured >= want })
const targets = seqs.flatMap((s) => [
  target(
    `S ${s}: dense vs torch SDPA`,
    0.9,
    rows.find((r) => r.seq === s && r.mode === 'dense')?.speedupVsTorch ?? null,
  ),
  target(
    `S ${s}: 10% block-sparse vs our dense`,
    7,
    rows.find((r) => r.seq === s && r.mode === 'sparse')?.speedupVsOwnDense ?? null,
  ),
])
console.log('\n  S      mode    sparsekit ms  TFLOP/s  torch ms  torch/sparsekit' + (torch ? '' : '   (no torch)'))
for (const r of rows)
  console.log(
    `  ${String(r.seq).padEnd(6)} ${r.mode.padEnd(7)} ${r.ms.toFixed(3).padStart(12)} ${r.tflops.toFixed(1).padStart(8)} ${(r.torchMs?.toFixed(3) ?? '-').padStart(9)} ${(r.speedupVsTorch?.toFixed(2) ?? '-').padStart(16)}`,
  )
console.log('  (sparse is compared against torch dense non-causal: the speedup the 10% mask buys)')
for (const t of targets)
  console.log(
    `target: ${t.what} >= ${t.want}x: ${t.measured == null ? 'not measured' : `${t.measured.toFixed(2)}x, ${t.met ? 'met' : 'NOT met'}`}`,
  )

mkdirSync(dirname(outFile), { recursive: true })
writeFileSync(
  outFile,
  JSON.stringify(
    {
      date: new Date().toISOString(),
      via: viaSk ? 'sk.attention' : 'binding.attention',
      dtype: 'bfloat16',
      batch: 1,
      heads: kHeads,
      headDim: kHeadDim,
      maskBlock: kBlock,
      density: kDensity,
      warmup: kWarmup,
      reps: kReps,
      status,
      torch: torch ? { version: torch.torch, device: torch.device } : null,
      targets,
      rows,
    },
    null,
    2,
  ),
)
console.log(`wrote ${outFile}`)
