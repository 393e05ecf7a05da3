#!/usr/bin/env node
// One small call of each CUDA op through the public API, for compute-sanitizer
// (scripts/gpu-kit-run.sh, step 5; the tools slow kernels 10-100x, so the
// shapes are small but have partial tiles): attention with a block mask (its
// upload) and causal; the linear, 2:4 and dense; prefill, the XAttention
// estimate, PBS-Attn and the vertical-slash plan (scores or lines, gather,
// sparse attention). Each result is compared with the same call on the CPU:
//   attention, linear: max |cuda - cpu| <= 2^-6 * max |cpu| (bfloat16
//     roundings of float32 sums that differ in their last bits)
//   prefill: outputs finite; the estimated masks agree on >= 90 % of blocks
//     (a block whose score sits at the threshold may go either way)
//   decode: bfloat16 and FP8 pages (append in two calls, a ragged batch),
//     dense and streaming heads as attention; Quest: finite (a page whose
//     bound ties another's may go either way)
//   fp8: attention on quantised q, k, v (GQA, k smoothed, a mask with a
//     short last tile, causal): max |cuda - cpu| <= 2^-3 * max |cpu| (the GPU
//     rounds P to e4m3, 2^-4 of each weight; test/cuda/fp8-attention.test.ts
//     holds the exact bound); skipped, saying so, below compute capability 8.9
// Usage: node scripts/gpu-kit-smoke.mjs attention|linear|prefill|decode|fp8|all [--device cuda|cpu]
// --device cpu runs both sides on the CPU: how CI checks this script here.
import { parseArgs } from 'node:util'

const sk = await import(new URL('../dist/index.js', import.meta.url).href)
const { values, positionals } = parseArgs({
  options: { device: { type: 'string', default: 'cuda' } },
  allowPositionals: true,
})
const device = values.device
const ops =
  positionals[0] === 'all' || positionals.length === 0
    ? ['attention', 'linear', 'prefill', 'decode', 'fp8']
    : positionals
const type = 'bfloat16'
let failed = false

async function hostF32(t) {
  const cpu = t.device === 'cpu' ? t : await t.to('cpu')
  const f = await cpu.cast('float32')
  return f.getData()
}

async function compare(name, got, want, tolerance = 2 ** -6) {
  const [a, b] = [await hostF32(got), await hostF32(want)]
  let diff = 0,
    scale = 0
  for (let i = 0; i < b.length; ++i) {
    diff = Math.max(diff, Math.abs(a[i] - b[i]))
    scale = Math.max(scale, Math.abs(b[i]))
  }
  const ok = a.length === b.length && diff <= tolerance * scale && Number.isFinite(diff)
  console.log(
    `${name}: max |${device} - cpu| ${diff.toExponential(2)} of max |cpu| ${scale.toFixed(2)} ${ok ? 'ok' : 'FAIL'}`,
  )
  failed ||= !ok
}

const onBoth = (dims, seed) => {
  const cpu = sk.randn(dims, { type, seed })
  return { cpu, dev: sk.randn(dims, { type, seed, device }) }
}

async function attention() {
  const [B, H, S, D] = [1, 2, 320, 64]
  const [q, k, v] = [1, 2, 3].map((seed) => onBoth([B, H, S, D], seed))
  const mask = sk.BlockMask.fromBlocks((_b, h, qb, kb) => qb === kb || (qb + kb + h) % 3 !== 1, {
    batch: B,
    heads: H,
    qLen: S,
    kvLen: S,
    blockSize: 64,
  })
  for (const [name, options] of [
    ['attention causal', { causal: true }],
    ['attention block mask', { mask }],
  ]) {
    const got = await sk.attention(q.dev, k.dev, v.dev, options)
    const want = await sk.attention(q.cpu, k.cpu, v.cpu, options)
    await compare(name, got, want)
  }
}

async function linear() {
  const [M, N, K] = [24, 96, 256]
  const x = onBoth([M, K], 4)
  const pruned = await sk.prune(sk.randn([N, K], { type, seed: 5 }), { n: 2, m: 4 })
  const w = await pruned.to(device)
  const sparse = await sk.sparsify(w, { format: '2:4' })
  // The CPU linear takes float32 x (bfloat16 weights stay as they are); CUDA takes x in the weights' type.
  const xCpu = await x.cpu.cast('float32')
  const xDev = device === 'cpu' ? xCpu : x.dev
  const want = await sk.linear(xCpu, pruned)
  await compare('linear 2:4', await sk.linear(xDev, sparse), want)
  await compare('linear dense', await sk.linear(xDev, w), want)
}

