/**
 * BlockMask: FlexAttention's block-sparse mask. Per (batch, head, query
 * block) the key blocks to compute, split into full blocks (every token kept)
 * and partial blocks (a token rule decides: causal, window, sink, document ids).
 * @module
 */
import { allocating, invalidArgument, shapeError, SparsekitError } from '../errors.js'
import type { NativeMask } from '../native.js'
import { checkInt, checkOptions } from '../validate.js'
import {
  buildCausal,
  buildDocuments,
  buildFromBlocks,
  buildFromDense,
  buildStreaming,
  buildWindow,
  checkLen,
  documentLayout,
  kMaxBatchHeads,
  parseBlockSize,
  type BlockSize,
  type MaskParts,
} from './builders.js'
import { combine } from './combine.js'
import { permutedCausalParts, type PermutedCausalOptions } from './permuted.js'
import { describeRules, toNativeRules } from './rules.js'

export type { BlockSize } from './builders.js'

/** Sizes every builder takes: sequence lengths and block size (a number, or `{ q, kv }`). */
export interface MaskSizes {
  /** Query tokens, 1..2^31 − 1. */
  qLen: number
  /** Key tokens, 1..2^31 − 1; kvLen > qLen is chunked prefill (bottom-right alignment). */
  kvLen: number
  /** Tokens per block, 16..256 in steps of 16: one number for both, or `{ q, kv }`. */
  blockSize: BlockSize
}

/** A dense block-level mask: 0/1 per block, row-major over `dims` = [batch, heads, nQBlocks, nKvBlocks]. */
export interface DenseBlocks {
  /** One byte per block, 1 = computed, 0 = skipped, row-major over `dims`. */
  bits: Uint8Array
  /** `[batch, heads, nQBlocks, nKvBlocks]`. */
  dims: [number, number, number, number]
}

/**
 * A block-sparse attention mask. Build one with the static builders; masks are
 * immutable, and `and` / `or` return new masks.
 *
 * Token semantics (query i, key j, offset = kvLen − qLen): a full block keeps
 * every (i, j) in it, a partial block keeps those its token rule keeps, an
 * absent block none. `attention`'s own `causal` flag applies on top.
 *
 * @example
 * ```ts
 * const mask = sk.BlockMask.causal({ qLen: 4096, kvLen: 4096, blockSize: 128 })
 *   .and(sk.BlockMask.streaming({ qLen: 4096, kvLen: 4096, sink: 4, local: 1024, blockSize: 128 }))
 * const out = await sk.attention(q, k, v, { mask })
 * ```
 */
export class BlockMask {
  /** Query tokens. */ readonly qLen: number
  /** Key tokens. */ readonly kvLen: number
  /** Query tokens per block. */ readonly qBlock: number
  /** Key tokens per block. */ readonly kvBlock: number
  /** Batch size of the mask; 1 broadcasts over the op's batch. */ readonly batch: number
  /** Heads of the mask; 1 broadcasts over the op's query heads. */ readonly heads: number
  /** ceil(qLen / qBlock). */ readonly nQBlocks: number
  /** ceil(kvLen / kvBlock). */ readonly nKvBlocks: number
  readonly #p: MaskParts

  /** A brand check: only a mask a builder made is a BlockMask (not `Object.create(BlockMask.prototype)`). */
  static [Symbol.hasInstance](v: unknown): v is BlockMask {
    return typeof v === 'object' && v !== null && #p in v
  }

  private constructor(p: MaskParts) {
    this.#p = p
    this.qLen = p.qLen
    this.kvLen = p.kvLen
    this.qBlock = p.qBlock
    this.kvBlock = p.kvBlock
    this.batch = p.batch
    this.heads = p.heads
    this.nQBlocks = p.nQBlocks
    this.nKvBlocks = p.nKvBlocks
  }

  /**
   * Causal: query i sees key j ≤ i + (kvLen − qLen).
   * @param opts.qLen / kvLen 1..2^31 − 1; opts.blockSize 16..256, step 16 (number, or `{ q, kv }`).
   * @throws ERR_SK_INVALID_ARGUMENT for bad lengths or block sizes.
   * @example
   * ```ts
   * const m = sk.BlockMask.causal({ qLen: 131072, kvLen: 131072, blockSize: 128 }) // milliseconds
   * ```
   */
  static causal(opts: MaskSizes): BlockMask {
    const o = checkOptions('options', opts, ['qLen', 'kvLen', 'blockSize'])
    return new BlockMask(buildCausal(checkLen('qLen', o.qLen), checkLen('kvLen', o.kvLen), parseBlockSize(o.blockSize)))
  }

