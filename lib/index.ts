/**
 * sparsekit: sparse attention and sparse matmul kernels for Node.js, on CUDA
 * and CPU. This module only re-exports; see each export's docs.
 * @module sparsekit
 */
export { SparsekitError, type ErrorCode } from './errors.js'
export { type DType, type DataTypeMap, type TensorData, DTYPES, isDType, dtypeBytes } from './dtype.js'
export { Tensor, isTensor, type Location, type CastOptions } from './tensor.js'
export { tensor, zeros, randn, type TensorLike, type RandnOptions } from './create.js'
export {
  devices,
  cudaStatus,
  setNumThreads,
  numThreads,
  type DeviceName,
  type DeviceInfo,
  type CudaAvailability,
} from './device.js'
export { memory, type MemoryInfo } from './memory.js'
export { attention, type AttentionOptions, type AttentionResult, type AttentionLayout } from './ops/attention.js'
export {
  estimateBlockMask,
  segmentPermutation,
  permutedBlockAttention,
  permutedAttention,
  type EstimateOptions,
  type KeyPermutation,
  type PermutedAttentionOptions,
  type PermutedBlockOptions,
} from './ops/prefill.js'
export {
  BlockMask,
  type BlockSize,
  type DenseBlocks,
  type MaskSizes,
  type PermutedCausalOptions,
} from './mask/index.js'
export { SparseWeight, type SparseFormat } from './sparse/weight.js'
export { conv1x1, type Conv1x1Options, type Activation, type ClampActivation } from './ops/conv1x1.js'
export { csrLayout, type CsrOptions, type CsrLayout, type CsrBlockSize } from './sparse/csr.js'
export { prune, type PruneOptions } from './ops/prune.js'
export { sparsify, type SparsifyOptions } from './ops/sparsify.js'
export { linear } from './ops/linear.js'
export {
  KVCache,
  type KVCacheOptions,
  type KVCacheType,
  type KVCacheMemory,
  type AppendOptions,
} from './decode/cache.js'
export {
  decodeAttention,
  type DecodeOptions,
  type DecodeResult,
  type QuestSelect,
  type StreamingHeads,
} from './ops/decode.js'
export { quantize, dequantize, QuantizedTensor, type QuantizeOptions, type Fp8Type } from './ops/quantize.js'
