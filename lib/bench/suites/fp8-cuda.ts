/**
 * The fp8 suite's CUDA rows (issue 22's GPU targets): our bf16 dense
 * attention as the baseline, dense FP8 (e4m3fn, 128-token tiles, k
 * smoothed, v per channel) and FP8 block-sparse at 10 % random tiles (with
 * bf16 at the same mask beside it, so sparsity's and FP8's gains read apart).
 * B 1, Hq 16, Hkv 16, D 128, S 16K (quick: 4K), Gaussian inputs, quantised
 * on the CPU and moved with QuantizedTensor.to. No PyTorch peer in Node:
 * scripts/gpu-attention-bench.mjs compares SDPA / FlashAttention outside it.
 * Devices below sm_89 (no FP8 tensor cores) get the bf16 rows only.
 * @internal
 * @module
 */
import { randn } from '../../create.js'
import { devices } from '../../device.js'
import { BlockMask } from '../../mask/index.js'
import { attention } from '../../ops/attention.js'
import { quantize, type QuantizedTensor } from '../../ops/quantize.js'
import type { Tensor } from '../../tensor.js'
import type { BenchCase, SuiteContext } from '../harness.js'
import { randomTileKept } from './attention.js'

const kH = 16,
  kD = 128,
  kTile = 128,
  kDensity = 0.1

type Ops = [Tensor, Tensor, Tensor] | [QuantizedTensor, QuantizedTensor, QuantizedTensor]

/** Whether the suite's CUDA device has FP8 tensor cores (compute capability 8.9+). */
function hasFp8(device: string): boolean {
  const d = devices().find((x) => x.name === device || (device === 'cuda' && x.name === 'cuda:0'))
  return d?.kind === 'cuda' && Number(d.computeCapability) >= 8.9
}

/** The CUDA rows; see the module comment. */
export function cudaCases(ctx: SuiteContext): BenchCase[] {
  const S = ctx.quick ? 4096 : 16384
  const fp8 = hasFp8(ctx.device)
  if (!fp8) ctx.note(`${ctx.device} is below compute capability 8.9: no FP8 tensor cores, bf16 rows only`)
  ctx.note('CUDA baseline: our bf16 dense kernel; PyTorch SDPA is compared by scripts/gpu-attention-bench.mjs')
  const mask = BlockMask.fromBlocks((_b, h, qb, kb) => randomTileKept({ density: kDensity, seed: 5 }, h, qb, kb), {
    heads: kH,
    qLen: S,
    kvLen: S,
    blockSize: kTile,
  })
  ctx.note(`S=${S} tile density as built: ${(mask.density * 100).toFixed(1)} %`)
  const dense = 4 * kH * S * S * kD // the dense work: every row's GFLOP/s over it is its speedup
  let host: [Tensor, Tensor, Tensor] | null = null
  const inputs = () =>
    (host ??= [
      randn([1, kH, S, kD], { seed: 1 }),
      randn([1, kH, S, kD], { seed: 2 }),
      randn([1, kH, S, kD], { seed: 3 }),
    ])
  const bf16 = async (): Promise<Ops> => {
    const out: Tensor[] = []
    for (const t of inputs()) {
      const c = await t.cast('bfloat16')
      out.push(await c.to(ctx.device))
      c.dispose()
    }
    return out as Ops
  }
  const e4m3 = async (): Promise<Ops> => {
    const [q, k, v] = inputs()
    const out: QuantizedTensor[] = []
    for (const [t, o] of [
      [q, {}],
      [k, { smooth: true }],
      [v, { perChannel: true }],
    ] as const) {
      const h = await quantize(t, { tile: kTile, ...o })
      out.push(await h.to(ctx.device))
      h.dispose()
    }
    return out as Ops
  }
  const row = (name: string, make: () => Promise<Ops>, sparse: boolean): BenchCase => {
    let ops: Ops | null = null
    return {
      name: `${name} S=${S}`,
      baseline: name === 'bf16 dense' ? undefined : `bf16 dense S=${S}`,
      flops: dense,
      async setup() {
        ops = await make()
      },
      run: async () =>
        (await attention(ops![0] as Tensor, ops![1] as Tensor, ops![2] as Tensor, sparse ? { mask } : {})).dispose(),
      teardown() {
        ops?.forEach((t) => t.dispose())
        ops = null
      },
    }
  }
  ctx.defer(() => host?.forEach((t) => t.dispose()))
  const rows = [row('bf16 dense', bf16, false), row(`bf16 ${100 * kDensity}%`, bf16, true)]
  if (fp8) rows.push(row('fp8 dense', e4m3, false), row(`fp8 ${100 * kDensity}%`, e4m3, true))
  return rows
}
