/**
 * 2:4 sparse weights on CUDA: the upload of a CPU-layout 2:4 weight into the
 * CUDA layout (docs/formats.md, "2:4 sparse weights on CUDA"), its optional
 * cuSPARSELt compression, and the linear kernels (`mma.sp` for 2:4 weights,
 * `mma.sync` for dense ones) that `linear()` calls on a CUDA device.
 * @internal
 * @module
 */
import { type Device, deviceName, parseDevice } from '../device.js'
import { type DType, dtypeId } from '../dtype.js'
import {
  allocating,
  callNative,
  callNativeSync,
  deviceError,
  dtypeError,
  invalidArgument,
  shapeError,
  SparsekitError,
} from '../errors.js'
import { cudaBinding, type CudaBinding, type DeviceBuffer, type CudaLinearArgs } from '../native.js'
import { empty, liveStorage, type Tensor } from '../tensor.js'
import { is } from '../validate.js'
import { sp24MetaBytes, sp24ValueCount, sparsifySp24Cpu } from './sp24.js'
import { SparseWeight, type SparseWeightParts } from './weight.js'

/** Dtypes the CUDA linear kernels take (x, w and out share one). */
export const kCudaLinearTypes: readonly DType[] = ['float16', 'bfloat16']

/** Options of {@link sparsifySp24CudaFromCpuLayout}. */
export interface SparsifySp24CudaOptions {
  /**
   * `'auto'` (default): also compress the weight with cuSPARSELt when it is
   * loaded and N, K are multiples of 16, so `linear` can use it;
   * `'sparsekit'`: our `mma.sp` kernel only.
   */
  backend?: 'auto' | 'sparsekit'
}

// The cuSPARSELt copy of a weight, freed with it.
const compressedOf = new WeakMap<SparseWeightParts, DeviceBuffer>()
let lastCompressFailure = ''

function cuda(): CudaBinding {
  const b = cudaBinding()
  if (!b) throw deviceError('device', 'an available CUDA device', 'cuda')
  return b
}

function cudaDevice(name: string, value: unknown): Extract<Device, { kind: 'cuda' }> {
  const d = parseDevice(name, value)
  if (d.kind !== 'cuda') throw deviceError(name, "a CUDA device ('cuda' or 'cuda:N')", value)
  return d
}

function checkHalfType(name: string, t: unknown): DType {
  if (t === 'float32')
    throw new SparsekitError(
      'ERR_SK_UNSUPPORTED',
      `CUDA linear takes float16 or bfloat16 for ${name}; cast first (received float32)`,
    )
  if (!kCudaLinearTypes.includes(t as DType)) throw dtypeError(name, 'float16 or bfloat16', t)
  return t as DType
}

async function upload(data: Uint16Array | Int32Array, type: DType, dims: number[], device: Device): Promise<Tensor> {
  const t = empty(type, dims, data.length, device)
  const s = liveStorage(t, 'upload')
  if (s.kind !== 'cuda') throw new Error('upload: expected a CUDA tensor')
  try {
    if (data.length > 0) await callNative(() => cuda().copyToDevice(data, s.buffer, data.byteLength))
  } catch (err) {
    t.dispose()
    throw err
  }
  return t
}

/**
 * Why the 2:4 linear on CUDA uses our kernel rather than cuSPARSELt ('' when
 * cuSPARSELt is in use), including the last failed compression.
 * @internal
 */
export function sparseLinearFallbackReason(): string {
  const s = cudaBinding()?.cusparseLtStatus()
  if (!s) return 'the CUDA addon is not loaded'
  if (!s.available) return s.reason
  return lastCompressFailure || s.lastFallback
}

