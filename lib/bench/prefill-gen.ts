/**
 * Synthetic long-context attention generators for dynamic sparse prefill:
 * seeded q, k, v whose causal attention shows the patterns the XAttention,
 * MInference and PBS-Attn papers plot for real models, built into the dot
 * products. Three families (`pattern`):
 *
 * - `'clustered'` (the default): heavy-hitter keys clustered in "hot"
 *   256-token segments (a retrieved passage): a random ~40 % of a hot
 *   segment's keys, spread over both of its 128-token blocks. Mean pooling
 *   then sees half-relevant blocks; a permutation inside the segment can pack
 *   the relevant keys into one block (the case PBS-Attn is built for).
 * - `'isolated'` (MInference's vertical-slash pattern): single heavy keys at
 *   random positions, about one every `isolatedGap` tokens (each key head its
 *   own positions and a density between 0.5× and 1.5× that), each with a logit
 *   drawn uniformly from `isolatedLogits` (a few units below the sink's), so
 *   every later query attends to them; mean pooling divides such a key over its
 *   block. Each query head has its own slash distance.
 * - `'mixed'`: query heads of four kinds in turn, `h % 4`: isolated heavy
 *   keys, clustered heavy keys, local only (a sink of logit 15 and the window:
 *   a streaming head), near-uniform (no pattern at all: logits are the noise,
 *   a few tenths). With GQA the query heads of a group read one key head that
 *   carries both kinds of hits.
 *
 * Every family has attention sinks (the first `sinkTokens` keys share a
 * direction the queries have), a local window (RoPE-like rotations at
 * geometric frequencies: q_i·k_j ∝ Σ_f cos(ω_f (i − j)) peaks at j = i and
 * fades within tens of tokens), a slash line (the same rotations with the
 * query shifted by the slash distance) and noise on the remaining dims.
 *
 * Everything comes from `seed` (lib/random.ts): a case is reproducible, and
 * `'clustered'` gives the values this generator gave before the family
 * existed. Each (batch, key head) draws its own heavy keys; GQA query heads of
 * a group share their key head's keys with their own noise.
 * @internal
 * @module
 */
import { tensor } from '../create.js'
import type { DType } from '../dtype.js'
import { fillRandn, fmix32 } from '../random.js'
import type { Tensor } from '../tensor.js'

/** The generator families (see the module doc). */
export type PrefillPattern = 'clustered' | 'isolated' | 'mixed'
/** What a query head attends to beyond the sink and its window. */
export type PrefillHeadKind = 'clustered' | 'isolated' | 'local' | 'uniform'

/** Options of {@link generatePrefill}. */
export interface PrefillGenOptions {
  /** Default 'clustered'. */
  pattern?: PrefillPattern
  batch?: number
  /** Query heads. */
  heads: number
  /** Key / value heads; divides heads. Default heads. */
  kvHeads?: number
  seq: number
  /** ≥ 24 (dims for the patterns, the rest noise). */
  headDim: number
  seed: number
  /** Default float32; float16 / bfloat16 round the float32 values once. */
  type?: DType
  /** Clustered: share of 256-token segments that hold heavy hitters. Default 0.06. */
  hotShare?: number
  /** Clustered: heavy-hitter keys per hot segment (drawn with repeats, so a few less). Default 100. */
  hitsPerSegment?: number
  /** Isolated: mean distance between heavy keys, in tokens. Default 300. */
  isolatedGap?: number
  /** Isolated: the range of a heavy key's logit (after the 1/√D scale). Default [8, 12]. */
  isolatedLogits?: readonly [number, number]
  /** Keys every query attends to strongly from the start. Default 4. */
  sinkTokens?: number
  /** Distance of the slash line (clustered: every head; isolated / mixed: head h's is this + 700·h). Default 1000. */
  slashOffset?: number
  /** Queries of the last this many positions only (decode): q is then [B, H, n, D]. Default: every position. */
  lastQueries?: number
}

/** A uniform in [0, 1) from (seed, counter). */
const uniform = (seed: number, n: number) => fmix32((seed ^ fmix32(n + 0x9e3779b9)) >>> 0) / 2 ** 32

const kSegment = 256
const kMixedKinds: readonly PrefillHeadKind[] = ['isolated', 'clustered', 'local', 'uniform']

/**
 * The kind of query head h under a pattern.
 * @example
 * ```ts
 * headKind('mixed', 3) // 'uniform'
 * ```
 */
export function headKind(pattern: PrefillPattern, h: number): PrefillHeadKind {
  return pattern === 'mixed' ? kMixedKinds[h % kMixedKinds.length]! : pattern
}

/** Positions (0/1 per key) of one (batch, key head)'s heavy keys. */
function heavyKeys(S: number, seed: number, o: PrefillGenOptions): { clustered: Uint8Array; isolated: Float32Array } {
  const clustered = new Uint8Array(S),
    isolated = new Float32Array(S)
  const hot = o.hotShare ?? 0.06,
    hits = o.hitsPerSegment ?? 100
  for (let s0 = 0; s0 + kSegment <= S; s0 += kSegment) {
    if (uniform(seed, s0) >= hot) continue
    for (let t = 0; t < hits; t++) clustered[s0 + Math.floor(uniform(seed, s0 * 31 + t + 1) * kSegment)] = 1
  }
  const iseed = fmix32(seed ^ 0x5bd1e995),
    [lo, hi] = o.isolatedLogits ?? [8, 12]
  const p = (0.5 + uniform(iseed, 0)) / (o.isolatedGap ?? 300) // this key head's density
  for (let j = o.sinkTokens ?? 4; j < S; j++)
    if (uniform(iseed, 2 * j + 1) < p) isolated[j] = lo + (hi - lo) * uniform(iseed, 2 * j + 2)
  return { clustered, isolated }
}

