// Float64 references of the dynamic sparse prefill algorithms, written from
// their definitions (docs/prefill.md, csrc/core/params.h sk_score_method),
// independent of csrc/cpu/prefill: XAttention's antidiagonal block scores,
// mean-pooled block scores, PBS-Attn's key importance, the vertical and slash
// lines, and attention over a permuted block mask evaluated on original key
// positions.

/** Sizes of a q / k pair in [B, H, S, D]. */
export interface Dims {
  B: number
  Hq: number
  Hkv: number
  S: number
  D: number
}

const dot = (a: Float64Array, ao: number, b: Float64Array, bo: number, D: number) => {
  let s = 0
  for (let x = 0; x < D; x++) s += a[ao + x]! * b[bo + x]!
  return s
}

/** [B, Hq, nb, nb]: per query block, Σ over its super-rows of the softmax over super-columns, per key block. */
export function xattentionScores(
  q: Float64Array,
  k: Float64Array,
  d: Dims,
  block: number,
  stride: number,
  causal: boolean,
): Float64Array {
  const { B, Hq, Hkv, S, D } = d
  const nb = Math.ceil(S / block),
    per = block / stride,
    nSuper = Math.ceil(S / stride),
    scale = 1 / Math.sqrt(D) / stride
  const out = new Float64Array(B * Hq * nb * nb)
  for (let b = 0; b < B; b++)
    for (let h = 0; h < Hq; h++) {
      const qo = (b * Hq + h) * S * D,
        ko = (b * Hkv + Math.floor(h / (Hq / Hkv))) * S * D
      for (let r = 0; r < nSuper; r++) {
        const cols = causal ? r + 1 : nSuper
        const logit = new Float64Array(cols)
        for (let c = 0; c < cols; c++) {
          let s = 0
          for (let t = 0; t < stride; t++) {
            const i = r * stride + stride - 1 - t,
              j = c * stride + t
            if (i < S && j < S) s += dot(q, qo + i * D, k, ko + j * D, D)
          }
          logit[c] = s * scale
        }
        const m = Math.max(...logit)
        let sum = 0
        for (let c = 0; c < cols; c++) sum += Math.exp(logit[c]! - m)
        const row = ((b * Hq + h) * nb + Math.floor(r / per)) * nb
        for (let c = 0; c < cols; c++) out[row + Math.floor(c / per)] += Math.exp(logit[c]! - m) / sum
      }
    }
  return out
}

/** [B, Hq, nb, nb]: softmax over candidate key blocks of the mean-pooled q · k / √D. */
export function meanpoolScores(
  q: Float64Array,
  k: Float64Array,
  d: Dims,
  block: number,
  causal: boolean,
  segmentBlocks: number,
): Float64Array {
  const { B, Hq, Hkv, S, D } = d
  const nb = Math.ceil(S / block),
    out = new Float64Array(B * Hq * nb * nb)
  const pool = (x: Float64Array, o: number) => {
    const p = new Float64Array(nb * D)
    for (let blk = 0; blk < nb; blk++) {
      const n = Math.min(S, (blk + 1) * block) - blk * block
      for (let s = blk * block; s < blk * block + n; s++)
        for (let e = 0; e < D; e++) p[blk * D + e] += x[o + s * D + e]! / n
    }
    return p
  }
  for (let b = 0; b < B; b++)
    for (let h = 0; h < Hq; h++) {
      const pq = pool(q, (b * Hq + h) * S * D),
        pk = pool(k, (b * Hkv + Math.floor(h / (Hq / Hkv))) * S * D)
      for (let qb = 0; qb < nb; qb++) {
        const cand = (kb: number) =>
          (!causal || kb <= qb) &&
          (segmentBlocks === 0 || Math.floor(kb / segmentBlocks) !== Math.floor(qb / segmentBlocks))
        const logit = Array.from({ length: nb }, (_, kb) =>
          cand(kb) ? dot(pq, qb * D, pk, kb * D, D) / Math.sqrt(D) : -Infinity,
        )
        const m = Math.max(...logit)
        if (m === -Infinity) continue
        const sum = logit.reduce((s, x) => s + Math.exp(x - m), 0)
        for (let kb = 0; kb < nb; kb++) out[((b * Hq + h) * nb + qb) * nb + kb] = Math.exp(logit[kb]! - m) / sum
      }
    }
  return out
}

