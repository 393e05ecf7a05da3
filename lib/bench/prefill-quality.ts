/**
 * The `prefill` suite's quality pass: per generator and length, each method
 * at the thresholds docs/prefill.md compares, once, against dense causal
 * attention: density (blocks computed ÷ the causal mask's), mass held (the
 * share of the true softmax mass the computed keys cover, from the LSEs) and
 * the output error (relative L2; per head on the mixed generator). Results
 * are printed as notes and kept for the suite's target summary.
 * @internal
 * @module
 */
import { BlockMask } from '../mask/index.js'
import { attention, type AttentionResult } from '../ops/attention.js'
import { estimateBlockMask, permutedBlockAttention, planOptions, planPermutedAttention } from '../ops/prefill.js'
import type { Tensor } from '../tensor.js'
import type { SuiteContext } from './harness.js'
import { headKind, type PrefillPattern } from './prefill-gen.js'
import { headErrors, oracleRecall, recall, relativeError } from './prefill-metrics.js'

/** Rows the oracle bound samples (every 97th: ~680 rows at S 16K × 4 heads, a second of float64 math). */
const kOracleRowStep = 97
const kBlock = 128,
  kStride = 8

/** One method's quality at one generator and length. */
export interface Quality {
  density: number
  recall: number
  /** recall over every kOracleRowStep-th row (what the oracle bound samples). */
  sampledRecall: number
  error: number
  headErrors: number[]
}

const results = new Map<string, Quality>()

/**
 * What {@link evaluate} measured for a method label (`'vslash'`, `'pbs τ 0.95'`, …), if it ran.
 * @example
 * ```ts
 * qualityOf('isolated', 32768, 'vslash')?.error
 * ```
 */
export function qualityOf(pattern: PrefillPattern, S: number, label: string): Quality | undefined {
  return results.get(`${pattern}|${S}|${label}`)
}

interface Inputs {
  q: Tensor
  k: Tensor
  v: Tensor
}

/** A float32 CPU copy of t (the metrics read host float32), or t itself when it is one; `owned` says whether to free it. */
async function hostF32(t: Tensor): Promise<{ t: Tensor; owned: boolean }> {
  if (t.device === 'cpu' && t.type === 'float32') return { t, owned: false }
  const cpu = t.device === 'cpu' ? t : await t.to('cpu')
  if (cpu.type === 'float32') return { t: cpu, owned: true }
  const f = await cpu.cast('float32')
  if (cpu !== t) cpu.dispose()
  return { t: f, owned: true }
}

/** Quality of one sparse result against dense; the result tensors are freed. */
async function measure(S: number, mask: BlockMask, r: AttentionResult, dense: AttentionResult): Promise<Quality> {
  const h = [await hostF32(r.out), await hostF32(r.lse), await hostF32(dense.out), await hostF32(dense.lse)]
  try {
    const causal = BlockMask.causal({ qLen: S, kvLen: S, blockSize: kBlock }).density
    return {
      density: mask.density / causal,
      recall: recall(h[1]!.t, h[3]!.t),
      sampledRecall: recall(h[1]!.t, h[3]!.t, kOracleRowStep),
      error: relativeError(h[0]!.t, h[2]!.t),
      headErrors: headErrors(h[0]!.t, h[2]!.t),
    }
  } finally {
    for (const x of h) if (x.owned) x.t.dispose()
    r.out.dispose()
    r.lse.dispose()
  }
}

/** A method at one setting: its label, and how to get its mask and its result (with LSE). */
interface Config {
  label: string
  run: (x: Inputs) => Promise<{ mask: BlockMask; r: AttentionResult }>
}

const permuted = (label: string, o: Record<string, unknown>): Config => ({
  label,
  run: async (x) => {
    const plan = await planPermutedAttention(x.q, x.k, planOptions(o))
    plan.kPerm.dispose()
    const r = await permutedBlockAttention(x.q, x.k, x.v, {
      permutation: plan.permutation,
      mask: plan.mask,
      returnLse: true,
    })
    return { mask: plan.mask, r }
  },
})

const masked = (method: 'xattention' | 'meanpool', threshold: number): Config => ({
  label: `${method} τ ${threshold}`,
  run: async (x) => {
    const mask = await estimateBlockMask(x.q, x.k, { method, threshold, stride: kStride, blockSize: kBlock })
    return { mask, r: await attention(x.q, x.k, x.v, { mask, returnLse: true }) }
  },
})

