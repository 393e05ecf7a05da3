/**
 * The one place CUDA 2:4 calls end until the CUDA kernels land: the lead
 * replaces these two with `linear24Cuda` and `sparsify24Cuda` from
 * lib/sparse/nm24-cuda.ts (same signatures). Device checks (mixed devices →
 * ERR_SK_DEVICE) happen before either is called.
 * @internal
 * @module
 */
import { SparsekitError } from '../errors.js'
import type { Tensor } from '../tensor.js'
import type { SparseWeight } from './weight.js'

const unsupported = (what: string, device: string) =>
  new SparsekitError('ERR_SK_UNSUPPORTED', `${what} on ${device} is not available in this build; move the operands to the CPU with await t.to('cpu')`)

/** 2:4 linear on a CUDA device. @internal */
export function linear24Cuda(x2d: Tensor, w: SparseWeight, _bias: Tensor | null, _out: Tensor): Promise<void> {
  return Promise.reject(unsupported('2:4 linear', x2d.device ?? w.device))
}

/** 2:4 compression of a CUDA weight. @internal */
export function sparsify24Cuda(w: Tensor): Promise<SparseWeight> {
  return Promise.reject(unsupported('2:4 sparsify', w.device))
}

/** Ops with no CUDA kernel yet (dense linear, prune, a sparse format without a CUDA entry). @internal */
export function unsupportedOnCuda(what: string, device: string): never {
  throw unsupported(what, device)
}