/** [B, Hq, S]: mean over the last `block` queries of the softmax over keys [0, keyCount). */
export function keyImportance(
  q: Float64Array,
  k: Float64Array,
  d: Dims,
  block: number,
  keyCount: number,
): Float64Array {
  const { B, Hq, Hkv, S, D } = d
  const out = new Float64Array(B * Hq * S),
    q0 = Math.max(0, S - block)
  for (let b = 0; b < B; b++)
    for (let h = 0; h < Hq; h++) {
      const qo = (b * Hq + h) * S * D,
        ko = (b * Hkv + Math.floor(h / (Hq / Hkv))) * S * D
      for (let i = q0; i < S; i++) {
        const l = Array.from({ length: keyCount }, (_, j) => dot(q, qo + i * D, k, ko + j * D, D) / Math.sqrt(D))
        const m = Math.max(...l),
          sum = l.reduce((s, x) => s + Math.exp(x - m), 0)
        for (let j = 0; j < keyCount; j++) out[(b * Hq + h) * S + j] += Math.exp(l[j]! - m) / sum / (S - q0)
      }
    }
  return out
}

/**
 * [B, Hq, 2, S]: with p_i the causal softmax of query i, over the last
 * `queries` queries: Σ_i p_i[j] / n per key j (vertical), then Σ_i p_i[i − o] / n
 * per distance o (slash).
 */
export function lineScores(q: Float64Array, k: Float64Array, d: Dims, queries: number): Float64Array {
  const { B, Hq, Hkv, S, D } = d
  const out = new Float64Array(B * Hq * 2 * S),
    q0 = Math.max(0, S - queries),
    n = S - q0
  for (let b = 0; b < B; b++)
    for (let h = 0; h < Hq; h++) {
      const qo = (b * Hq + h) * S * D,
        ko = (b * Hkv + Math.floor(h / (Hq / Hkv))) * S * D,
        at = (b * Hq + h) * 2 * S
      for (let i = q0; i < S; i++) {
        const l = Array.from({ length: i + 1 }, (_, j) => dot(q, qo + i * D, k, ko + j * D, D) / Math.sqrt(D))
        const m = Math.max(...l),
          sum = l.reduce((s, x) => s + Math.exp(x - m), 0)
        for (let j = 0; j <= i; j++) {
          const p = Math.exp(l[j]! - m) / sum / n
          out[at + j] += p
          out[at + S + i - j] += p
        }
      }
    }
  return out
}

/**
 * Attention over the original k and v where query i sees original key j when
 * j ≤ i and the block (i / block, slot(j) / block) is kept, slot(j) being
 * where the permutation stores key j. bits: [B, Hq, nb, nb] 0/1.
 */
export function permutedReference(
  q: Float64Array,
  k: Float64Array,
  v: Float64Array,
  d: Dims,
  perm: Int32Array,
  bits: Uint8Array,
  block: number,
): Float64Array {
  const { B, Hq, Hkv, S, D } = d
  const nb = Math.ceil(S / block),
    out = new Float64Array(B * Hq * S * D)
  const slot = new Int32Array(S)
  for (let b = 0; b < B; b++)
    for (let h = 0; h < Hq; h++) {
      const g = Math.floor(h / (Hq / Hkv)),
        prow = (b * Hkv + g) * S
      for (let j = 0; j < S; j++) slot[perm[prow + j]!] = j
      const qo = (b * Hq + h) * S * D,
        ko = (b * Hkv + g) * S * D
      for (let i = 0; i < S; i++) {
        const row = ((b * Hq + h) * nb + Math.floor(i / block)) * nb
        const keys: number[] = [],
          l: number[] = []
        for (let j = 0; j <= i; j++)
          if (bits[row + Math.floor(slot[j]! / block)])
            (keys.push(j), l.push(dot(q, qo + i * D, k, ko + j * D, D) / Math.sqrt(D)))
        if (keys.length === 0) continue
        const m = Math.max(...l),
          w = l.map((x) => Math.exp(x - m)),
          sum = w.reduce((s, x) => s + x, 0)
        keys.forEach((j, t) => {
          for (let e = 0; e < D; e++) out[qo + i * D + e] += (w[t]! / sum) * v[ko + j * D + e]!
        })
      }
    }
  return out
}
