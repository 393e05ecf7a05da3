/**
 * The geometry of the BlockMask builders: argument checks, and the loops that
 * fill the full / partial index lists. Work and memory are O(blocks): each
 * row visits only the key blocks its rule can reach and classifies each in
 * O(1) (lib/mask/rules.ts), never token by token.
 * @internal
 * @module
 */
import { allocating, invalidArgument, shapeError, SparsekitError } from '../errors.js'
import type { NativeMask } from '../native.js'
import { checkInt, is, lengthOf } from '../validate.js'
import {
  classifyCausal,
  classifyCausalDocuments,
  classifyStreaming,
  classifyWindow,
  kAbsent,
  kFull,
  kSegPrefix,
  kSegQuery,
  RuleKind,
  type RuleSet,
} from './rules.js'

/**
 * Tokens per block: one number for queries and keys, or `{ q, kv }`.
 * Each is a multiple of 16 from 16 to 256.
 */
export type BlockSize =
  | number
  | {
      /** Tokens per query block. */
      readonly q: number
      /** Tokens per key block. */
      readonly kv: number
    }

/** Smallest and largest block sides, and their step (`sk_block_mask` in params.h). */
export const kMinBlock = 16
export const kMaxBlock = 256
/** Longest sequence: token and block indices are int32 in the kernels. */
export const kMaxLen = 2 ** 31 - 1
/** Most blocks (batch × heads × query blocks × key blocks) one mask may hold: 1 GiB per index array. */
export const kMaxBlocks = 2 ** 28
/** Largest batch or head count a mask builder takes. */
export const kMaxBatchHeads = 65536

/** The arrays and facts behind a BlockMask (the fields of `sk_block_mask`, plus what combining needs). */
export interface MaskParts extends Omit<NativeMask, 'rules'> {
  qLen: number
  kvLen: number
  /** The token rule of partial blocks; null when there are none. */
  rules: RuleSet | null
  /** The rule keeps every token of every full block (combining with and() needs it). */
  ruleKeepsFull: boolean
  /** The rule keeps no token of any absent block (combining with or() needs it). */
  ruleDropsAbsent: boolean
}

const blockWhat = `an integer multiple of ${kMinBlock} from ${kMinBlock} to ${kMaxBlock}, or { q, kv } of two such`

function checkSide(v: unknown, whole: unknown): number {
  if (!is.integer(v) || v < kMinBlock || v > kMaxBlock || v % kMinBlock !== 0)
    throw invalidArgument('blockSize', blockWhat, whole)
  return v
}

/**
 * Query and key block sizes from a `blockSize` argument.
 * @throws ERR_SK_INVALID_ARGUMENT outside 16..256 in steps of 16.
 * @example
 * ```ts
 * parseBlockSize(128) // { q: 128, kv: 128 }
 * parseBlockSize({ q: 64, kv: 128 }) // { q: 64, kv: 128 }
 * ```
 */
export function parseBlockSize(v: unknown): { q: number; kv: number } {
  if (is.plainObject(v)) {
    const keys = Object.keys(v)
    if (keys.length !== 2 || !('q' in v) || !('kv' in v)) throw invalidArgument('blockSize', blockWhat, v)
    return { q: checkSide(v.q, v), kv: checkSide(v.kv, v) }
  }
  const side = checkSide(v, v)
  return { q: side, kv: side }
}

/**
 * A sequence length: an integer from 1 to 2^31 − 1.
 * @example
 * ```ts
 * checkLen('qLen', 1000) // 1000
 * ```
 */
export function checkLen(name: string, v: unknown): number {
  if (v === undefined) throw invalidArgument(name, 'an integer from 1 to 2147483647', v)
  return checkInt(name, v, 1, kMaxLen)
}