/**
 * Uploads a 2:4 weight given in the CPU layout (docs/formats.md, "2:4
 * weights on the CPU": rows in panels of 8, P = ceil(N/8) panels, G = K/4
 * groups) to a CUDA device in the CUDA layout, checking every code on the way,
 * those of the padding rows of a partial last panel included.
 *
 * @param values - the kept values [P, G, 2, 8], float16 / bfloat16 bits:
 *   `values[p, q, s, r]` is the s-th kept value of group q of row 8p + r;
 *   P·G·16 elements (`sp24ValueCount(N, K)`), padding rows 0.
 * @param meta - [P, G, 4] bytes (`sp24MetaBytes(N, K)`): a little-endian
 *   uint32 word per (panel, group), row 8p + r's code i0 | i1 << 2 (i0 < i1)
 *   in bits 4r..4r+3; padding rows 0x4.
 * @param type - `'float16'` or `'bfloat16'`.
 * @param dims - [N, K]: K a multiple of 4, both up to 2^31 − 1.
 * @param device - `'cuda'` or `'cuda:N'`.
 * @param options - see {@link SparsifySp24CudaOptions}.
 * @returns a SparseWeight on the device (format '2:4').
 * @throws ERR_SK_DTYPE / ERR_SK_UNSUPPORTED for other types, ERR_SK_SHAPE for
 *   wrong lengths or K not a multiple of 4, ERR_SK_INVALID_ARGUMENT for an
 *   invalid code (naming its row and group), ERR_SK_DEVICE for a CPU or
 *   unavailable device.
 * @example
 * ```ts
 * const w = await sparsifySp24CudaFromCpuLayout(values, meta, 'bfloat16', [4096, 4096], 'cuda')
 * ```
 */
export async function sparsifySp24CudaFromCpuLayout(
  values: Uint16Array,
  meta: Uint8Array,
  type: DType,
  dims: readonly [number, number],
  device: string,
  options: SparsifySp24CudaOptions = {},
): Promise<SparseWeight> {
  checkHalfType('type', type)
  if (!is.uint16Array(values)) throw invalidArgument('values', 'a Uint16Array of float16 / bfloat16 bits', values)
  if (!is.uint8Array(meta)) throw invalidArgument('meta', 'a Uint8Array of 2:4 nibbles', meta)
  if (
    !Array.isArray(dims) ||
    dims.length !== 2 ||
    !dims.every((d) => Number.isInteger(d) && d >= 0 && d <= 2 ** 31 - 1)
  )
    throw shapeError('dims', '[N, K] with integers in [0, 2^31 - 1]', dims)
  const [n, k] = dims
  if (k % 4 !== 0) throw shapeError('dims[1]', 'K a multiple of 4 for a 2:4 weight', k)
  if (values.length !== sp24ValueCount(n, k))
    throw shapeError(
      'values.length',
      `${sp24ValueCount(n, k)} elements ([ceil(N/8), K/4, 2, 8] for [${n}, ${k}])`,
      values.length,
    )
  if (meta.length !== sp24MetaBytes(n, k))
    throw shapeError('meta.length', `${sp24MetaBytes(n, k)} bytes ([ceil(N/8), K/4, 4] for [${n}, ${k}])`, meta.length)
  const backend = options.backend ?? 'auto'
  if (backend !== 'auto' && backend !== 'sparsekit')
    throw invalidArgument('options.backend', "'auto' or 'sparsekit'", backend)
  const dev = cudaDevice('device', device)
  const b = cuda()
  const lt = b.cusparseLtStatus()
  const tryLt = backend === 'auto' && lt.available && n > 0 && k > 0 && n % 16 === 0 && k % 16 === 0
  const layout = callNativeSync(() => b.sp24Layout(values, meta, dtypeId(type), n, k, tryLt))

  const tensors: Record<string, Tensor> = {}
  let compressed: DeviceBuffer | null = null
  try {
    tensors.values = await upload(layout.values, type, [layout.nPad, layout.kPad / 2], dev)
    tensors.meta = await upload(
      new Int32Array(layout.meta.buffer, layout.meta.byteOffset, layout.meta.length),
      'int32',
      [layout.meta.length],
      dev,
    )
    if (tryLt && layout.dense) compressed = await compressWithCusparseLt(b, layout.dense, type, n, k, dev)
  } catch (err) {
    for (const t of Object.values(tensors)) t.dispose()
    throw err
  }
  const parts: SparseWeightParts = {
    format: '2:4',
    type,
    dims: [n, k],
    device: deviceName(dev),
    nnz: (n * k) / 2,
    tensors,
    toDense: () => denseFromCudaLayout(tensors.values, tensors.meta, type, n, k, dev),
    disposeExtra: () => compressed?.free(),
  }
  if (compressed) compressedOf.set(parts, compressed)
  return new SparseWeight(parts)
}

