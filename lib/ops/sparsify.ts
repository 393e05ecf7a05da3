/**
 * `sparsify`: a dense weight → a SparseWeight in one of the sparse formats.
 * One entry per format in {@link kSparsifiers}.
 * @module
 */
import { dtypeError, invalidArgument, SparsekitError, shapeError } from '../errors.js'
import { kSp24Types, sparsifySp24Cpu } from '../sparse/sp24.js'
import { type CsrOptions, sparsifyCsr } from '../sparse/csr.js'
import { sparsifySp24Cuda } from '../sparse/sp24-cuda.js'
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
  /** `'csr'` only: prune by magnitude first, to this share of zeros, in [0, 1) (see {@link CsrOptions}). Default 0. */
  sparsity?: number
  /** `'csr'` only: output channels per block, 1, 2, 4 or `'auto'` (default: by measured fill). */
  blocks?: CsrOptions['blocks']
}

/** A dense weight (checked: a live tensor) and the options → its SparseWeight. */
type Sparsifier = (w: Tensor, options: SparsifyOptions) => Promise<SparseWeight>

/** 2:4 on the CPU, or on CUDA through the CUDA module. */
function sparsifySp24(w: Tensor, options: SparsifyOptions): Promise<SparseWeight> {
  for (const key of ['sparsity', 'blocks'] as const)
    if (options[key] !== undefined)
      throw invalidArgument(`options.${key}`, "nothing: it applies to format 'csr' only", options[key])
  if (w.dims.length !== 2) throw shapeError('w.dims', '2 dims [N, K]', w.dims)
  if (!kSp24Types.includes(w.type)) throw dtypeError('w.type', kSp24Types.join(', '), w.type)
  if (w.dims[1] % 4 !== 0) throw shapeError('w.dims', 'K (the last dim) a multiple of 4 for 2:4', w.dims)
  return liveStorage(w, 'w').kind === 'cpu' ? sparsifySp24Cpu(w) : sparsifySp24Cuda(w)
}

/** Format name → builder. */
const kSparsifiers: Partial<Record<SparseFormat, Sparsifier>> = {
  '2:4': sparsifySp24,
  csr: sparsifyCsr,
}

/** '2:4' itself, or an n:m that every 2:4 kernel takes (n ≤ 2, m a multiple of 4), as '2:4'. */
function canonicalFormat(format: unknown): SparseFormat {
  if (typeof format !== 'string') throw invalidArgument('options.format', "a format name such as '2:4'", format)
  const nm = /^(\d+):(\d+)$/.exec(format)
  if (nm) {
    const n = Number(nm[1])
    const m = Number(nm[2])
    if (n >= 1 && n <= 2 && m >= 4 && m % 4 === 0) return '2:4'
    throw new SparsekitError(
      'ERR_SK_UNSUPPORTED',
      `Expected an n:m format with n ≤ 2 and m a multiple of 4 (stored as 2:4) for options.format but received '${format}'`,
    )
  }
  return format as SparseFormat
}

/**
 * Builds a {@link SparseWeight} from a dense weight [N, K] (out = x·wᵀ), for
 * {@link linear}. `'2:4'` checks that every group of 4 along K has at most 2
 * non-zeros (an error names the first offending row and group; run
 * {@link prune} first) and stores the kept values and their 2-bit positions
 * (docs/formats.md); on a CUDA device (float16 / bfloat16) the weight is
 * compressed on the host and uploaded in the `mma.sp` layout. `'csr'` takes
 * any pattern of a float32 CPU weight (optionally pruned by magnitude to
 * `sparsity` first) and packs it for the XNNPACK-style SpMM kernels in 1-, 2-
 * or 4-channel blocks. `toDense()` gives w back exactly.
 *
 * @param w - weight [N, K]: float32, float16 or bfloat16 for 2:4 (K a multiple of 4); float32 on the CPU for csr.
 * @param options - `format`: `'2:4'` (also `'1:4'`, `'2:8'`, `'1:8'`, … : n ≤ 2, m a multiple of 4, stored as 2:4) or `'csr'`;
 *   `sparsity` and `blocks` for csr only.
 * @returns the SparseWeight, on w's device, values in w's dtype.
 * @throws ERR_SK_INVALID_ARGUMENT for a non-tensor, a missing format, a group with more than 2 non-zeros, a bad or NaN sparsity;
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
  if (options === undefined) throw invalidArgument('options', 'an options object { format }', options)
  const opts = checkOptions('options', options, ['format', 'sparsity', 'blocks'] as const)
  const format = canonicalFormat(opts.format)
  const build = Object.hasOwn(kSparsifiers, format) ? kSparsifiers[format] : undefined // never Object.prototype's members ('__proto__', 'constructor')
  if (!build)
    throw new SparsekitError(
      'ERR_SK_UNSUPPORTED',
      `Expected one of the formats ${Object.keys(kSparsifiers).join(', ')} for options.format but received '${format}'`,
    )
  return build(w, { ...(opts as SparsifyOptions), format })
}