  /**
   * Sliding window, causal: i + offset − window < j ≤ i + offset.
   * @param opts.window tokens, ≥ 1 (1 sees only the diagonal).
   * @throws ERR_SK_INVALID_ARGUMENT for bad lengths, window or block sizes.
   * @example
   * ```ts
   * const m = sk.BlockMask.slidingWindow({ qLen: 8192, kvLen: 8192, window: 1024, blockSize: 64 })
   * ```
   */
  static slidingWindow(opts: MaskSizes & { window: number }): BlockMask {
    const o = checkOptions('options', opts, ['qLen', 'kvLen', 'window', 'blockSize'])
    const qLen = checkLen('qLen', o.qLen),
      kvLen = checkLen('kvLen', o.kvLen)
    return new BlockMask(
      buildWindow(qLen, kvLen, checkInt('window', o.window, 1, 2 ** 31 - 1), parseBlockSize(o.blockSize)),
    )
  }

  /**
   * Streaming (StreamingLLM / LServe "Λ" heads), causal: j ≤ i + offset and
   * (j < sink or i + offset − j < local).
   * @param opts.sink leading tokens every query sees, ≥ 0; opts.local recent tokens, ≥ 1.
   * @throws ERR_SK_INVALID_ARGUMENT for bad lengths, sink, local or block sizes.
   * @example
   * ```ts
   * const m = sk.BlockMask.streaming({ qLen: 32768, kvLen: 32768, sink: 128, local: 4096, blockSize: 128 })
   * ```
   */
  static streaming(opts: MaskSizes & { sink: number; local: number }): BlockMask {
    const o = checkOptions('options', opts, ['qLen', 'kvLen', 'sink', 'local', 'blockSize'])
    const qLen = checkLen('qLen', o.qLen),
      kvLen = checkLen('kvLen', o.kvLen)
    const sink = checkInt('sink', o.sink, 0, 2 ** 31 - 1),
      local = checkInt('local', o.local, 1, 2 ** 31 - 1)
    return new BlockMask(buildStreaming(qLen, kvLen, sink, local, parseBlockSize(o.blockSize)))
  }

  /**
   * BlockRank's layout, causal: an instruction prefix, then documents of the
   * given lengths, then a query segment; qLen = kvLen = prefix + Σ lengths + query.
   * Key j is visible to query i (j ≤ i) when j is in the prefix, or i and j are
   * in the same document, or i is in the query segment.
   * @param opts.prefix tokens, default 0; opts.lengths tokens per document (≥ 0 each); opts.query tokens, default 0.
   * @throws ERR_SK_INVALID_ARGUMENT for negative or non-integer lengths, ERR_SK_SHAPE for an empty layout.
   * @example
   * ```ts
   * const m = sk.BlockMask.documents({ prefix: 256, lengths: new Array(100).fill(1024), query: 512, blockSize: 128 })
   * ```
   */
  static documents(opts: {
    prefix?: number
    lengths: readonly number[]
    query?: number
    blockSize: BlockSize
  }): BlockMask {
    const o = checkOptions('options', opts, ['prefix', 'lengths', 'query', 'blockSize'])
    const bs = parseBlockSize(o.blockSize)
    return new BlockMask(buildDocuments(documentLayout(o.prefix, o.lengths, o.query, bs), bs))
  }