async function compressWithCusparseLt(
  b: CudaBinding,
  dense: Uint16Array,
  type: DType,
  n: number,
  k: number,
  dev: Extract<Device, { kind: 'cuda' }>,
): Promise<DeviceBuffer | null> {
  const d = await upload(dense, type, [n, k], dev)
  let out: DeviceBuffer | null = null
  try {
    const s = liveStorage(d, 'dense')
    if (s.kind !== 'cuda') return null
    const bytes = callNativeSync(() => b.cusparseLtCompressedBytes(dev.index, dtypeId(type), n, k))
    out = callNativeSync(() => b.alloc(dev.index, bytes))
    await callNative(() => b.cusparseLtCompress(s.buffer, out!, dtypeId(type), n, k))
    lastCompressFailure = ''
    return out
  } catch (err) {
    // Our kernel runs the weight instead; sk.devices() shows why.
    out?.free()
    lastCompressFailure = `cuSPARSELt compression failed: ${err instanceof Error ? err.message : String(err)}`
    return null
  } finally {
    d.dispose()
  }
}

/**
 * `sparsify(w, { format: '2:4' })` for a weight on a CUDA device: compressed
 * by the CPU code (the same pattern checks and messages as a CPU weight),
 * then uploaded in the CUDA layout, with a cuSPARSELt copy when it is in use.
 * @internal
 */
export function sparsifySp24Cuda(w: Tensor): Promise<SparseWeight> {
  checkHalfType('w.type', w.type)
  return compressOnHost(w)
}

async function compressOnHost(w: Tensor): Promise<SparseWeight> {
  const host = await w.to('cpu')
  try {
    const cpu = await sparsifySp24Cpu(host)
    try {
      const { values, meta } = cpu._parts().tensors
      return await sparsifySp24CudaFromCpuLayout(
        values.data as Uint16Array,
        meta.data as Uint8Array,
        w.type,
        [w.dims[0], w.dims[1]],
        w.device,
      )
    } finally {
      cpu.dispose()
    }
  } finally {
    host.dispose()
  }
}

/** The dense [n, k] tensor on `dev` from the CUDA layout (read back to the host, expanded, uploaded). */
async function denseFromCudaLayout(
  values: Tensor,
  meta: Tensor,
  type: DType,
  n: number,
  k: number,
  dev: Device,
): Promise<Tensor> {
  const v = (await values.getData()) as Uint16Array
  const words = new Uint32Array(((await meta.getData()) as Int32Array).buffer)
  const kPad = values.dims[1] * 2
  const kSteps = kPad / 32
  const dense = allocating(`${n * k} dense weights`, () => new Uint16Array(n * k))
  for (let r = 0; r < n; ++r) {
    const g = r % 8,
      halfShift = r % 16 < 8 ? 0 : 16
    for (let q = 0; q < k / 4; ++q) {
      const step = Math.floor(q / 8),
        inStep = q % 8,
        t = inStep >> 2,
        j = inStep & 3
      const word = words[(Math.floor(r / 16) * kSteps + step) * 16 + g * 2 + t]
      const nibble = (word >>> (halfShift + 4 * j)) & 0xf
      dense[r * k + 4 * q + (nibble & 3)] = v[r * (kPad / 2) + 2 * q]
      dense[r * k + 4 * q + ((nibble >> 2) & 3)] = v[r * (kPad / 2) + 2 * q + 1]
    }
  }
  return upload(dense, type, [n, k], dev)
}

function cudaBuffer(t: Tensor, name: string): { buffer: DeviceBuffer; device: string } {
  const s = liveStorage(t, name)
  if (s.kind !== 'cuda') throw deviceError(name, 'a tensor on a CUDA device', t.device)
  return { buffer: s.buffer, device: t.device }
}

function linearArgs(
  x2d: Tensor,
  n: number,
  k: number,
  wType: DType,
  bias: Tensor | null,
  out: Tensor,
  sparse: boolean,
): CudaLinearArgs {
  const type = checkHalfType('x.type', x2d.type)
  if (x2d.dims.length < 1) throw shapeError('x', 'a tensor [..., K]', x2d.dims)
  const kx = x2d.dims[x2d.dims.length - 1]
  const m = x2d.dims.slice(0, -1).reduce((a, b) => a * b, 1)
  if (wType !== type) throw dtypeError('w.type', `${type} (the type of x)`, wType)
  if (kx !== k) throw shapeError('x.dims', `a last dim K = ${k} (the weight's K)`, x2d.dims)
  if (bias) {
    if (bias.type !== type && bias.type !== 'float32') throw dtypeError('bias.type', `${type} or float32`, bias.type)
    if (bias.dims.length !== 1 || bias.dims[0] !== n)
      throw shapeError('bias', `a 1-D tensor of length N = ${n}`, bias.dims)
  }
  if (out.type !== type) throw dtypeError('out.type', type, out.type)
  if (out.size !== m * n || out.dims[out.dims.length - 1] !== n)
    throw shapeError('out', `[..., ${n}] with ${m} rows (x's)`, out.dims)
  return { dtype: dtypeId(type), m, n, k, sparse, biasType: bias ? dtypeId(bias.type) : -1 }
}