/** The settings measured at every generator and length; the clustered 16K recall target adds a few. */
function configs(pattern: PrefillPattern, S: number): Config[] {
  const recallTarget = pattern === 'clustered' && S === 16384
  return [
    permuted('vslash', {}),
    permuted('vslash τ 0.99', { threshold: 0.99 }),
    permuted('vslash budget 4096', { budget: 4096 }),
    ...[0.9, 0.95, 0.98, ...(recallTarget ? [0.99] : [])].map((t) =>
      permuted(`pbs τ ${t}`, { method: 'pbs', threshold: t }),
    ),
    masked('xattention', 0.9),
    masked('xattention', 0.95),
    ...[...(recallTarget ? [0.7, 0.8] : []), 0.9].map((t) => masked('meanpool', t)),
  ]
}

const fmt = (q: Quality) =>
  `density ${(100 * q.density).toFixed(1)} % of causal, mass held ${q.recall.toFixed(4)}, error ${q.error.toExponential(2)}`

/**
 * Measures every setting once at one generator and length against dense
 * causal attention; adds a note per setting (per head errors on the mixed
 * generator) and, on the clustered generator at 16K, PBS-Attn's recall target.
 */
export async function evaluate(ctx: SuiteContext, pattern: PrefillPattern, x: Inputs, S: number): Promise<void> {
  const dense = await attention(x.q, x.k, x.v, { causal: true, returnLse: true })
  try {
    for (const c of configs(pattern, S)) {
      const { mask, r } = await c.run(x)
      const q = await measure(S, mask, r, dense)
      results.set(`${pattern}|${S}|${c.label}`, q)
      const heads =
        pattern === 'mixed'
          ? ` (per head: ${q.headErrors.map((e, h) => `${headKind(pattern, h)} ${e.toExponential(1)}`).join(', ')})`
          : ''
      ctx.note(`${pattern} S ${S}: ${c.label}: ${fmt(q)}${heads}`)
    }
    if (pattern === 'clustered' && S === 16384) await recallTarget(ctx, x, S)
  } finally {
    dense.out.dispose()
    dense.lse.dispose()
  }
}

/**
 * PBS-Attn's recall target on the clustered generator at 16K: recall at least
 * mean pooling's at ≤ 0.7× its density, for mean pooling τ 0.7, 0.8, 0.9.
 * Where it is missed, the token-level oracle at 0.7× meanpool's density (the
 * most recall any selection of that many keys per row can reach) tells an
 * estimator's shortfall from a target no selection can meet.
 */
async function recallTarget(ctx: SuiteContext, x: Inputs, S: number): Promise<void> {
  const sweep = [0.9, 0.95, 0.98, 0.99].map((t) => ({ t, q: qualityOf('clustered', S, `pbs τ ${t}`)! }))
  for (const t of [0.7, 0.8, 0.9]) {
    const mp = qualityOf('clustered', S, `meanpool τ ${t}`)!
    const hit = sweep.find((p) => p.q.recall >= mp.recall) // the sparsest PBS point at least as accurate
    const ok = hit !== undefined && hit.q.density <= 0.7 * mp.density
    ctx.note(
      `target S ${S}, clustered: PBS recall ≥ meanpool τ ${t}'s at ≤ 0.7× its density: ` +
        (hit
          ? `pbs τ ${hit.t} gives ${(hit.q.density / mp.density).toFixed(2)}× → ${ok ? 'met' : 'NOT met'}`
          : 'no pbs τ ≤ 0.99 reaches it → NOT met'),
    )
    if (ok) continue
    const q = await hostF32(x.q),
      k = await hostF32(x.k)
    try {
      const f = 0.7 * mp.density,
        bound = oracleRecall(q.t, k.t, f, kOracleRowStep)
      ctx.note(
        `bound S ${S}, meanpool τ ${t}: the top ${(100 * f).toFixed(1)} % of each row's keys by true mass (every ${kOracleRowStep}th row) ` +
          `cover recall ${bound.toFixed(5)}, meanpool ${mp.sampledRecall.toFixed(5)} on the same rows: ` +
          (bound < mp.sampledRecall ? 'no selection at that density reaches it' : 'a better estimator could'),
      )
    } finally {
      if (q.owned) q.t.dispose()
      if (k.owned) k.t.dispose()
    }
  }
}