/**
 * The block count of a mask for these sizes, checked before anything of that
 * size is allocated or looped over.
 * @throws ERR_SK_SHAPE beyond 2^28 blocks in all.
 * @example
 * ```ts
 * checkBlockCount(1, 1, 1000, 1000, { q: 128, kv: 128 }) // 64
 * ```
 */
export function checkBlockCount(
  batch: number,
  heads: number,
  qLen: number,
  kvLen: number,
  bs: { q: number; kv: number },
): number {
  const blocks = batch * heads * Math.ceil(qLen / bs.q) * Math.ceil(kvLen / bs.kv)
  if (blocks > kMaxBlocks)
    throw shapeError(
      'qLen, kvLen and blockSize',
      `at most ${kMaxBlocks} blocks (batch × heads × query blocks × key blocks)`,
      blocks,
    )
  return blocks
}

/**
 * Empty parts (no block kept) for the given sizes. Index arrays stay zero past
 * each row's count: untouched pages of a fresh array cost nothing, and filling
 * them would double the build time of a sparse mask.
 * @throws ERR_SK_SHAPE beyond 2^28 blocks in all.
 * @example
 * ```ts
 * const p = emptyParts(1, 1, 1000, 1000, { q: 128, kv: 128 }) // 8 × 8 blocks
 * ```
 */
export function emptyParts(
  batch: number,
  heads: number,
  qLen: number,
  kvLen: number,
  bs: { q: number; kv: number },
): MaskParts {
  const blocks = checkBlockCount(batch, heads, qLen, kvLen, bs)
  const nQBlocks = Math.ceil(qLen / bs.q),
    nKvBlocks = Math.ceil(kvLen / bs.kv)
  const rows = batch * heads * nQBlocks
  return allocating(`the index arrays of a mask of ${blocks} blocks`, () => ({
    batch,
    heads,
    qLen,
    kvLen,
    qBlock: bs.q,
    kvBlock: bs.kv,
    nQBlocks,
    nKvBlocks,
    fullNum: new Int32Array(rows),
    fullIdx: new Int32Array(blocks),
    partialNum: new Int32Array(rows),
    partialIdx: new Int32Array(blocks),
    rules: null,
    ruleKeepsFull: true,
    ruleDropsAbsent: true,
  }))
}

/**
 * What a builder's rows are classified by: one kind with its numbers, so the
 * loop below calls the classifiers directly (a switch, not a callback per
 * block, keeps a 128K-token mask to a few milliseconds).
 */
interface Geometry {
  kind: 1 | 2 | 3 | 4
  off: number
  window: number
  sink: number
  local: number
  prefix: number
  queryStart: number
  seg: Int32Array | null
}

const geometry = (kind: Geometry['kind'], off: number, more: Partial<Geometry> = {}): Geometry => ({
  kind,
  off,
  window: 0,
  sink: 0,
  local: 0,
  prefix: 0,
  queryStart: 0,
  seg: null,
  ...more,
})

/** Classifies key blocks lo..hi of query-block row qb (batch = heads = 1) and appends them. */
function fillRange(p: MaskParts, qb: number, lo: number, hi: number, g: Geometry): void {
  const qa = qb * p.qBlock,
    qz = Math.min(qa + p.qBlock, p.qLen) - 1
  const L0 = qa + g.off,
    L1 = qz + g.off
  const base = qb * p.nKvBlocks
  let nf = p.fullNum[qb]!,
    np = p.partialNum[qb]!
  for (let kb = Math.max(lo, 0), end = Math.min(hi, p.nKvBlocks - 1); kb <= end; kb++) {
    const ka = kb * p.kvBlock,
      kz = Math.min(ka + p.kvBlock, p.kvLen) - 1
    let c: number
    switch (g.kind) {
      case 1:
        c = classifyCausal(L0, L1, ka, kz)
        break
      case 2:
        c = classifyWindow(L0, L1, ka, kz, g.window)
        break
      case 3:
        c = classifyStreaming(L0, L1, ka, kz, g.sink, g.local)
        break
      case 4:
        c = classifyCausalDocuments(qa, qz, ka, kz, g.prefix, g.queryStart, g.seg!)
        break
    }
    if (c === kAbsent) continue
    if (c === kFull) p.fullIdx[base + nf++] = kb
    else p.partialIdx[base + np++] = kb
  }
  p.fullNum[qb] = nf
  p.partialNum[qb] = np
}

