/**
 * Token rules of block masks: what partial blocks keep, token by token.
 * The evaluation mirrors `csrc/core/mask_rules.h` (the kernels' code); the
 * block classifiers answer "does the rule keep none, some or all of this
 * block?" in O(1) from the rule's geometry, never per token.
 *
 * Query i, key j, offset = kvLen − qLen (bottom-right alignment), and
 * L = i + offset, the last key query i may see under causality.
 * @internal
 * @module
 */
import { SparsekitError } from '../errors.js'
import type { NativeMaskRule } from '../native.js'

/** Rule kinds; the numbers are `sk_mask_rule_kind` in csrc/core/params.h. */
export const RuleKind = { causal: 1, window: 2, streaming: 3, documents: 4, permutedCausal: 5 } as const

/** Segment id of the instruction prefix (`kSegPrefix`), seen by every query. */
export const kSegPrefix = -1
/** Segment id of the query segment (`kSegQuery`), which sees every earlier key. */
export const kSegQuery = -2

/** At most this many OR-ed terms; `kMaskMaxTerms` in csrc/core/params.h. */
export const kMaxTerms = 4
/** At most this many AND-ed rules per term; `kMaskMaxRulesPerTerm`. */
export const kMaxRulesPerTerm = 4

/** One token rule. */
export type MaskRule =
  | { readonly kind: 1 }
  | { readonly kind: 2; readonly window: number }
  | { readonly kind: 3; readonly sink: number; readonly local: number }
  | { readonly kind: 4; readonly qSeg: Int32Array; readonly kvSeg: Int32Array }
  /**
   * Keys stored permuted (PBS-Attn): kvPos [posBatch, posHeads, kvLen] holds the original position of the key
   * at each slot; key slot j is visible to query i when kvPos[b, h / posGroup, j] ≤ i + offset (h the query head).
   */
  | {
      readonly kind: 5
      readonly kvPos: Int32Array
      readonly posBatch: number
      readonly posHeads: number
      readonly posGroup: number
    }

/** An OR of AND-terms; `null` means no rule (the mask has no partial blocks). */
export type RuleSet = readonly (readonly MaskRule[])[]

/** Block classes, as the classifiers return them. */
export const kAbsent = 0
export const kPartial = 1
export const kFull = 2

/**
 * Whether key j is visible to query i under one rule (mirror of `rule_visible`).
 * @example
 * ```ts
 * ruleVisible({ kind: 2, window: 4 }, 10, 7, 0) // true: 10 − 4 < 7 ≤ 10
 * ```
 */
export function ruleVisible(r: MaskRule, i: number, j: number, offset: number, b = 0, h = 0): boolean {
  const last = i + offset
  switch (r.kind) {
    case 1:
      return j <= last
    case 2:
      return j <= last && last - r.window < j
    case 3:
      return j <= last && (j < r.sink || last - j < r.local)
    case 4: {
      const qs = r.qSeg[i],
        ks = r.kvSeg[j]
      return ks === kSegPrefix || qs === kSegQuery || qs === ks
    }
    case 5: {
      const len = r.kvPos.length / (r.posBatch * r.posHeads)
      const row = (r.posBatch === 1 ? 0 : b) * r.posHeads + (r.posHeads === 1 ? 0 : Math.floor(h / r.posGroup))
      return r.kvPos[row * len + j]! <= last
    }
  }
}

/**
 * Whether key j is visible to query i under an OR of AND-terms; no terms
 * means no rule, every token kept (mirror of `rules_visible`).
 * @example
 * ```ts
 * rulesVisible([[{ kind: 1 }]], 3, 4, 0) // false: causal
 * ```
 */
export function rulesVisible(rules: RuleSet | null, i: number, j: number, offset: number, b = 0, h = 0): boolean {
  if (rules === null || rules.length === 0) return true
  for (const term of rules) {
    let all = true
    for (const r of term) if (!(all = ruleVisible(r, i, j, offset, b, h))) break
    if (all) return true
  }
  return false
}

// ---------------------------------------------------------------------------
// O(1) block classifiers. Arguments are inclusive token ranges already cut to
// the sequence: queries [qa, qz] shifted to L0 = qa + offset, L1 = qz + offset;
// keys [ka, kz]. Each returns kAbsent, kPartial or kFull, exactly.

/**
 * Causal: j ≤ L.
 * @example
 * ```ts
 * classifyCausal(0, 127, 0, 127) // kPartial: the diagonal block
 * ```
 */
