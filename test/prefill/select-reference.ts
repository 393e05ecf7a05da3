// The block selection rules and PBS-Attn's segment order written from their
// definitions (docs/prefill.md), in plain JS with comparator sorts: the
// oracle for csrc/cpu/prefill/select.cc. Rows of scores [rows, nb] are
// (batch, head, query block qb = r % nb); ties go to the lower block / position.

/** Candidates [c0, c1) beyond those set, by decreasing score, until the kept mass reaches threshold × their total. */
function fillByMass(s: Float32Array, bits: Uint8Array, base: number, c0: number, c1: number, threshold: number): void {
  if (threshold >= 1) {
    for (let kb = c0; kb < c1; kb++) bits[base + kb] = 1
    return
  }
  let total = 0,
    mass = 0
  const order: number[] = []
  for (let kb = c0; kb < c1; kb++) {
    total += s[base + kb]!
    if (bits[base + kb]) mass += s[base + kb]!
    else order.push(kb)
  }
  order.sort((a, b) => s[base + b]! - s[base + a]! || a - b)
  for (const kb of order) {
    if (mass >= threshold * total) break
    bits[base + kb] = 1
    mass += s[base + kb]!
  }
}

/** bits [rows, nb] with each row's sink (block 0) and diagonal (qb) set, then fill(bits, base, qb) for the rest. */
function sinkAndDiagonal(
  rows: number,
  nb: number,
  fill: (bits: Uint8Array, base: number, qb: number) => void,
): Uint8Array {
  const bits = new Uint8Array(rows * nb)
  for (let r = 0; r < rows; r++) {
    const qb = r % nb,
      base = r * nb
    bits[base] = 1
    bits[base + qb] = 1
    fill(bits, base, qb)
  }
  return bits
}

/** XAttention's rule: sink and diagonal, then by mass up to threshold. */
export function refSelectByThreshold(
  s: Float32Array,
  rows: number,
  nb: number,
  threshold: number,
  causal: boolean,
): Uint8Array {
  return sinkAndDiagonal(rows, nb, (bits, base, qb) => fillByMass(s, bits, base, 0, causal ? qb + 1 : nb, threshold))
}

/** Top-k: sink and diagonal, then the highest-scored candidates up to `budget` blocks in the row. */
export function refSelectTopK(s: Float32Array, rows: number, nb: number, budget: number, causal: boolean): Uint8Array {
  return sinkAndDiagonal(rows, nb, (bits, base, qb) => {
    let kept = qb === 0 ? 1 : 2
    const rest: number[] = []
    for (let kb = 1; kb <= (causal ? qb : nb - 1); kb++) if (!bits[base + kb]) rest.push(kb)
    rest.sort((a, b) => s[base + b]! - s[base + a]! || a - b)
    for (const kb of rest) if (kept < budget) ((bits[base + kb] = 1), kept++)
  })
}

/** PBS-Attn's rule: by mass among earlier segments' blocks, the sink's block (if earlier), the own segment whole. */
export function refSelectPermuted(
  s: Float32Array,
  rows: number,
  nb: number,
  segBlocks: number,
  threshold: number,
  sinkBlock: Int32Array,
  headsQ: number,
  group: number,
): Uint8Array {
  const bits = new Uint8Array(rows * nb)
  for (let r = 0; r < rows; r++) {
    const qb = r % nb,
      base = r * nb,
      bh = Math.floor(r / nb)
    const seg0 = Math.floor(qb / segBlocks) * segBlocks
    fillByMass(s, bits, base, 0, seg0, threshold)
    const sink = sinkBlock[Math.floor(bh / headsQ) * (headsQ / group) + Math.floor((bh % headsQ) / group)]!
    if (sink < seg0) bits[base + sink] = 1
    for (let kb = seg0; kb < Math.min(nb, seg0 + segBlocks); kb++) bits[base + kb] = 1
  }
  return bits
}

/** [B, Hkv, S] original positions: each complete segment by decreasing importance summed over the key head's query heads. */
export function refSegmentOrder(
  imp: Float32Array,
  B: number,
  Hq: number,
  Hkv: number,
  S: number,
  keyCount: number,
  seg: number,
): Int32Array {
  const out = new Int32Array(B * Hkv * S),
    group = Hq / Hkv
  for (let b = 0; b < B; b++)
    for (let g = 0; g < Hkv; g++) {
      const sum = new Float64Array(S)
      for (let h = g * group; h < (g + 1) * group; h++)
        for (let j = 0; j < keyCount; j++) sum[j]! += imp[(b * Hq + h) * S + j]!
      const row = Array.from({ length: S }, (_, j) => j)
      for (let s0 = 0; s0 < keyCount; s0 += seg) {
        const part = row.slice(s0, s0 + seg).sort((x, y) => sum[y]! - sum[x]! || x - y)
        for (let t = 0; t < seg; t++) row[s0 + t] = part[t]!
      }
      out.set(row, (b * Hkv + g) * S)
    }
  return out
}