/** The key block holding key `j`, or −1 before key 0. */
const kvBlockOf = (p: MaskParts, j: number) => (j < 0 ? -1 : Math.floor(j / p.kvBlock))

/**
 * causal: j ≤ i + offset.
 * @example
 * ```ts
 * buildCausal(1000, 1000, { q: 128, kv: 128 }).fullNum // [0, 1, 2, …, 7]
 * ```
 */
export function buildCausal(qLen: number, kvLen: number, bs: { q: number; kv: number }): MaskParts {
  const p = emptyParts(1, 1, qLen, kvLen, bs)
  const off = kvLen - qLen
  const classify = geometry(1, off)
  for (let qb = 0; qb < p.nQBlocks; qb++) {
    const qz = Math.min((qb + 1) * bs.q, qLen) - 1
    fillRange(p, qb, 0, kvBlockOf(p, qz + off), classify)
  }
  p.rules = [[{ kind: RuleKind.causal }]]
  return p
}

/**
 * slidingWindow: i + offset − window < j ≤ i + offset.
 * @example
 * ```ts
 * buildWindow(4096, 4096, 512, { q: 128, kv: 128 }) // 5 key blocks per row at most
 * ```
 */
export function buildWindow(qLen: number, kvLen: number, window: number, bs: { q: number; kv: number }): MaskParts {
  const p = emptyParts(1, 1, qLen, kvLen, bs)
  const off = kvLen - qLen
  const classify = geometry(2, off, { window })
  for (let qb = 0; qb < p.nQBlocks; qb++) {
    const qa = qb * bs.q,
      qz = Math.min(qa + bs.q, qLen) - 1
    fillRange(p, qb, kvBlockOf(p, Math.max(qa + off - window + 1, 0)), kvBlockOf(p, qz + off), classify)
  }
  p.rules = [[{ kind: RuleKind.window, window }]]
  return p
}

/**
 * streaming: j ≤ i + offset and (j < sink or i + offset − j < local).
 * @example
 * ```ts
 * buildStreaming(8192, 8192, 4, 1024, { q: 128, kv: 128 }) // the sink block plus ≤ 9 local blocks per row
 * ```
 */
export function buildStreaming(
  qLen: number,
  kvLen: number,
  sink: number,
  local: number,
  bs: { q: number; kv: number },
): MaskParts {
  const p = emptyParts(1, 1, qLen, kvLen, bs)
  const off = kvLen - qLen
  const classify = geometry(3, off, { sink, local })
  const sinkEnd = kvBlockOf(p, sink - 1) // last block holding a sink token, −1 without
  for (let qb = 0; qb < p.nQBlocks; qb++) {
    const qa = qb * bs.q,
      qz = Math.min(qa + bs.q, qLen) - 1
    const last = kvBlockOf(p, qz + off)
    fillRange(p, qb, 0, Math.min(sinkEnd, last), classify)
    fillRange(p, qb, Math.max(kvBlockOf(p, Math.max(qa + off - local + 1, 0)), sinkEnd + 1), last, classify)
  }
  p.rules = [[{ kind: RuleKind.streaming, sink, local }]]
  return p
}

/** A documents() layout: token ranges and the segment id of every token. */
export interface DocumentLayout {
  prefix: number
  queryStart: number
  total: number
  /** Segment id per token: −1 prefix, the document's index, −2 query. */
  seg: Int32Array
  /** First token of each document. */
  starts: Int32Array
}

