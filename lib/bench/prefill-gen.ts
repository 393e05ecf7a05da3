/**
 * A synthetic long-context attention generator for dynamic sparse prefill:
 * q, k, v whose causal attention shows the patterns the XAttention and
 * MInference papers plot for real models, built into the dot products:
 *
 * - attention sinks: the first `sinkTokens` keys share a direction every query has;
 * - a local window: RoPE-like rotations at geometric frequencies, so
 *   q_i·k_j ∝ Σ_f cos(ω_f (i − j)) peaks at j = i and fades within ~1/ω_min;
 * - slash lines: the same rotations with the query shifted by `slashOffset`,
 *   a peak at j = i − slashOffset;
 * - vertical stripes: heavy-hitter keys sharing a direction every query has,
 *   clustered in "hot" 256-token segments scattered through the sequence (a
 *   retrieved passage): a random ~40 % of a hot segment's keys, spread over
 *   both of its 128-token blocks. Mean pooling then sees half-relevant blocks;
 *   a permutation inside the segment can pack the relevant keys into one
 *   block (the case PBS-Attn is built for);
 * - noise on the remaining dims.
 *
 * Everything comes from `seed` (lib/random.ts), so a case is reproducible;
 * each (batch, key head) draws its own hot segments, and GQA query heads of a
 * group share their key head's pattern with their own noise.
 * @internal
 * @module
 */
import { tensor } from '../create.js'
import type { DType } from '../dtype.js'
import { fillRandn, fmix32 } from '../random.js'
import type { Tensor } from '../tensor.js'

/** Options of {@link generatePrefill}. */
export interface PrefillGenOptions {
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
  /** Share of 256-token segments that hold heavy hitters. Default 0.06. */
  hotShare?: number
  /** Heavy-hitter keys per hot segment (drawn with repeats, so a few less). Default 100. */
  hitsPerSegment?: number
  /** Keys every query attends to strongly from the start. Default 4. */
  sinkTokens?: number
  /** Distance of the slash line. Default 1000. */
  slashOffset?: number
  /** Queries of the last this many positions only (decode): q is then [B, H, n, D]. Default: every position. */
  lastQueries?: number
}

/** A uniform in [0, 1) from (seed, counter). */
const uniform = (seed: number, n: number) => fmix32((seed ^ fmix32(n + 0x9e3779b9)) >>> 0) / 2 ** 32

const kSegment = 256

/**
 * q [B, H, S, D] (or the last `lastQueries` positions' rows), k and v
 * [B, Hkv, S, D] with sink, local, slash and heavy-hitter patterns (see the module doc).
 * @example
 * ```ts
 * const { q, k, v } = generatePrefill({ heads: 4, seq: 16384, headDim: 64, seed: 1 })
 * ```
 */
export async function generatePrefill(o: PrefillGenOptions): Promise<{ q: Tensor; k: Tensor; v: Tensor }> {
  const B = o.batch ?? 1, H = o.heads, Hkv = o.kvHeads ?? H, S = o.seq, D = o.headDim
  if (D < 24 || H % Hkv !== 0) throw new Error('generatePrefill: headDim ≥ 24 and kvHeads dividing heads')
  const kFreqs = Math.min(10, Math.floor((D - 4) / 4)) // rotation pairs per pattern: local window and slash
  const group = H / Hkv, sinks = o.sinkTokens ?? 4, slash = o.slashOffset ?? 1000
  const hot = o.hotShare ?? 0.06, hits = o.hitsPerSegment ?? 100
  const Sq = o.lastQueries ?? S, first = S - Sq // queries of positions [first, S)
  if (!(Sq >= 1 && Sq <= S)) throw new Error('generatePrefill: lastQueries between 1 and seq')
  const q = new Float32Array(B * H * Sq * D), k = new Float32Array(B * Hkv * S * D), v = new Float32Array(B * Hkv * S * D)
  fillRandn(q, o.seed * 3 + 1)
  fillRandn(k, o.seed * 3 + 2)
  fillRandn(v, o.seed * 3 + 3)
  const noise = 0.35 // the rest of the dot product: logits of a few tenths
  for (let i = 0; i < q.length; i++) q[i]! *= noise
  for (let i = 0; i < k.length; i++) k[i]! *= noise
  // Pattern dims: [0, 2F) local rotations, [2F, 4F) slash rotations, 4F sink, 4F + 1 heavy hitters.
  const dSink = 4 * kFreqs, dHit = dSink + 1, rootD = Math.sqrt(D)
  // Amplitudes for peak logits (after the 1/√D scale) of 4 (local), 3 (slash), 13 (sink), 10 (heavy
  // hitters). The rotations' far field is noise of std ≈ peak / √(2F): stronger local peaks would spread
  // a tail of mass over every block, which real long-context heads do not show.
  const local = Math.sqrt(4 * rootD / kFreqs), slashAmp = Math.sqrt(3 * rootD / kFreqs)
  const sinkAmp = Math.sqrt(13 * rootD), hitAmp = Math.sqrt(10 * rootD)
  const omega = (f: number) => 0.8 * 0.6 ** f // 0.8 down to ~0.01: a window of tens of tokens
  // The rotation dims of one row: the local pattern at angle w·localPos, the slash one at w·slashPos.
  const rotations = (x: Float32Array, row: number, localPos: number, slashPos: number) => {
    for (let f = 0; f < kFreqs; f++) {
      const w = omega(f)
      x[row + 2 * f] = local * Math.cos(w * localPos)
      x[row + 2 * f + 1] = local * Math.sin(w * localPos)
      x[row + 2 * kFreqs + 2 * f] = slashAmp * Math.cos(w * slashPos)
      x[row + 2 * kFreqs + 2 * f + 1] = slashAmp * Math.sin(w * slashPos)
    }
  }
  for (let b = 0; b < B; b++)
    for (let g = 0; g < Hkv; g++) {
      const seed = fmix32((o.seed * 7919 + b * 131 + g) >>> 0)
      const isHit = new Uint8Array(S)
      for (let s0 = 0; s0 + kSegment <= S; s0 += kSegment) {
        if (uniform(seed, s0) >= hot) continue
        for (let t = 0; t < hits; t++) isHit[s0 + Math.floor(uniform(seed, s0 * 31 + t + 1) * kSegment)] = 1
      }
      const kb = (b * Hkv + g) * S * D
      for (let j = 0; j < S; j++) {
        const row = kb + j * D
        rotations(k, row, j, j)
        k[row + dSink] = j < sinks ? sinkAmp : 0
        k[row + dHit] = isHit[j] ? hitAmp : 0
      }
      for (let h = g * group; h < (g + 1) * group; h++) {
        const qb = (b * H + h) * Sq * D
        for (let i = first; i < S; i++) {
          const row = qb + (i - first) * D
          rotations(q, row, i, i - slash)
          q[row + dSink] = sinkAmp
          q[row + dHit] = hitAmp
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