export function classifyCausal(L0: number, L1: number, ka: number, kz: number): number {
  if (ka > L1) return kAbsent
  return kz <= L0 ? kFull : kPartial
}

/**
 * Sliding window (window ≥ 1): L − window < j ≤ L. The keys some query of
 * the block sees form the one interval (L0 − window, L1].
 * @example
 * ```ts
 * classifyWindow(128, 255, 0, 127, 64) // kAbsent: every key is too old
 * ```
 */
export function classifyWindow(L0: number, L1: number, ka: number, kz: number, window: number): number {
  if (ka > L1 || kz <= L0 - window) return kAbsent
  return kz <= L0 && ka > L1 - window ? kFull : kPartial
}

/**
 * Streaming (local ≥ 1): j ≤ L and (j < sink or L − j < local).
 * @example
 * ```ts
 * classifyStreaming(1024, 1151, 0, 127, 4, 256) // kPartial: holds the 4 sink tokens
 * ```
 */
export function classifyStreaming(L0: number, L1: number, ka: number, kz: number, sink: number, local: number): number {
  if (ka > L1) return kAbsent
  if (ka >= sink && kz <= L0 - local) return kAbsent
  // every key causal for every query, and every non-sink key inside the oldest window
  return kz <= L0 && (kz < sink || Math.max(ka, sink) > L1 - local) ? kFull : kPartial
}

/**
 * Causal AND documents (qLen = kvLen, offset 0), from the layout: the prefix
 * is [0, prefix), documents [prefix, queryStart) with `seg` their index per
 * token (increasing), the query segment [queryStart, n).
 * @example
 * ```ts
 * classifyCausalDocuments(256, 383, 0, 127, 128, 1000, seg) // kFull: keys all in the prefix
 * ```
 */
export function classifyCausalDocuments(
  qa: number,
  qz: number,
  ka: number,
  kz: number,
  prefix: number,
  queryStart: number,
  seg: Int32Array,
): number {
  if (ka > qz) return kAbsent
  let some = ka < prefix || qz >= queryStart
  if (!some) {
    // a document holding a query of the block and a key of the block; with
    // ka ≤ qz the earliest such key is never after the latest such query
    const q0 = Math.max(qa, prefix),
      q1 = Math.min(qz, queryStart - 1)
    const k0 = Math.max(ka, prefix),
      k1 = Math.min(kz, queryStart - 1)
    some = q0 <= q1 && k0 <= k1 && Math.max(seg[q0]!, seg[k0]!) <= Math.min(seg[q1]!, seg[k1]!)
  }
  if (!some) return kAbsent
  if (kz > qa) return kPartial // causality cuts the block
  const k0 = Math.max(ka, prefix)
  if (k0 > kz) return kFull // every key in the prefix
  const q1 = Math.min(qz, queryStart - 1)
  if (qa > q1) return kFull // every query in the query segment
  // the other queries and the non-prefix keys must all lie in one document
  if (qa < prefix || kz >= queryStart) return kPartial
  const d = seg[qa]
  return seg[q1] === d && seg[k0] === d && seg[kz] === d ? kFull : kPartial
}

// ---------------------------------------------------------------------------
// Combining rule sets.

/** Whether rule r implies rule s (r keeps a subset of what s keeps). */
function implies(r: MaskRule, s: MaskRule): boolean {
  switch (s.kind) {
    case 1:
      return r.kind !== 4 && r.kind !== 5 // causal, window and streaming are all causal
    case 2:
      return r.kind === 2 && r.window <= s.window
    case 3:
      return (r.kind === 2 && r.window <= s.local) || (r.kind === 3 && r.sink <= s.sink && r.local <= s.local)
    case 4:
      return r.kind === 4 && r.qSeg === s.qSeg && r.kvSeg === s.kvSeg
    case 5:
      return r.kind === 5 && r.kvPos === s.kvPos && r.posBatch === s.posBatch && r.posHeads === s.posHeads
  }
}

/** An AND-term without rules implied by another of its rules. */
function simplifyTerm(term: readonly MaskRule[]): MaskRule[] {
  const out: MaskRule[] = []
  term.forEach((s, k) => {
    // drop s when another rule implies it (of two equal rules keep the first)
    const redundant = term.some((r, m) => m !== k && implies(r, s) && (!implies(s, r) || m < k))
    if (!redundant) out.push(s)
  })
  return out
}

