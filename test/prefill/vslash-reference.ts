// The vertical-slash plan written from its definition (docs/prefill.md,
// "vslash"; csrc/core/params.h sk_vslash_plan_params) in plain JS, scanning
// everything each step: the oracle for csrc/cpu/prefill/vslash.cc. Scores are
// [B, Hq, 2, S] lines (vertical, then slash); the plan is the key layout
// [B, Hkv, S], the blocks [B, Hq, nb, nb] and the coverage [B, Hq].

export interface PlanArgs {
  B: number
  Hq: number
  Hkv: number
  S: number
  block: number
  queries: number
  threshold: number
  budget: number
}

const kHeavyPerKey = 4,
  kDiffuseHead = 0.5

/** One query head's columns, bands and coverage. */
function head(a: PlanArgs, v: ArrayLike<number>, s: ArrayLike<number>) {
  const { S, block: B } = a,
    n = Math.min(a.queries, S),
    q0 = S - n,
    nb = Math.ceil(S / B)
  const cEnd = Math.max(1, q0 - B),
    level = kHeavyPerKey / S
  const band = new Float64Array(nb)
  for (let o = 0; o < S; o++) band[Math.floor(o / B)] += s[o]!
  const bands = new Uint8Array(nb),
    columns: number[] = []
  let coverage = 0,
    cost = 0
  const column = (j: number) => {
    columns.push(j)
    coverage += v[j]!
    cost += 1
    for (let o = q0 - j; o < q0 - j + n; o++) band[Math.floor(o / B)] -= v[j]! / n
  }
  const cands: number[] = []
  for (let j = 1; j < cEnd; j++) if (v[j]! > level) cands.push(j)
  cands.sort((x, y) => v[y]! - v[x]! || x - y)
  column(0)
  bands[0] = 1
  coverage += Math.max(0, band[0]!)
  cost += 2 * B
  let next = 0
  while (coverage < a.threshold) {
    let best = -1
    for (let t = 1; t < nb; t++)
      if (!bands[t] && band[t]! > level * 2 * B && (best < 0 || band[t]! > band[best]!)) best = t
    if (next < cands.length && (best < 0 || v[cands[next]!]! * 2 * B >= band[best]!)) {
      if (cost + 1 > a.budget) break
      column(cands[next++]!)
    } else if (best >= 0) {
      if (cost + 2 * B > a.budget) break
      bands[best] = 1
      coverage += band[best]!
      cost += 2 * B
    } else break
  }
  if (coverage < kDiffuseHead)
    for (let t = 0; t < nb && cost + B <= a.budget; t++) if (!bands[t]) ((bands[t] = 1), (cost += B))
  return { columns, bands, coverage }
}

/** The plan of every (batch, key head). */
export function refVslashPlan(
  scores: Float32Array,
  a: PlanArgs,
): { indices: Int32Array; bits: Uint8Array; coverage: Float32Array } {
  const { B: batch, Hq, Hkv, S, block: B } = a,
    nb = Math.ceil(S / B),
    group = Hq / Hkv
  const cEnd = Math.max(1, S - Math.min(a.queries, S) - B)
  const indices = new Int32Array(batch * Hkv * S),
    bits = new Uint8Array(batch * Hq * nb * nb),
    coverage = new Float32Array(batch * Hq)
  for (let b = 0; b < batch; b++)
    for (let g = 0; g < Hkv; g++) {
      const isCol = new Uint8Array(S),
        vsum = new Float64Array(cEnd),
        plans = []
      for (let h = g * group; h < (g + 1) * group; h++) {
        const at = (b * Hq + h) * 2 * S,
          v = scores.subarray(at, at + S)
        const p = head(a, v, scores.subarray(at + S, at + 2 * S))
        for (const j of p.columns) isCol[j] = 1
        for (let j = 0; j < cEnd; j++) vsum[j] += v[j]!
        coverage[b * Hq + h] = p.coverage
        plans.push(p)
      }
      let nCols = isCol.reduce((x, y) => x + y, 0)
      const want = Math.min(cEnd, Math.ceil(nCols / B) * B)
      const key = (j: number) => (Number.isNaN(vsum[j]) ? -Infinity : vsum[j]!)
      const more = Array.from({ length: cEnd }, (_, j) => j)
        .filter((j) => !isCol[j])
        .sort((x, y) => key(y) - key(x) || x - y)
      for (const j of more.slice(0, Math.max(0, want - nCols))) isCol[j] = 1
      nCols = Math.max(nCols, want)
      const row = indices.subarray((b * Hkv + g) * S, (b * Hkv + g + 1) * S)
      let at = 0
      for (let j = 0; j < S; j++) if (isCol[j]) row[at++] = j
      for (let j = 0; j < S; j++) if (!isCol[j]) row[at++] = j
      const slot = new Int32Array(S)
      row.forEach((j, t) => (slot[j] = t))
      plans.forEach((p, k) => {
        const base = (b * Hq + g * group + k) * nb * nb
        if (a.threshold >= 1) return bits.fill(1, base, base + nb * nb)
        for (let qb = 0; qb < nb; qb++) {
          for (let kb = 0; kb < Math.ceil(nCols / B); kb++) bits[base + qb * nb + kb] = 1
          for (let t = 0; t < nb; t++) {
            if (!p.bands[t]) continue
            for (let i = qb * B; i < Math.min(S, (qb + 1) * B); i++)
              // the band's keys of every query of the block
              for (let j = i - (t + 1) * B + 1; j <= i - t * B; j++)
                if (j >= 0 && !isCol[j]) bits[base + qb * nb + Math.floor(slot[j]! / B)] = 1
          }
        }
      })
    }
  return { indices, bits, coverage }
}
