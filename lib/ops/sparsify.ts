/**
 * `sparsify`: a dense weight → a SparseWeight in one of the sparse formats.
 * One entry per format in {@link kSparsifiers}; the lead adds 'csr' there.
 * @module
 */
import { dtypeError, invalidArgument, SparsekitError, shapeError } from '../errors.js'
import { kSparse24Types, sparsify24Cpu } from '../sparse/nm24.js'
import { sparsify24Cuda } from '../sparse/pending-cuda.js'
import type { SparseFormat, SparseWeight } from '../sparse/weight.js'
import { liveStorage, type Tensor } from '../tensor.js'
import { checkOptions } from '../validate.js'

/** Options of {@link sparsify}. */
export interface SparsifyOptions {
  /**
   * `'2:4'`, or any `'n:m'` with n ≤ 2 and m a multiple of 4 (each is also a
   * 2:4 pattern, stored as 2:4).
   */
  format: SparseFormat | `${number}:${number}`
}

/** A dense weight (checked: a live tensor) → its SparseWeight. */
type Sparsifier = (w: Tensor) => Promise<SparseWeight>

/** 2:4 on the CPU, or on CUDA through the CUDA module. */
function sparsify24(w: Tensor): Promise<SparseWeight> {
  if (w.dims.length !== 2) throw shapeError('w.dims', '2 dims [N, K]', w.dims)
  if (!kSparse24Types.includes(w.type)) throw dtypeError('w.type', kSparse24Types.join(', '), w.type)
  if (w.dims[1] % 4 !== 0) throw shapeError('w.dims', 'K (the last dim) a multiple of 4 for 2:4', w.dims)
  return liveStorage(w, 'w').kind === 'cpu' ? sparsify24Cpu(w) : sparsify24Cuda(w)
}

/** Format name → builder. */
const kSparsifiers: Partial<Record<SparseFormat, Sparsifier>> = {
  '2:4': sparsify24,
}

/** '2:4' itself, or an n:m that every 2:4 kernel takes (n ≤ 2, m a multiple of 4), as '2:4'. */
function canonicalFormat(format: unknown): SparseFormat {
  if (typeof format !== 'string') throw invalidArgument('options.format', "a format name such as '2:4'", format)
  const nm = /^(\d+):(\d+)$/.exec(format)
  if (nm) {
    const n = Number(nm[1])
    const m = Number(nm[2])
    if (n >= 1 && n <= 2 && m >= 4 && m % 4 === 0) return '2:4'
    throw new SparsekitError('ERR_SK_UNSUPPORTED', `Expected an n:m format with n ≤ 2 and m a multiple of 4 (stored as 2:4) for options.format but received '${format}'`)
  }
  return format as SparseFormat
}

/**
 * Builds a {@link SparseWeight} from a dense weight [N, K] (out = x·wᵀ), for
 * {@link linear}. `'2:4'` checks that every group of 4 along K has at most 2
 * non-zeros (an error names the first offending row and group; run
 * {@link prune} first) and stores the kept values and their 2-bit positions
 * (docs/formats.md); `toDense()` gives w back exactly.
 *
 * @param w - weight [N, K]: float32, float16 or bfloat16. 2:4 needs K a multiple of 4.
 * @param options - `format`: `'2:4'` (also `'1:4'`, `'2:8'`, `'1:8'`, … : n ≤ 2, m a multiple of 4, stored as 2:4).
 * @returns the SparseWeight, on w's device, values in w's dtype.
 * @throws ERR_SK_INVALID_ARGUMENT for a non-tensor, a missing format or a group with more than 2 non-zeros;
 *   ERR_SK_SHAPE for w not 2-D or K not a multiple of 4; ERR_SK_DTYPE for other dtypes;
 *   ERR_SK_UNSUPPORTED for an unknown format or one not built for w's device; ERR_SK_DISPOSED for a disposed w.
 * @example
 * ```ts
 * using w = await sk.prune(sk.randn([4096, 4096], { seed: 1 }), { n: 2, m: 4 })
 * using sw = await sk.sparsify(w, { format: '2:4' })
 * using y = await sk.linear(x, sw)
 * ```
 */
export function sparsify(w: Tensor, options: SparsifyOptions): Promise<SparseWeight> {
  liveStorage(w, 'w')
  if (options === undefined) throw invalidArgument('options', "an options object { format }", options)
  const opts = checkOptions('options', options, ['format'] as const)
  const format = canonicalFormat(opts.format)
  const build = kSparsifiers[format]
  if (!build) throw new SparsekitError('ERR_SK_UNSUPPORTED', `Expected one of the formats ${Object.keys(kSparsifiers).join(', ')} for options.format but received '${format}'`)
  return build(w)
}
