/**
 * `linear`: out = x·wᵀ + bias with w dense or sparse (any SparseWeight
 * format), float32 accumulation. Arguments are checked here, in full, before
 * the kernel is queued. Sparse formats plug in through {@link kSparseLinear}:
 * one entry per format.
 * @module
 */
import { type Device, sameDevice } from '../device.js'
import { type DType, dtypeId } from '../dtype.js'
import { callNative, dtypeError, invalidArgument, shapeError, SparsekitError } from '../errors.js'
import { cpuBinding } from '../native.js'
import { linearCsr } from '../sparse/csr.js'
import { linearSp24Cpu } from '../sparse/sp24.js'
import { kCudaLinearTypes, linearSp24Cuda, linearDenseCuda } from '../sparse/sp24-cuda.js'
import { SparseWeight, type SparseFormat } from '../sparse/weight.js'
import { empty, filling, isTensor, liveStorage, type Storage, Tensor } from '../tensor.js'
import { deviceOf } from './backend.js'

/** Weight dtypes the linear kernels read (converted to float32 as they load). */
const kWeightTypes: readonly DType[] = ['float32', 'float16', 'bfloat16']

/**
 * A sparse format's linear: x on w's device, with w checked against it (K),
 * bias [N] or null, out [M, N] to fill. On the CPU x2d is a float32 [M, K]
 * view of x and out float32; on CUDA x2d is x itself (dims [..., K], float16
 * or bfloat16; M = x2d.size / K) and out has x's dtype, since a second handle
 * on a device buffer could free it.
 * @internal
 */
export type SparseLinear = (x2d: Tensor, w: SparseWeight, bias: Tensor | null, out: Tensor) => Promise<void>

/**
 * Format → its linear per device kind; one line per format. A format without
 * a `cuda` entry is ERR_SK_UNSUPPORTED on CUDA.
 */
const kSparseLinear: Partial<Record<SparseFormat, { cpu: SparseLinear; cuda?: SparseLinear }>> = {
  '2:4': { cpu: linearSp24Cpu, cuda: linearSp24Cuda },
  csr: { cpu: linearCsr },
}

const deviceOfName = (name: string): Device =>
  name === 'cpu' ? { kind: 'cpu' } : { kind: 'cuda', index: Number(name.slice(5)) }

interface Plan {
  device: Device
  m: number
  n: number
  k: number
  outDims: number[]
  /** float32 on the CPU; x's dtype (float16 / bfloat16) on CUDA. */
  outType: DType
}

function plan(x: unknown, w: unknown, bias: unknown): Plan {
  const xs = liveStorage(x, 'x')
  const xt = x as Tensor
  const device = deviceOf(xs)
  if (xt.dims.length < 1) throw shapeError('x.dims', 'at least 1 dim [..., K]', xt.dims)
  const cuda = device.kind === 'cuda'
  if (!cuda && xt.type !== 'float32')
    throw new SparsekitError(
      'ERR_SK_DTYPE',
      `Expected float32 for x.type but received ${xt.type}; cast first: await x.cast('float32')`,
    )
  if (cuda && !kCudaLinearTypes.includes(xt.type))
    throw new SparsekitError(
      xt.type === 'float32' ? 'ERR_SK_UNSUPPORTED' : 'ERR_SK_DTYPE', // as attention: float32 is a dtype, CUDA lacks the kernel
      `Expected ${kCudaLinearTypes.join(' or ')} for x.type on ${xt.device} but received ${xt.type}; cast first: await x.cast('bfloat16')`,
    )
  let n: number, k: number
  if (w instanceof SparseWeight) {
    if (!w.alive)
      throw new SparsekitError('ERR_SK_DISPOSED', 'Expected a live SparseWeight for w but received a disposed one')
    ;[n, k] = w.dims
    sameDevice(device, deviceOfName(w.device), 'w')
    const entry = kSparseLinear[w.format]
    if (!entry) throw new SparsekitError('ERR_SK_UNSUPPORTED', `No linear for SparseWeight format '${w.format}'`)
    if (cuda && !entry.cuda)
      throw new SparsekitError(
        'ERR_SK_UNSUPPORTED',
        `No CUDA linear for SparseWeight format '${w.format}'; use it on the CPU`,
      )
    if (cuda && w.type !== xt.type)
      throw dtypeError('w.type', `${xt.type} (x's type; on CUDA x and w share one)`, w.type)
  } else if (isTensor(w)) {
    const ws = liveStorage(w, 'w')
    sameDevice(device, deviceOf(ws), 'w')
    if (w.dims.length !== 2) throw shapeError('w.dims', '2 dims [N, K]', w.dims)
    if (!kWeightTypes.includes(w.type)) throw dtypeError('w.type', kWeightTypes.join(', '), w.type)
    if (cuda && w.type !== xt.type)
      throw dtypeError('w.type', `${xt.type} (x's type; on CUDA x and w share one)`, w.type)
    ;[n, k] = w.dims
  } else {
    throw invalidArgument('w', 'a Tensor [N, K] or a SparseWeight', w)
  }
  const xk = xt.dims[xt.dims.length - 1]
  if (xk !== k) throw shapeError('x.dims', `a last dim of ${k} (w's K)`, xt.dims)
  if (bias !== undefined && bias !== null) {
    const bs = liveStorage(bias, 'bias')
    const bt = bias as Tensor
    sameDevice(device, deviceOf(bs), 'bias')
    if (bt.type !== 'float32' && !(cuda && bt.type === xt.type))
      throw dtypeError('bias.type', cuda ? `float32 or ${xt.type}` : 'float32', bt.type)
    if (bt.dims.length !== 1 || bt.dims[0] !== n) throw shapeError('bias.dims', `[${n}] (w's N)`, bt.dims)
  }
  const m = k === 0 ? xt.dims.slice(0, -1).reduce((a, b) => a * b, 1) : xt.size / k
  return { device, m, n, k, outDims: [...xt.dims.slice(0, -1), n], outType: cuda ? xt.type : 'float32' }
}

