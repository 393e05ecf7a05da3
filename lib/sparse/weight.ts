/**
 * `SparseWeight`: a weight matrix [N, K] (out = x·wᵀ) stored in a sparse
 * format, as `sparsify()` builds it. Each format module (`lib/sparse/*.ts`)
 * owns its native arrays and the code that reads them; this class is the
 * common face that `linear()`, `conv1x1()` and users see.
 * @module
 */
import { type DType, dtypeBytes } from '../dtype.js'
import { SparsekitError } from '../errors.js'
import { type Tensor } from '../tensor.js'

/** Formats `sparsify()` builds: `'2:4'` (N:M structured, 2 of every 4 along K) and `'csr'` (any pattern). */
export type SparseFormat = '2:4' | 'csr'

/**
 * What a format module hands to the SparseWeight it creates.
 * @internal
 */
export interface SparseWeightParts {
  format: SparseFormat
  /** Value dtype. */
  type: DType
  /** Dense dims [N, K]: N output features, K input features. */
  dims: readonly [number, number]
  /** 'cpu' or 'cuda:<i>'. */
  device: string
  /** Non-zero values stored (2:4: the kept slots, N·K/2, zeros included). */
  nnz: number
  /** The native arrays, by name (the format module's layout; see docs/formats.md). */
  tensors: Record<string, Tensor>
  /** Rebuilds the dense [N, K] tensor, exactly. */
  toDense: () => Promise<Tensor>
  /** Anything besides `tensors` to free (plans, cached library handles). */
  disposeExtra?: () => void
}

/**
 * A sparse weight matrix [N, K] for {@link linear} (out = x·wᵀ + b) and
 * {@link conv1x1}. Build one with {@link sparsify}; free it with `dispose()`
 * or a `using` declaration.
 *
 * @example
 * ```ts
 * using w = sk.randn([4096, 4096], { seed: 1 })
 * using pruned = await sk.prune(w, { n: 2, m: 4 })
 * using sw = await sk.sparsify(pruned, { format: '2:4' })
 * console.log(sw.format, sw.dims, sw.density) // '2:4' [4096, 4096] 0.5
 * ```
 */
export class SparseWeight {
  /** Storage format. */
  readonly format: SparseFormat
  /** Value dtype. */
  readonly type: DType
  /** Dense dims [N, K]. */
  readonly dims: readonly [number, number]
  /** Where the values live: `'cpu'` or `'cuda:<i>'`. */
  readonly device: string
  /** Stored values (2:4 counts the kept slots, N·K/2). */
  readonly nnz: number
  #parts: SparseWeightParts | null

  /** A brand check: only a weight sparsify() made is a SparseWeight (not `Object.create(SparseWeight.prototype)`). */
  static [Symbol.hasInstance](v: unknown): v is SparseWeight {
    return typeof v === 'object' && v !== null && #parts in v
  }

  /** @internal Use {@link sparsify}. */
  constructor(parts: SparseWeightParts) {
    this.format = parts.format
    this.type = parts.type
    this.dims = Object.freeze([parts.dims[0], parts.dims[1]]) as unknown as readonly [number, number]
    this.device = parts.device
    this.nnz = parts.nnz
    this.#parts = parts
  }

  /** Stored values over N·K (0 for an empty matrix). */
  get density(): number {
    const total = this.dims[0] * this.dims[1]
    return total === 0 ? 0 : this.nnz / total
  }

  /** Bytes of every native array (values, indices, metadata). */
  get bytes(): number {
    let n = 0
    for (const t of Object.values(this.#live().tensors)) n += t.size * dtypeBytes(t.type)
    return n
  }

  /** False once disposed. */
  get alive(): boolean {
    return this.#parts !== null
  }

  /**
   * The dense [N, K] matrix, with the zeros written out; exact.
   * @throws ERR_SK_DISPOSED after dispose().
   */
  toDense(): Promise<Tensor> {
    return this.#live().toDense()
  }

  /** Frees the native arrays at once; later uses throw ERR_SK_DISPOSED. Idempotent. */
  dispose(): void {
    const p = this.#parts
    if (!p) return
    this.#parts = null
    for (const t of Object.values(p.tensors)) t.dispose()
    p.disposeExtra?.()
  }

  /** Same as {@link SparseWeight.dispose}, for `using` declarations. */
  [Symbol.dispose](): void {
    this.dispose()
  }

  /** @internal The format module's parts (its native arrays). */
  _parts(): SparseWeightParts {
    return this.#live()
  }

  #live(): SparseWeightParts {
    if (!this.#parts)
      throw new SparsekitError('ERR_SK_DISPOSED', `Expected a live SparseWeight but received a disposed one`)
    return this.#parts
  }
}