  /**
   * Causal attention over keys stored in a permuted order (PBS-Attn): the key at
   * slot j of key head g is key `permutation[b, g, j]` of the original sequence,
   * and query i sees it when that original position is ≤ i + (kvLen − qLen).
   * Blocks whose keys are all visible are full, none absent, the rest partial
   * (token rule `permuted causal`).
   * @param opts.permutation Int32Array [batch, keyHeads, kvLen], each row a permutation of 0..kvLen − 1
   *   (from {@link segmentPermutation}); opts.dims its [batch, keyHeads, kvLen]; opts.headsQ the query heads
   *   (a multiple of keyHeads); opts.qLen ≤ kvLen; opts.blockSize as the other builders; opts.keep (optional)
   *   0/1 per block, [batch, headsQ, nQBlocks, nKvBlocks]: only those blocks (the same as
   *   `fromDense(keep).and(permutedCausal(…))`, in one pass).
   * @throws ERR_SK_INVALID_ARGUMENT when a row is not a permutation (out of range or repeated) or a size is bad;
   *   ERR_SK_SHAPE when the lengths do not fit.
   * @example
   * ```ts
   * const perm = await sk.segmentPermutation(q, k, { blockSize: 128, segmentSize: 256 })
   * const m = sk.BlockMask.permutedCausal({ permutation: perm.indices, dims: perm.dims, headsQ: 8, qLen: 4096, blockSize: 128 })
   * ```
   */
  static permutedCausal(opts: PermutedCausalOptions): BlockMask {
    return new BlockMask(permutedCausalParts(opts))
  }

  /**
   * A block-level mask from a function: fn(b, h, qb, kb) → true keeps the
   * block (as a full block; no token rule). Called once per block.
   * @param opts.batch / heads 1..65536 (1 broadcasts).
   * @throws ERR_SK_INVALID_ARGUMENT when fn throws or returns a non-boolean.
   * @example
   * ```ts
   * // head 0 dense, head 1 block-diagonal
   * const m = sk.BlockMask.fromBlocks((b, h, qb, kb) => h === 0 || qb === kb,
   *   { batch: 1, heads: 2, qLen: 1024, kvLen: 1024, blockSize: 128 })
   * ```
   */
  static fromBlocks(
    fn: (b: number, h: number, qb: number, kb: number) => boolean,
    opts: MaskSizes & { batch?: number; heads?: number },
  ): BlockMask {
    if (typeof fn !== 'function') throw invalidArgument('fn', 'a function (b, h, qb, kb) => boolean', fn)
    const o = checkOptions('options', opts, ['batch', 'heads', 'qLen', 'kvLen', 'blockSize'])
    const batch = o.batch === undefined ? 1 : checkInt('batch', o.batch, 1, kMaxBatchHeads)
    const heads = o.heads === undefined ? 1 : checkInt('heads', o.heads, 1, kMaxBatchHeads)
    const qLen = checkLen('qLen', o.qLen),
      kvLen = checkLen('kvLen', o.kvLen)
    return new BlockMask(buildFromBlocks(fn, batch, heads, qLen, kvLen, parseBlockSize(o.blockSize)))
  }

  /**
   * A block-level mask from 0/1 per block (no token rule): `bits` row-major
   * over `dims`, `[nQBlocks, nKvBlocks]` or `[batch, heads, nQBlocks, nKvBlocks]`.
   * The inverse of {@link BlockMask.toDense}.
   * @throws ERR_SK_SHAPE when dims do not match the lengths and block size or bits.length
   *   is not their product; ERR_SK_INVALID_ARGUMENT for values other than 0 / 1.
   * @example
   * ```ts
   * const m = sk.BlockMask.fromDense(new Uint8Array([1, 0, 1, 1]), [2, 2], { qLen: 256, kvLen: 256, blockSize: 128 })
   * ```
   */
  static fromDense(bits: Uint8Array, dims: readonly number[], opts: MaskSizes): BlockMask {
    const o = checkOptions('options', opts, ['qLen', 'kvLen', 'blockSize'])
    const qLen = checkLen('qLen', o.qLen),
      kvLen = checkLen('kvLen', o.kvLen)
    return new BlockMask(buildFromDense(bits, dims, qLen, kvLen, parseBlockSize(o.blockSize)))
  }