/**
 * A linear layer: `out[..., j] = Σ_k x[..., k] · w[j, k] + bias[j]`, in
 * float32 whatever the weight dtype (float16 / bfloat16 weights are widened
 * as they load). `w` is a dense Tensor [N, K] or a {@link SparseWeight} from
 * {@link sparsify} (e.g. 2:4, which runs only the kept half of the products).
 * On the CPU one row of x (decode) streams the weights once; more rows run
 * register-tiled kernels for the ISA the addon chose (`sk.devices()[0].kernels`).
 *
 * On a CUDA device x, w and out share one dtype, float16 or bfloat16 (`mma.sp`
 * for 2:4 weights, or cuSPARSELt when it is installed; `mma.sync` for dense
 * ones), still accumulated in float32. CSR weights run on the CPU only.
 *
 * @param x - [..., K] (any leading dims, flattened to M rows): float32 on the CPU, float16 / bfloat16 on CUDA; other dtypes: cast first.
 * @param w - Tensor [N, K] (float32, float16, bfloat16) or a SparseWeight [N, K]; x's device.
 * @param bias - optional [N] on x's device: float32 (on CUDA also x's dtype).
 * @returns [..., N] on x's device: float32 on the CPU, x's dtype on CUDA.
 * @throws ERR_SK_INVALID_ARGUMENT for a non-tensor x or bias, or a w that is neither a Tensor nor a SparseWeight, or a corrupted
 *   SparseWeight (invalid metadata, reported when the Promise settles); ERR_SK_SHAPE for w not 2-D, x's last dim ≠ K, bias not [N];
 *   ERR_SK_DTYPE for x not float32 (CPU) or float16 / bfloat16 (CUDA), a bias or w dtype the device does not take;
 *   ERR_SK_UNSUPPORTED for float32 x on CUDA (cast first); ERR_SK_DEVICE for operands on different devices;
 *   ERR_SK_UNSUPPORTED on CUDA where a format has no kernel; ERR_SK_DISPOSED for a disposed operand.
 * @example
 * ```ts
 * using w = sk.randn([11008, 4096], { seed: 1 })
 * using sw = await sk.sparsify(await sk.prune(w, { n: 2, m: 4 }), { format: '2:4' })
 * using x = sk.randn([1, 4096], { seed: 2 })
 * using y = await sk.linear(x, sw) // [1, 11008]
 * ```
 */
export function linear(x: Tensor, w: Tensor | SparseWeight, bias?: Tensor | null): Promise<Tensor> {
  const p = plan(x, w, bias)
  const b = bias ?? null
  const out = empty(p.outType, p.outDims, p.m * p.n, p.device)
  if (p.m === 0 || p.n === 0) return Promise.resolve(out)
  return filling(out, () => run(p, x, w, b, out))
}

function run(p: Plan, x: Tensor, w: Tensor | SparseWeight, bias: Tensor | null, out: Tensor): Promise<void> {
  if (w instanceof SparseWeight) {
    const entry = kSparseLinear[w.format]!
    if (p.device.kind === 'cuda') return entry.cuda!(x, w, bias, out) // plan() checked the entry
    const xs = liveStorage(x, 'x')
    if (xs.kind !== 'cpu') throw new Error('linear: x left the CPU after validation') // unreachable: plan() checked
    // A view of x's data as [M, K], without x's block: disposing the view never frees x.
    const x2d = new Tensor('float32', [p.m, p.k], p.m * p.k, { kind: 'cpu', data: xs.data })
    try {
      return entry.cpu(x2d, w, bias, out).finally(() => x2d.dispose())
    } catch (err) {
      x2d.dispose()
      throw err
    }
  }
  if (p.device.kind === 'cuda') return linearDenseCuda(x, w, bias, out)
  const xs = liveStorage(x, 'x')
  const ws = liveStorage(w, 'w')
  const bs = bias ? liveStorage(bias, 'bias') : null
  const os = liveStorage(out, 'out')
  if (xs.kind !== 'cpu' || ws.kind !== 'cpu' || os.kind !== 'cpu' || bs?.kind === 'cuda')
    throw new Error('linear: operands on different devices after validation') // unreachable: plan() checked
  return callNative(() =>
    cpuBinding().linear(
      xs.data as Float32Array,
      ws.data,
      null,
      bs ? (bs.data as Float32Array) : null,
      os.data as Float32Array,
      {
        wType: dtypeId(w.type),
        format: 0,
        m: p.m,
        n: p.n,
        k: p.k,
      },
    ),
  )
}