function sameCudaDevice(device: string, ...named: [string, string][]): void {
  for (const [name, d] of named)
    if (d !== device) throw deviceError(name, `a tensor on ${device} (mixed devices are an error)`, d)
}

/**
 * out = x2d · wᵀ + bias with a 2:4 weight on CUDA: cuSPARSELt when the weight
 * was compressed by it and the call suits it, else our `mma.sp` kernel.
 *
 * @param x2d - [..., K] float16 / bfloat16 on the weight's device.
 * @param w - a '2:4' SparseWeight on that device, of x's dtype.
 * @param bias - [N] of x's dtype or float32, or null.
 * @param out - [M, N] of x's dtype; written.
 * @throws ERR_SK_SHAPE, ERR_SK_DTYPE, ERR_SK_DEVICE (mixed devices), ERR_SK_DISPOSED.
 * @example
 * ```ts
 * await linearSp24Cuda(x, w, null, out)
 * ```
 */
export async function linearSp24Cuda(x2d: Tensor, w: SparseWeight, bias: Tensor | null, out: Tensor): Promise<void> {
  if (!(w instanceof SparseWeight) || w.format !== '2:4') throw invalidArgument('w', "a '2:4' SparseWeight", w)
  const parts = w._parts()
  const [n, k] = parts.dims
  const args = linearArgs(x2d, n, k, parts.type, bias, out, true)
  const x = cudaBuffer(x2d, 'x')
  const o = cudaBuffer(out, 'out')
  const vals = cudaBuffer(parts.tensors.values, 'w.values')
  const meta = cudaBuffer(parts.tensors.meta, 'w.meta')
  const bb = bias ? cudaBuffer(bias, 'bias') : null
  sameCudaDevice(
    x.device,
    ['w', parts.device],
    ['out', o.device],
    ...(bb ? ([['bias', bb.device]] as [string, string][]) : []),
  )
  const lt = compressedOf.get(parts) ?? null
  return callNative(() => cuda().linear(x.buffer, vals.buffer, meta.buffer, bb?.buffer ?? null, o.buffer, args, lt))
}

/**
 * out = x2d · wᵀ + bias with a dense weight on CUDA (`mma.sync`, float32 accumulation).
 *
 * @param x2d - [..., K] float16 / bfloat16.
 * @param w - [N, K] of x's dtype on x's device.
 * @param bias - [N] of x's dtype or float32, or null.
 * @param out - [M, N] of x's dtype; written.
 * @throws ERR_SK_SHAPE, ERR_SK_DTYPE, ERR_SK_DEVICE (mixed devices), ERR_SK_DISPOSED.
 * @example
 * ```ts
 * await linearDenseCuda(x, w, bias, out)
 * ```
 */
export async function linearDenseCuda(x2d: Tensor, w: Tensor, bias: Tensor | null, out: Tensor): Promise<void> {
  if (w.dims.length !== 2) throw shapeError('w', 'a 2-D tensor [N, K]', w.dims)
  const [n, k] = w.dims
  const args = linearArgs(x2d, n, k, w.type, bias, out, false)
  const x = cudaBuffer(x2d, 'x')
  const wb = cudaBuffer(w, 'w')
  const o = cudaBuffer(out, 'out')
  const bb = bias ? cudaBuffer(bias, 'bias') : null
  sameCudaDevice(
    x.device,
    ['w', wb.device],
    ['out', o.device],
    ...(bb ? ([['bias', bb.device]] as [string, string][]) : []),
  )
  return callNative(() => cuda().linear(x.buffer, wb.buffer, null, bb?.buffer ?? null, o.buffer, args, null))
}

/** Whether a 2:4 weight carries a cuSPARSELt copy (tests, benchmarks). @internal */
export function usesCusparseLt(w: SparseWeight): boolean {
  return compressedOf.has(w._parts())
}