  /**
   * Keeps a token where both masks keep it. Full ∧ full is full, full ∧
   * partial is partial, anything ∧ absent is absent; token rules are ANDed.
   * @throws ERR_SK_SHAPE when lengths or block sizes differ, or batch / heads are
   *   neither equal nor 1; ERR_SK_UNSUPPORTED when the combined rule exceeds 4 terms of 4 rules.
   * @example
   * ```ts
   * const m = docs.and(sk.BlockMask.slidingWindow({ qLen: n, kvLen: n, window: 4096, blockSize: 128 }))
   * ```
   */
  and(other: BlockMask): BlockMask {
    if (!(other instanceof BlockMask)) throw invalidArgument('mask.and', 'a BlockMask', other)
    return new BlockMask(combine(this.#p, other.#p, 'and'))
  }

  /**
   * Keeps a token where either mask keeps it. Full ∨ anything is full,
   * partial ∨ partial / absent is partial; token rules are ORed.
   * @throws as {@link BlockMask.and}.
   * @example
   * ```ts
   * const m = sk.BlockMask.fromDense(bits, dims, sizes).or(sk.BlockMask.streaming({ ...sizes, sink: 4, local: 512 }))
   * ```
   */
  or(other: BlockMask): BlockMask {
    if (!(other instanceof BlockMask)) throw invalidArgument('mask.or', 'a BlockMask', other)
    return new BlockMask(combine(this.#p, other.#p, 'or'))
  }

  /**
   * Fraction of the batch × heads × nQBlocks × nKvBlocks blocks computed (full + partial).
   * @example
   * ```ts
   * sk.BlockMask.causal({ qLen: 1024, kvLen: 1024, blockSize: 128 }).density // 36 / 64 = 0.5625
   * ```
   */
  get density(): number {
    const p = this.#p
    return (sum(p.fullNum) + sum(p.partialNum)) / p.fullIdx.length
  }

  /**
   * Per (batch, head, query block) the number of key blocks computed, full and
   * partial: Int32Array, row-major [batch, heads, nQBlocks].
   * @example
   * ```ts
   * sk.BlockMask.causal({ qLen: 512, kvLen: 512, blockSize: 128 }).kvNumBlocks // Int32Array [1, 2, 3, 4]
   * ```
   */
  get kvNumBlocks(): Int32Array {
    const p = this.#p
    return p.fullNum.map((n, r) => n + p.partialNum[r]!)
  }

  /**
   * Per row the key blocks computed, full and partial, increasing, then −1
   * padding: Int32Array, row-major [batch, heads, nQBlocks, nKvBlocks].
   * @example
   * ```ts
   * const m = sk.BlockMask.causal({ qLen: 256, kvLen: 256, blockSize: 128 })
   * m.kvIndices // Int32Array [0, -1, 0, 1]
   * ```
   */
  get kvIndices(): Int32Array {
    const p = this.#p,
      nK = p.nKvBlocks
    const out = allocating('kvIndices', () => new Int32Array(p.fullIdx.length)).fill(-1)
    for (let row = 0; row < p.fullNum.length; row++) {
      const base = row * nK,
        nf = p.fullNum[row]!,
        np = p.partialNum[row]!
      for (let f = 0, q = 0, o = base; f < nf || q < np;) {
        const a = f < nf ? p.fullIdx[base + f]! : nK,
          b = q < np ? p.partialIdx[base + q]! : nK
        if (a < b) ((out[o++] = a), f++)
        else ((out[o++] = b), q++)
      }
    }
    return out
  }

  /**
   * Full blocks per row (no token rule needed), [batch, heads, nQBlocks]; a copy.
   * @example
   * ```ts
   * sk.BlockMask.causal({ qLen: 512, kvLen: 512, blockSize: 128 }).fullKvNumBlocks // [0, 1, 2, 3]
   * ```
   */
  get fullKvNumBlocks(): Int32Array {
    return this.#p.fullNum.slice()
  }
  /**
   * Full key blocks per row, increasing, −1 padded, [batch, heads, nQBlocks, nKvBlocks]; a copy.
   * @example
   * ```ts
   * mask.fullKvIndices.subarray(0, mask.nKvBlocks) // the first row
   * ```
   */
  get fullKvIndices(): Int32Array {
    return padded(this.#p.fullNum, this.#p.fullIdx, this.nKvBlocks)
  }
  /**
   * Partial blocks per row (the token rule applies), [batch, heads, nQBlocks]; a copy.
   * @example
   * ```ts
   * sk.BlockMask.causal({ qLen: 512, kvLen: 512, blockSize: 128 }).partialKvNumBlocks // [1, 1, 1, 1]
   * ```
   */
  get partialKvNumBlocks(): Int32Array {
    return this.#p.partialNum.slice()
  }
  /**
   * Partial key blocks per row, increasing, −1 padded, [batch, heads, nQBlocks, nKvBlocks]; a copy.
   * @example
   * ```ts
   * mask.partialKvIndices.subarray(0, mask.nKvBlocks) // the first row
   * ```
   */
  get partialKvIndices(): Int32Array {
    return padded(this.#p.partialNum, this.#p.partialIdx, this.nKvBlocks)
  }

  /**
   * The token rule of partial blocks, in words (`causal`, `window(64)`,
   * `causal and documents or streaming(4, 256)`, `none`).
   * @example
   * ```ts
   * sk.BlockMask.streaming({ qLen: 64, kvLen: 64, sink: 4, local: 16, blockSize: 16 }).rule // 'streaming(4, 16)'
   * ```
   */
  get rule(): string {
    return describeRules(this.#p.rules)
  }

  /**
   * 1 for every block computed (full or partial), 0 otherwise, in the form
   * {@link BlockMask.fromDense} takes; `fromDense(bits, dims, …)` gives back
   * the same blocks, all full (the token rule is not kept).
   * @example
   * ```ts
   * const { bits, dims } = mask.toDense()
   * const same = sk.BlockMask.fromDense(bits, dims, { qLen: mask.qLen, kvLen: mask.kvLen, blockSize: { q: mask.qBlock, kv: mask.kvBlock } })
   * ```
   */
  toDense(): DenseBlocks {
    const p = this.#p,
      nK = p.nKvBlocks,
      bits = allocating('the dense bits', () => new Uint8Array(p.fullIdx.length))
    for (let row = 0; row < p.fullNum.length; row++) {
      const base = row * nK
      for (let f = 0; f < p.fullNum[row]!; f++) bits[base + p.fullIdx[base + f]!] = 1
      for (let q = 0; q < p.partialNum[row]!; q++) bits[base + p.partialIdx[base + q]!] = 1
    }
    return { bits, dims: [p.batch, p.heads, p.nQBlocks, nK] }
  }

  /**
   * The mask as the kernels read it (`sk_block_mask`); the arrays are the
   * mask's own, not copies: read them, never write.
   * @internal
   * @example
   * ```ts
   * binding.attention(q, k, v, out, null, args, mask._native())
   * ```
   */
  _native(): NativeMask {
    const p = this.#p
    return {
      batch: p.batch,
      heads: p.heads,
      qBlock: p.qBlock,
      kvBlock: p.kvBlock,
      nQBlocks: p.nQBlocks,
      nKvBlocks: p.nKvBlocks,
      fullNum: p.fullNum,
      fullIdx: p.fullIdx,
      partialNum: p.partialNum,
      partialIdx: p.partialIdx,
      rules: toNativeRules(p.rules),
    }
  }

  /**
   * Checks that the mask fits an attention call: qLen = seqQ, kvLen = seqKv,
   * batch 1 or the op's batch, heads 1 or the op's query heads.
   * @internal
   * @throws ERR_SK_SHAPE naming what differs.
   * @example
   * ```ts
   * mask.checkFor(q.dims[2], k.dims[2], q.dims[0], q.dims[1])
   * ```
   */
  checkFor(seqQ: number, seqKv: number, batch: number, headsQ: number): void {
    const fits = (mine: number, theirs: number) => mine === 1 || mine === theirs
    if (this.qLen !== seqQ || this.kvLen !== seqKv)
      throw new SparsekitError(
        'ERR_SK_SHAPE',
        `Expected a mask built for qLen ${seqQ} and kvLen ${seqKv} (the sequence lengths of q and k) for mask ` +
          `but received a mask built for qLen ${this.qLen} and kvLen ${this.kvLen}`,
      )
    if (!fits(this.batch, batch)) throw shapeError('mask.batch', `1 or the batch of q (${batch})`, this.batch)
    if (!fits(this.heads, headsQ)) throw shapeError('mask.heads', `1 or the query heads of q (${headsQ})`, this.heads)
  }
}

/** A copy of idx with −1 after each row's `num` entries. */
function padded(num: Int32Array, idx: Int32Array, nK: number): Int32Array {
  const out = allocating('the padded indices', () => idx.slice())
  for (let row = 0; row < num.length; row++) out.fill(-1, row * nK + num[row]!, (row + 1) * nK)
  return out
}

function sum(a: Int32Array): number {
  let s = 0
  for (let i = 0; i < a.length; i++) s += a[i]!
  return s
}
