/**
 * Attention tensor layouts: which dim of a 4-D q / k / v / out tensor is the
 * batch, head, sequence and head dim, and the strides (in elements) the
 * kernels read them with. Tensors are dense, so a layout is only an order of
 * dims: `bshd` data is read in place, never transposed.
 * @internal
 * @module
 */
import { invalidArgument } from '../errors.js'

/** `bhsd`: [batch, heads, seq, headDim] (PyTorch SDPA, FlashAttention's varlen-free API); `bshd`: [batch, seq, heads, headDim] (ONNX MultiHeadAttention, Hugging Face before the transpose). */
export type AttentionLayout = 'bhsd' | 'bshd'

/** The layouts {@link AttentionLayout} names, in the order the docs list them. */
export const kLayouts: readonly AttentionLayout[] = ['bhsd', 'bshd']

/** Logical sizes of one attention operand. */
export interface Bhsd {
  batch: number
  heads: number
  seq: number
  headDim: number
}

/** Strides in elements of batch, head and sequence; the head-dim stride is 1. */
export type Strides3 = [number, number, number]

/** Checks a layout option; `undefined` → `'bhsd'`. */
export function checkLayout(name: string, v: unknown): AttentionLayout {
  if (v === undefined) return 'bhsd'
  if (v !== 'bhsd' && v !== 'bshd') throw invalidArgument(name, `one of ${kLayouts.map((l) => `'${l}'`).join(', ')}`, v)
  return v
}

/** Reads [B, H, S, D] out of 4-D dims in the given layout. */
export function logicalDims(dims: readonly number[], layout: AttentionLayout): Bhsd {
  const [b, x, y, d] = dims
  return layout === 'bhsd' ? { batch: b, heads: x, seq: y, headDim: d } : { batch: b, heads: y, seq: x, headDim: d }
}

/** The dims of a tensor holding `s` in the given layout. */
export function physicalDims(s: Bhsd, layout: AttentionLayout): number[] {
  return layout === 'bhsd' ? [s.batch, s.heads, s.seq, s.headDim] : [s.batch, s.seq, s.heads, s.headDim]
}

/** Batch, head and sequence strides (elements) of a dense tensor holding `s` in the given layout. */
export function stridesOf(s: Bhsd, layout: AttentionLayout): Strides3 {
  const d = s.headDim
  return layout === 'bhsd' ? [s.heads * s.seq * d, s.seq * d, d] : [s.seq * s.heads * d, d, s.heads * d]
}
