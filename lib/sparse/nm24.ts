/**
 * The 2:4 weight format on the CPU: two kept values of every group of four
 * along K, plus a 4-bit code per group (docs/formats.md, "2:4 weights on the
 * CPU"). `values` [N, K/2] holds group q's two kept values at 2q, 2q+1 (lower
 * K index first); `meta` uint8 [N, ceil(K/8)] holds group 2b's code in the low
 * nibble of byte b and group 2b+1's in the high nibble, code = i0 | (i1 << 2)
 * with i0 < i1. Compressing, decompressing and the code checks run in C++ on
 * the executor (csrc/cpu/sp24), never on the JS thread.
 * @module
 */
import { type DType, dtypeId } from '../dtype.js'
import { callNative, SparsekitError } from '../errors.js'
import { cpuBinding } from '../native.js'
import { hostTensor, liveStorage, type Tensor } from '../tensor.js'
import { SparseWeight } from './weight.js'

/** Value dtypes the 2:4 format stores. */
export const kSparse24Types: readonly DType[] = ['float32', 'float16', 'bfloat16']

/** Bytes of codes per row: two groups of 4 per byte. */
export const meta24Bytes = (k: number): number => Math.ceil(k / 8)

const cpuData = (t: Tensor, name: string): ArrayBufferView => {
  const s = liveStorage(t, name)
  if (s.kind !== 'cpu') throw new SparsekitError('ERR_SK_DEVICE', `Expected ${name} on the CPU but it lives on ${t.device}`)
  return s.data
}

/**
 * Compresses a dense CPU weight [N, K] (K a multiple of 4, at most 2 non-zeros
 * per group of 4) into a 2:4 SparseWeight. The caller has validated dims and dtype.
 * @internal
 */
export async function sparsify24Cpu(w: Tensor): Promise<SparseWeight> {
  const [n, k] = w.dims
  const values = hostTensor(w.type, [n, k / 2], (n * k) / 2, false)
  let meta: Tensor | null = null
  try {
    meta = hostTensor('uint8', [n, meta24Bytes(k)], n * meta24Bytes(k), false)
    const m = meta
    await callNative(() =>
      cpuBinding().sparse24(1, { dtype: dtypeId(w.type), rows: n, k }, cpuData(w, 'w'), null, cpuData(values, 'values'), m.data as Uint8Array),
    )
  } catch (err) {
    values.dispose()
    meta?.dispose()
    throw err
  }
  return fromParts(values, meta, w.type, n, k)
}

/**
 * A SparseWeight over existing `values` and `meta` tensors (CPU layout), as
 * sparsify builds it. The codes are checked whenever a kernel reads them.
 * @internal
 */
export function fromParts(values: Tensor, meta: Tensor, type: DType, n: number, k: number): SparseWeight {
  return new SparseWeight({
    format: '2:4',
    type,
    dims: [n, k],
    device: 'cpu',
    nnz: (n * k) / 2,
    tensors: { values, meta },
    toDense: () => toDense24Cpu(values, meta, type, n, k),
  })
}

async function toDense24Cpu(values: Tensor, meta: Tensor, type: DType, n: number, k: number): Promise<Tensor> {
  const out = hostTensor(type, [n, k], n * k, false)
  try {
    await callNative(() =>
      cpuBinding().sparse24(2, { dtype: dtypeId(type), rows: n, k }, null, cpuData(out, 'out'), cpuData(values, 'values'), cpuData(meta, 'meta') as Uint8Array),
    )
  } catch (err) {
    out.dispose()
    throw err
  }
  return out
}

/**
 * The '2:4' entry of linear()'s format table: out [M, N] = x2d [M, K] · wᵀ + bias on the CPU.
 * x2d is float32 and contiguous; out float32 [M, N]; bias float32 [N] or null.
 * @internal
 */
export function linear24Cpu(x2d: Tensor, w: SparseWeight, bias: Tensor | null, out: Tensor): Promise<void> {
  const { values, meta } = w._parts().tensors
  const [n, k] = w.dims
  const m = x2d.dims[0]
  return callNative(() =>
    cpuBinding().linear(
      cpuData(x2d, 'x') as Float32Array,
      cpuData(values, 'w.values'),
      cpuData(meta, 'w.meta') as Uint8Array,
      bias ? (cpuData(bias, 'bias') as Float32Array) : null,
      cpuData(out, 'out') as Float32Array,
      { wType: dtypeId(w.type), format: 1, m, n, k },
    ),
  )
}