async function prefill() {
  const [B, H, S, D] = [1, 2, 640, 64]
  const [q, k, v] = [6, 7, 8].map((seed) => onBoth([B, H, S, D], seed))
  const options = { blockSize: 128, threshold: 0.9 }
  const got = (await sk.estimateBlockMask(q.dev, k.dev, options)).toDense().bits
  const want = (await sk.estimateBlockMask(q.cpu, k.cpu, options)).toDense().bits
  const same = got.reduce((n, bit, i) => n + (bit === want[i] ? 1 : 0), 0) / want.length
  const pbs = await hostF32(
    await sk.permutedAttention(q.dev, k.dev, v.dev, { method: 'pbs', blockSize: 128, segmentSize: 256 }),
  )
  const vslash = await hostF32(await sk.permutedAttention(q.dev, k.dev, v.dev, { blockSize: 128, budget: 256 }))
  const finite = pbs.every(Number.isFinite) && vslash.every(Number.isFinite)
  const ok = same >= 0.9 && finite
  console.log(
    `prefill: xattention masks agree on ${(100 * same).toFixed(1)} % of blocks; permutedAttention (pbs, vslash) outputs ${finite ? 'finite' : 'NOT finite'} ${ok ? 'ok' : 'FAIL'}`,
  )
  failed ||= !ok
}

async function decode() {
  const geo = { batch: 2, kvHeads: 2, headDim: 64, pageSize: 16 }
  const [k, v] = [21, 22].map((seed) => onBoth([2, 2, 300, 64], seed))
  const q = onBoth([2, 4, 2, 64], 23)
  for (const t of ['bfloat16', 'float8e4m3fn']) {
    const cpu = await sk.KVCache.create({ ...geo, type: t }),
      dev = await sk.KVCache.create({ ...geo, type: t, device })
    for (const [c, x, y] of [
      [cpu, k.cpu, v.cpu],
      [dev, k.dev, v.dev],
    ]) {
      await c.append(x, y, { lengths: [250, 77] })
      await c.append(x, y, { lengths: [50, 1] })
    }
    for (const [name, options] of [
      ['dense', {}],
      ['streaming heads', { streamingHeads: { heads: [1, 0], sink: 16, recent: 32 } }],
    ])
      await compare(
        `decode ${t} ${name}`,
        await sk.decodeAttention(q.dev, dev, options),
        await sk.decodeAttention(q.cpu, cpu, options),
      )
    const quest = await hostF32(await sk.decodeAttention(q.dev, dev, { select: { method: 'quest', budget: 64 } }))
    const ok = quest.every(Number.isFinite)
    console.log(`decode ${t} quest: output ${ok ? 'finite ok' : 'NOT finite FAIL'}`)
    failed ||= !ok
  }
}

async function fp8() {
  const info = sk.devices().find((d) => d.name === (device === 'cuda' ? 'cuda:0' : device))
  if (info?.kind === 'cuda' && Number(info.computeCapability) < 8.9) {
    console.log(`fp8: skipped, ${device} is compute capability ${info.computeCapability} (FP8 needs 8.9)`)
    return
  }
  const [S, D, tile] = [300, 64, 64]
  const [q, k, v] = [
    [31, 4],
    [32, 2],
    [33, 2],
  ].map(([seed, h]) => sk.randn([1, h, S, D], { seed }))
  const cpu = [
    await sk.quantize(q, { tile }),
    await sk.quantize(k, { tile, smooth: true }),
    await sk.quantize(v, { tile, perChannel: true }),
  ]
  const dev = await Promise.all(cpu.map((x) => x.to(device)))
  const mask = sk.BlockMask.fromBlocks((_b, h, qb, kb) => qb === kb || (qb + kb + h) % 3 !== 1, {
    heads: 4,
    qLen: S,
    kvLen: S,
    blockSize: tile,
  })
  for (const [name, options] of [
    ['fp8 attention block mask', { mask }],
    ['fp8 attention causal', { causal: true }],
  ])
    await compare(name, await sk.attention(...dev, options), await sk.attention(...cpu, options), 2 ** -3)
}
const run = { attention, linear, prefill, decode, fp8 }
for (const op of ops) {
  if (!run[op]) {
    console.error(`gpu-kit-smoke: unknown op '${op}' (attention, linear, prefill, decode, fp8, all)`)
    process.exit(2)
  }
  await run[op]()
}
process.exit(failed ? 1 : 0)
