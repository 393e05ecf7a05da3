/**
 * Block masks for block-sparse attention; re-exports only.
 * @module
 */
export { BlockMask, type BlockSize, type DenseBlocks, type MaskSizes } from './block-mask.js'
export type { PermutedCausalOptions } from './permuted.js'
