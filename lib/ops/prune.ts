/**
 * `prune`: N:M magnitude pruning along K, the step before `sparsify`.
 * @module
 */
import { dtypeId } from '../dtype.js'
import { callNative, dtypeError, invalidArgument, shapeError } from '../errors.js'
import { cpuBinding } from '../native.js'
import { kSp24Types } from '../sparse/sp24.js'
import { filling, hostTensor, liveStorage, type Tensor } from '../tensor.js'
import { checkInt, checkOptions } from '../validate.js'

/** Options of {@link prune}. */
export interface PruneOptions {
  /** Values kept per group, 1 ≤ n ≤ m. */
  n: number
  /** Group size along K, 1 ≤ m ≤ 64; K must be a multiple. */
  m: number
}

/**
 * Keeps the `n` largest magnitudes of every group of `m` consecutive elements
 * along K (the last dim) of a weight [N, K] and zeroes the rest; ties go to
 * the lower index. NaN counts as larger than any number. The result feeds
 * {@link sparsify}: `n ≤ 2` with `m` a multiple of 4 is a valid 2:4 pattern.
 *
 * A weight on a CUDA device is pruned by the CPU kernel: copied to the host,
 * pruned, and the result copied back to w's device (pruning runs once per
 * weight, so this costs two copies, not a kernel's speed).
 *
 * @param w - weight [N, K]: float32, float16 or bfloat16.
 * @param options - `n` (1..m) and `m` (1..64, dividing K), e.g. `{ n: 2, m: 4 }`.
 * @returns a new dense tensor, w's dims and dtype, with the zeros written.
 * @throws ERR_SK_INVALID_ARGUMENT for a non-tensor or bad n / m; ERR_SK_SHAPE for w not 2-D or K not a multiple of m;
 *   ERR_SK_DTYPE for other dtypes; ERR_SK_DISPOSED for a disposed w.
 * @example
 * ```ts
 * using w = sk.randn([4096, 4096], { seed: 1 })
 * using pruned = await sk.prune(w, { n: 2, m: 4 })
 * ```
 */
export function prune(w: Tensor, options: PruneOptions): Promise<Tensor> {
  const s = liveStorage(w, 'w')
  const opts = checkOptions('options', options, ['n', 'm'] as const)
  if (options === undefined) throw invalidArgument('options', 'an options object { n, m }', options)
  const m = checkInt('options.m', opts.m, 1, 64)
  const n = checkInt('options.n', opts.n, 1, m)
  if (w.dims.length !== 2) throw shapeError('w.dims', '2 dims [N, K]', w.dims)
  if (!kSp24Types.includes(w.type)) throw dtypeError('w.type', kSp24Types.join(', '), w.type)
  const [rows, k] = w.dims
  if (k % m !== 0) throw shapeError('w.dims', `K (the last dim) a multiple of m = ${m}`, w.dims)
  if (s.kind !== 'cpu') return pruneOnHost(w, { n, m })
  const out = hostTensor(w.type, w.dims, w.size, false)
  if (w.size === 0) return Promise.resolve(out)
  return filling(out, () =>
    callNative(() => cpuBinding().sp24(0, { dtype: dtypeId(w.type), rows, k, n, m }, s.data, out.data)),
  )
}

/** prune() of a CUDA weight through the CPU kernel (the checks already ran). */
async function pruneOnHost(w: Tensor, options: PruneOptions): Promise<Tensor> {
  const host = await w.to('cpu')
  try {
    const pruned = await prune(host, options)
    try {
      return await pruned.to(w.device)
    } finally {
      pruned.dispose()
    }
  } finally {
    host.dispose()
  }
}