/** Term x implies term y when every rule of y is implied by some rule of x. */
const termImplies = (x: readonly MaskRule[], y: readonly MaskRule[]) => y.every((s) => x.some((r) => implies(r, s)))

/**
 * Whether rule set a keeps a subset of what b keeps, for every (i, j): each
 * term of a implies some term of b. Sound, not complete (false may be unsure).
 * @example
 * ```ts
 * rulesImply([[{ kind: 3, sink: 4, local: 64 }]], [[{ kind: 1 }]]) // true: streaming is causal
 * ```
 */
export function rulesImply(a: RuleSet, b: RuleSet): boolean {
  return a.every((x) => b.some((y) => termImplies(x, y)))
}

/** An OR of terms without terms that imply another term (those add nothing). */
function simplifyTerms(terms: readonly (readonly MaskRule[])[]): MaskRule[][] {
  const simple = terms.map(simplifyTerm)
  return simple.filter((x, k) => !simple.some((y, m) => m !== k && termImplies(x, y) && (!termImplies(y, x) || m < k)))
}

function checkLimits(op: string, terms: MaskRule[][]): MaskRule[][] {
  const widest = Math.max(0, ...terms.map((t) => t.length))
  if (terms.length > kMaxTerms || widest > kMaxRulesPerTerm)
    throw new SparsekitError(
      'ERR_SK_UNSUPPORTED',
      `mask.${op}(): the combined token rule would be an OR of ${terms.length} terms of up to ${widest} rules, ` +
        `but the kernels take at most ${kMaxTerms} terms of ${kMaxRulesPerTerm} rules; combine fewer rule-based masks`,
    )
  return terms
}

/**
 * The AND of two rule sets: every term of a with every term of b.
 * @throws ERR_SK_UNSUPPORTED when the result has more than 4 terms or 4 rules in a term.
 * @example
 * ```ts
 * andRules([[{ kind: 1 }]], [[{ kind: 2, window: 64 }]]) // [[window 64]]: the window is causal already
 * ```
 */
export function andRules(a: RuleSet, b: RuleSet): RuleSet {
  const terms: MaskRule[][] = []
  for (const x of a) for (const y of b) terms.push([...x, ...y])
  return checkLimits('and', simplifyTerms(terms))
}

/**
 * The OR of two rule sets: the terms of both.
 * @throws ERR_SK_UNSUPPORTED when the result has more than 4 terms.
 * @example
 * ```ts
 * orRules([[{ kind: 1 }]], [[{ kind: 2, window: 64 }]]) // [[causal]]: the window adds nothing
 * ```
 */
export function orRules(a: RuleSet, b: RuleSet): RuleSet {
  return checkLimits('or', simplifyTerms([...a, ...b]))
}

/**
 * The rules as `NativeMaskRule` arrays (lib/native.ts); no rule is no terms.
 * @example
 * ```ts
 * toNativeRules([[{ kind: 3, sink: 4, local: 256 }]]) // [[{ kind: 3, sink: 4, local: 256 }]]
 * ```
 */
export function toNativeRules(rules: RuleSet | null): NativeMaskRule[][] {
  if (rules === null) return []
  return rules.map((term) =>
    term.map((r): NativeMaskRule => {
      switch (r.kind) {
        case 1:
          return { kind: 1 }
        case 2:
          return { kind: 2, window: r.window }
        case 3:
          return { kind: 3, sink: r.sink, local: r.local }
        case 4:
          return { kind: 4, qSeg: r.qSeg, kvSeg: r.kvSeg }
        case 5:
          return { kind: 5, kvPos: r.kvPos, posBatch: r.posBatch, posHeads: r.posHeads }
      }
    }),
  )
}

/**
 * A short description for messages: `causal`, `window(64)`, `streaming(4, 256)`, `documents`, `permuted causal`.
 * @example
 * ```ts
 * describeRules([[{ kind: 1 }], [{ kind: 2, window: 8 }]]) // 'causal or window(8)'
 * ```
 */
export function describeRules(rules: RuleSet | null): string {
  if (rules === null || rules.length === 0) return 'none'
  const one = (r: MaskRule) =>
    r.kind === 1
      ? 'causal'
      : r.kind === 2
        ? `window(${r.window})`
        : r.kind === 3
          ? `streaming(${r.sink}, ${r.local})`
          : r.kind === 4
            ? 'documents'
            : 'permuted causal'
  return rules.map((t) => t.map(one).join(' and ')).join(' or ')
}