/**
 * The token layout of documents({ prefix, lengths, query }) for block sizes `bs`.
 * @throws ERR_SK_INVALID_ARGUMENT for negative or non-integer lengths, ERR_SK_SHAPE for an empty or too long
 *   layout or one of more than 2^28 blocks (checked before the per-token arrays are made).
 * @example
 * ```ts
 * documentLayout(2, [3, 1], 2, { q: 16, kv: 16 }).seg // Int32Array [-1, -1, 0, 0, 0, 1, -2, -2]
 * ```
 */
export function documentLayout(
  prefix: unknown,
  lengths: unknown,
  query: unknown,
  bs: { q: number; kv: number },
): DocumentLayout {
  const pre = prefix === undefined ? 0 : checkInt('prefix', prefix, 0, kMaxLen)
  const qry = query === undefined ? 0 : checkInt('query', query, 0, kMaxLen)
  if (!Array.isArray(lengths)) throw invalidArgument('lengths', 'an array of non-negative integers', lengths)
  let total = pre
  for (const n of lengths) {
    if (!is.integer(n) || n < 0) throw invalidArgument('lengths', 'an array of non-negative integers', lengths)
    total += n
  }
  const queryStart = total
  total += qry
  if (total < 1 || total > kMaxLen)
    throw shapeError('prefix + lengths + query', `a total from 1 to ${kMaxLen} tokens`, total)
  checkBlockCount(1, 1, total, total, bs)
  const seg = allocating(`the segment ids of ${total} tokens`, () => new Int32Array(total))
  const starts = new Int32Array(lengths.length)
  seg.fill(kSegPrefix, 0, pre)
  let at = pre
  lengths.forEach((n: number, d: number) => {
    starts[d] = at
    seg.fill(d, at, at + n)
    at += n
  })
  seg.fill(kSegQuery, queryStart, total)
  return { prefix: pre, queryStart, total, seg, starts }
}

/**
 * documents: causal, and j in the prefix, or i and j in one document, or i in the query segment.
 * @example
 * ```ts
 * buildDocuments(documentLayout(128, [512, 512], 64), { q: 128, kv: 128 })
 * ```
 */
export function buildDocuments(layout: DocumentLayout, bs: { q: number; kv: number }): MaskParts {
  const { prefix, queryStart, total, seg, starts } = layout
  const p = emptyParts(1, 1, total, total, bs)
  const classify = geometry(4, 0, { prefix, queryStart, seg })
  const prefixEnd = kvBlockOf(p, prefix - 1)
  for (let qb = 0; qb < p.nQBlocks; qb++) {
    const qa = qb * bs.q,
      qz = Math.min(qa + bs.q, total) - 1
    const last = kvBlockOf(p, qz)
    if (qz >= queryStart) {
      fillRange(p, qb, 0, last, classify) // query rows see every earlier key
      continue
    }
    fillRange(p, qb, 0, Math.min(prefixEnd, last), classify)
    // beyond the prefix only the documents of this block's queries are reachable
    const first = Math.max(qa, prefix)
    if (first <= qz) fillRange(p, qb, Math.max(kvBlockOf(p, starts[seg[first]!]!), prefixEnd + 1), last, classify)
  }
  p.rules = [[{ kind: RuleKind.causal }, { kind: RuleKind.documents, qSeg: seg, kvSeg: seg }]]
  return p
}

/** Appends kept blocks of row `row` given a per-key-block keep test (block-level masks: every kept block is full). */
function fillFullRow(p: MaskParts, row: number, keep: (kb: number) => boolean): void {
  const base = row * p.nKvBlocks
  let n = 0
  for (let kb = 0; kb < p.nKvBlocks; kb++) if (keep(kb)) p.fullIdx[base + n++] = kb
  p.fullNum[row] = n
}

