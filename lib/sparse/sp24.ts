/**
 * The 2:4 weight format on the CPU: two kept values of every group of four
 * along K, plus a 4-bit code i0 | (i1 << 2) (i0 < i1) per group
 * (docs/formats.md, "2:4 weights on the CPU"). Rows are stored in panels of 8
 * (P = ceil(N/8), G = K/4), so a kernel vectorised along N loads one slot of 8
 * rows, and their 8 codes, with one load each:
 * - `values` [P, G, 2, 8]: `values[p, q, s, r]` is the s-th kept value (s = 0
 *   the lower K index) of group q of row 8p + r;
 * - `meta` uint8 [P, G, 4]: a little-endian uint32 word per (panel, group),
 *   row 8p + r's code in bits 4r..4r+3.
 * Rows 8p + r ≥ N of the last panel are padding: code 0x4, zero values.
 * The size helpers below mirror csrc/core/sp24_meta.h. Compressing, decompressing
 * and the code checks run in C++ on the executor (csrc/cpu/sp24), never on
 * the JS thread.
 * @module
 */
import { type DType, dtypeId } from '../dtype.js'
import { callNative, SparsekitError } from '../errors.js'
import { cpuBinding } from '../native.js'
import { hostTensor, liveStorage, type Tensor } from '../tensor.js'
import { SparseWeight } from './weight.js'

/** Value dtypes the 2:4 format stores. */
export const kSp24Types: readonly DType[] = ['float32', 'float16', 'bfloat16']

/** Rows per panel of the CPU 2:4 layout (`kSp24PanelRows`). @internal */
export const kSp24PanelRows = 8

/** Panels of 8 rows for N rows: ceil(N / 8). @internal */
export const sp24Panels = (n: number): number => Math.ceil(n / kSp24PanelRows)

/** Elements of `values` for an [N, K] weight, padding rows included: P · G · 2 · 8. @internal */
export const sp24ValueCount = (n: number, k: number): number => sp24Panels(n) * kSp24PanelRows * (k / 4) * 2

/** Bytes of `meta` for an [N, K] weight: one 4-byte word per (panel, group). @internal */
export const sp24MetaBytes = (n: number, k: number): number => sp24Panels(n) * (k / 4) * 4

const cpuData = (t: Tensor, name: string): ArrayBufferView => {
  const s = liveStorage(t, name)
  if (s.kind !== 'cpu')
    throw new SparsekitError('ERR_SK_DEVICE', `Expected ${name} on the CPU but it lives on ${t.device}`)
  return s.data
}

/**
 * Compresses a dense CPU weight [N, K] (K a multiple of 4, at most 2 non-zeros
 * per group of 4) into a 2:4 SparseWeight. The caller has validated dims and dtype.
 * @internal
 */
export async function sparsifySp24Cpu(w: Tensor): Promise<SparseWeight> {
  const [n, k] = w.dims
  const panels = sp24Panels(n)
  const values = hostTensor(w.type, [panels, k / 4, 2, kSp24PanelRows], sp24ValueCount(n, k), false)
  let meta: Tensor | null = null
  try {
    meta = hostTensor('uint8', [panels, k / 4, 4], sp24MetaBytes(n, k), false)
    const m = meta
    await callNative(() =>
      cpuBinding().sp24(
        1,
        { dtype: dtypeId(w.type), rows: n, k },
        cpuData(w, 'w'),
        null,
        cpuData(values, 'values'),
        m.data as Uint8Array,
      ),
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
    toDense: () => toDenseSp24Cpu(values, meta, type, n, k),
  })
}

async function toDenseSp24Cpu(values: Tensor, meta: Tensor, type: DType, n: number, k: number): Promise<Tensor> {
  const out = hostTensor(type, [n, k], n * k, false)
  try {
    await callNative(() =>
      cpuBinding().sp24(
        2,
        { dtype: dtypeId(type), rows: n, k },
        null,
        cpuData(out, 'out'),
        cpuData(values, 'values'),
        cpuData(meta, 'meta') as Uint8Array,
      ),
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
export function linearSp24Cpu(x2d: Tensor, w: SparseWeight, bias: Tensor | null, out: Tensor): Promise<void> {
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