/**
 * q [B, H, S, D] (or the last `lastQueries` positions' rows), k and v
 * [B, Hkv, S, D] of one generator family (see the module doc).
 * @example
 * ```ts
 * const { q, k, v } = await generatePrefill({ pattern: 'isolated', heads: 4, seq: 16384, headDim: 64, seed: 1 })
 * ```
 */
export async function generatePrefill(o: PrefillGenOptions): Promise<{ q: Tensor; k: Tensor; v: Tensor }> {
  const B = o.batch ?? 1,
    H = o.heads,
    Hkv = o.kvHeads ?? H,
    S = o.seq,
    D = o.headDim,
    pattern = o.pattern ?? 'clustered'
  if (D < 24 || H % Hkv !== 0) throw new Error('generatePrefill: headDim ≥ 24 and kvHeads dividing heads')
  const kFreqs = Math.min(10, Math.floor((D - 4) / 4)) // rotation pairs per pattern: local window and slash
  const group = H / Hkv,
    sinks = o.sinkTokens ?? 4,
    slash = o.slashOffset ?? 1000
  const Sq = o.lastQueries ?? S,
    first = S - Sq // queries of positions [first, S)
  if (!(Sq >= 1 && Sq <= S)) throw new Error('generatePrefill: lastQueries between 1 and seq')
  const q = new Float32Array(B * H * Sq * D),
    k = new Float32Array(B * Hkv * S * D),
    v = new Float32Array(B * Hkv * S * D)
  fillRandn(q, o.seed * 3 + 1)
  fillRandn(k, o.seed * 3 + 2)
  fillRandn(v, o.seed * 3 + 3)
  const noise = 0.35 // the rest of the dot product: logits of a few tenths
  for (let i = 0; i < q.length; i++) q[i]! *= noise
  for (let i = 0; i < k.length; i++) k[i]! *= noise
  // Pattern dims: [0, 2F) local rotations, [2F, 4F) slash rotations, 4F sink, 4F + 1 clustered hits,
  // 4F + 2 isolated hits (left as noise by 'clustered', so its values stay those of the original generator).
  const dSink = 4 * kFreqs,
    dHit = dSink + 1,
    dIso = dSink + 2,
    rootD = Math.sqrt(D)
  // Amplitudes for peak logits (after the 1/√D scale) of 4 (local), 3 (slash), 13 (sink), 10 (heavy
  // hitters). The rotations' far field is noise of std ≈ peak / √(2F): stronger local peaks would spread
  // a tail of mass over every block, which real long-context heads do not show.
  const local = Math.sqrt((4 * rootD) / kFreqs),
    slashAmp = Math.sqrt((3 * rootD) / kFreqs)
  const sinkAmp = Math.sqrt(13 * rootD),
    hitAmp = Math.sqrt(10 * rootD)
  const localSink = (sinkAmp * 15) / 13 // the sink logit of local-only heads: k's sink dims are shared
  const omega = (f: number) => 0.8 * 0.6 ** f // 0.8 down to ~0.01: a window of tens of tokens
  // The rotation dims of one row: the local pattern at angle w·localPos, the slash one at w·slashPos.
  const rotations = (x: Float32Array, row: number, localPos: number, slashPos: number, lAmp: number, sAmp: number) => {
    for (let f = 0; f < kFreqs; f++) {
      const w = omega(f)
      x[row + 2 * f] = lAmp * Math.cos(w * localPos)
      x[row + 2 * f + 1] = lAmp * Math.sin(w * localPos)
      x[row + 2 * kFreqs + 2 * f] = sAmp * Math.cos(w * slashPos)
      x[row + 2 * kFreqs + 2 * f + 1] = sAmp * Math.sin(w * slashPos)
    }
  }
  for (let b = 0; b < B; b++)
    for (let g = 0; g < Hkv; g++) {
      const heavy = heavyKeys(S, fmix32((o.seed * 7919 + b * 131 + g) >>> 0), o)
      const kb = (b * Hkv + g) * S * D
      for (let j = 0; j < S; j++) {
        const row = kb + j * D
        rotations(k, row, j, j, local, slashAmp)
        k[row + dSink] = j < sinks ? sinkAmp : 0
        k[row + dHit] = heavy.clustered[j] ? hitAmp : 0
        if (pattern !== 'clustered') k[row + dIso] = (heavy.isolated[j]! * rootD) / hitAmp // logit = q·k / √D
      }
      for (let h = g * group; h < (g + 1) * group; h++) {
        const kind = headKind(pattern, h),
          qb = (b * H + h) * Sq * D
        const off = pattern === 'clustered' ? slash : slash + 700 * h
        const pat = kind === 'uniform' ? 0 : 1,
          sAmp = kind === 'local' || kind === 'uniform' ? 0 : slashAmp
        for (let i = first; i < S; i++) {
          const row = qb + (i - first) * D
          rotations(q, row, i, i - off, pat * local, sAmp)
          q[row + dSink] = kind === 'local' ? localSink : pat * sinkAmp
          q[row + dHit] = kind === 'clustered' ? hitAmp : 0
          if (pattern !== 'clustered') q[row + dIso] = kind === 'isolated' ? hitAmp : 0
        }
      }
    }
  const type = o.type ?? 'float32'
  const make = async (x: Float32Array, dims: number[]) => {
    const t = tensor(x, dims)
    if (type === 'float32') return t
    const c = await t.cast(type)
    t.dispose()
    return c
  }
  return { q: await make(q, [B, H, Sq, D]), k: await make(k, [B, Hkv, S, D]), v: await make(v, [B, Hkv, S, D]) }
}