/**
 * fromBlocks: calls fn(b, h, qb, kb) once per block; true keeps the block (full).
 * @throws ERR_SK_INVALID_ARGUMENT when fn throws or returns a non-boolean.
 * @example
 * ```ts
 * buildFromBlocks((b, h, qb, kb) => kb <= qb, 1, 2, 1024, 1024, { q: 128, kv: 128 })
 * ```
 */
export function buildFromBlocks(
  fn: (b: number, h: number, qb: number, kb: number) => boolean,
  batch: number,
  heads: number,
  qLen: number,
  kvLen: number,
  bs: { q: number; kv: number },
): MaskParts {
  const p = emptyParts(batch, heads, qLen, kvLen, bs)
  for (let b = 0; b < batch; b++)
    for (let h = 0; h < heads; h++)
      for (let qb = 0; qb < p.nQBlocks; qb++)
        fillFullRow(p, (b * heads + h) * p.nQBlocks + qb, (kb) => {
          let v: unknown
          try {
            v = fn(b, h, qb, kb)
          } catch (err) {
            if (err instanceof SparsekitError) throw err
            const why = err instanceof Error ? err.message : String(err)
            throw new SparsekitError(
              'ERR_SK_INVALID_ARGUMENT',
              `Expected a block function that returns a boolean for fn but it threw at (b, h, qb, kb) = (${b}, ${h}, ${qb}, ${kb}): ${why}`,
              { cause: err },
            )
          }
          if (typeof v !== 'boolean')
            throw invalidArgument(`fn(${b}, ${h}, ${qb}, ${kb})`, 'a boolean (true keeps the block)', v)
          return v
        })
  return p
}

/**
 * fromDense: bits (0/1 per block, row-major [batch, heads, nQB, nKB]); every kept block is full.
 * @throws ERR_SK_SHAPE when dims or bits do not fit qLen / kvLen / blockSize, ERR_SK_INVALID_ARGUMENT for bits not 0/1.
 * @example
 * ```ts
 * buildFromDense(new Uint8Array([1, 0, 1, 1]), [2, 2], 256, 256, { q: 128, kv: 128 })
 * ```
 */
export function buildFromDense(
  bits: unknown,
  dims: unknown,
  qLen: number,
  kvLen: number,
  bs: { q: number; kv: number },
): MaskParts {
  if (!is.uint8Array(bits)) throw invalidArgument('bits', 'a Uint8Array of 0/1 per block', bits)
  if (!Array.isArray(dims) || (dims.length !== 2 && dims.length !== 4) || !dims.every((d) => is.integer(d) && d >= 1))
    throw shapeError('dims', '[nQBlocks, nKvBlocks] or [batch, heads, nQBlocks, nKvBlocks] of positive integers', dims)
  const [batch, heads, nQ, nK] = (dims.length === 2 ? [1, 1, ...dims] : dims) as number[]
  const wantQ = Math.ceil(qLen / bs.q),
    wantK = Math.ceil(kvLen / bs.kv)
  if (nQ !== wantQ || nK !== wantK)
    throw shapeError(
      'dims',
      `${wantQ} query blocks × ${wantK} key blocks (qLen ${qLen} / ${bs.q}, kvLen ${kvLen} / ${bs.kv}, rounded up)`,
      dims,
    )
  // bits against dims before the mask's arrays are made: dims may ask for far more blocks than bits holds.
  const blocks = checkBlockCount(batch!, heads!, qLen, kvLen, bs)
  if (lengthOf(bits) !== blocks)
    throw shapeError('bits', `${blocks} entries (the product of dims [${dims.join(', ')}])`, bits)
  const p = emptyParts(batch!, heads!, qLen, kvLen, bs)
  const bad = bits.findIndex((v) => v > 1)
  if (bad >= 0) throw invalidArgument(`bits[${bad}]`, '0 or 1', bits[bad])
  const rows = p.fullNum.length
  for (let row = 0; row < rows; row++) fillFullRow(p, row, (kb) => bits[row * p.nKvBlocks + kb] === 1)
  return p
}
