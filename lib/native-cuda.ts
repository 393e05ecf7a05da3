/**
 * The CUDA addon's interface (`cuda/binding/`): its status, device buffers,
 * and the ops with their byte-size `…Pick` twins that run every check without
 * a device. Loaded by `cudaBinding()` in native.ts, which re-exports these types.
 * @internal
 * @module
 */
import type { KvBinding } from './decode/native.js'
import type {
  AttentionArgs,
  AttentionBytes,
  AttentionPick,
  BlockScoresArgs,
  GatherRowsArgs,
  NativeMask,
} from './native.js'

/** Why CUDA can or cannot be used, from the CUDA addon. */
export interface CudaStatus {
  available: boolean
  reason: string // '' when available
  deviceCount: number
  runtimeVersion: number // e.g. 13000
  driverVersion: number // 0 without a driver
  archs: string // the SASS/PTX targets compiled in, e.g. "80;89;90a"
}

/** What the CUDA backend adds to {@link AttentionPick}: the instance's tiles and the launch it would make. */
export interface CudaAttentionPick {
  headDim: number // the compiled head dim the call runs on
  blockM: number
  blockN: number
  grid: [number, number, number]
  maskBytes: number // the packed mask's upload
  vectorized: boolean // 16-byte loads (before the buffers' alignment is known)
}

/** One CUDA device's properties. */
export interface CudaDeviceInfo {
  index: number
  name: string
  computeCapability: string // "9.0"
  totalMemory: number // bytes
  multiprocessors: number
}

/** Device memory from the caching allocator (a type-tagged native object). */
export interface DeviceBuffer {
  readonly device: number
  readonly bytes: number
  /** Returns the memory to the allocator's cache at once (later uses throw ERR_SK_DISPOSED). */
  free(): void
}

/** One linear call as the CUDA binding checks it (out[m, n] = x[m, k] · wᵀ + bias). */
export interface CudaLinearArgs {
  dtype: number // dtype id: float16 or bfloat16 (x, w and out)
  m: number
  n: number
  k: number
  sparse: boolean // w is the CUDA 2:4 layout (values + metadata words), else dense [n, k]
  biasType: number // dtype id of the bias (the dtype or float32), -1 without one
}

/** What `linearPick` says a call would run. */
export interface LinearPick {
  kernel: string // e.g. 'sp24_gemm_bf16_128x128'
  path: 'cusparselt' | 'mma.sp' | 'mma.sync'
  grid: [number, number]
  wBytes: number
  metaBytes: number
  nPad?: number
  kPad?: number
}

/** A 2:4 weight in the CUDA layout, built on the host (docs/formats.md). */
export interface Sp24Layout {
  values: Uint16Array // [nPad, kPad / 2]
  meta: Uint32Array // [nPad / 16][kPad / 32][16] words
  nPad: number
  kPad: number
  dense?: Uint16Array // [n, k], when asked for (what cuSPARSELt compresses)
}

/** Whether cuSPARSELt was found and loaded (no device needed to ask). */
export interface CusparseLtStatus {
  available: boolean
  version: string // '0.8.1'; '' when not loaded
  path: string
  reason: string // '' when available
  describe: string // one line for reports
  plans: number // cached plans
  lastFallback: string // why the last call meant for cuSPARSELt ran on our kernel ('' if none)
}

/**
 * The CUDA addon (`build-cuda/Release/sparsekit_cuda.node` or
 * `cuda-prebuild/<platform>-<arch>/sparsekit_cuda.node`). Every async call is
 * ordered on the device's stream and settles when its work has finished.
 */
export interface CudaBinding extends KvBinding<DeviceBuffer> {
  status(): CudaStatus
  deviceInfo(device: number): CudaDeviceInfo
  alloc(device: number, bytes: number): DeviceBuffer
  /** Stream-ordered memset to zero; returns at once. */
  zero(buf: DeviceBuffer, bytes: number): void
  copyToDevice(src: ArrayBufferView, dst: DeviceBuffer, bytes: number): Promise<void>
  copyToHost(src: DeviceBuffer, dst: ArrayBufferView, bytes: number): Promise<void>
  cast(
    src: DeviceBuffer,
    srcType: number,
    dst: DeviceBuffer,
    dstType: number,
    count: number,
    saturate: boolean,
  ): Promise<void>
  memory(device: number): { allocatedBytes: number; cachedBytes: number; buffers: number }
  emptyCache(device: number): void
  synchronize(device: number): Promise<void>
  /**
   * The CUDA backend's answer for `attention` (see {@link AttentionPick}): every check of
   * `attention`, on byte sizes instead of buffers; needs no device, so the checks are tested everywhere.
   */
  attentionPick(args: AttentionArgs, mask: NativeMask | null, bytes?: AttentionBytes): AttentionPick & CudaAttentionPick
  /** Block-sparse FlashAttention forward (fp16 / bf16); the mask's arrays are uploaded by the binding. */
  attention(
    q: DeviceBuffer,
    k: DeviceBuffer,
    v: DeviceBuffer,
    out: DeviceBuffer,
    lse: DeviceBuffer | null,
    args: AttentionArgs,
    mask: NativeMask | null,
  ): Promise<void>
  /** Every check of `linear` on byte sizes; needs no device. */
  linearPick(
    x: number,
    w: number,
    meta: number | null,
    bias: number | null,
    out: number,
    args: CudaLinearArgs,
  ): LinearPick
  /** out = x · wᵀ + bias (fp16 / bf16, float32 accumulation); `compressed` is the cuSPARSELt copy of a 2:4 weight. */
  linear(
    x: DeviceBuffer,
    w: DeviceBuffer,
    meta: DeviceBuffer | null,
    bias: DeviceBuffer | null,
    out: DeviceBuffer,
    args: CudaLinearArgs,
    compressed: DeviceBuffer | null,
  ): Promise<void>
  /** Every check of `blockScores` on byte sizes; needs no device. `scratchBytes`: the device scratch the call allocates. */
  blockScoresPick(
    q: number,
    k: number,
    out: number,
    args: BlockScoresArgs,
  ): { kernel: string; scratchBytes: number; grid: number }
  /** Block scores (`sk_block_scores_params`) of fp16 / bf16 q, k into float32 `out` on the device. */
  blockScores(q: DeviceBuffer, k: DeviceBuffer, out: DeviceBuffer, args: BlockScoresArgs): Promise<void>
  /** Every check of `gatherRows`, the index bounds included, on byte sizes; needs no device. */
  gatherRowsPick(
    src: number,
    idx: Int32Array,
    dst: number,
    args: GatherRowsArgs,
  ): { kernel: string; indexBytes: number }
  /** dst[b, h, s] = src[b, h, idx[b, h, s]]: idx is copied and checked on the host, then uploaded. */
  gatherRows(src: DeviceBuffer, idx: Int32Array, dst: DeviceBuffer, args: GatherRowsArgs): Promise<void>
  /** Checks CPU-layout 2:4 metadata and builds the CUDA layout on the host; needs no device. */
  sp24Layout(values: Uint16Array, meta: Uint8Array, dtype: number, n: number, k: number, withDense: boolean): Sp24Layout
  /** Loads cuSPARSELt on first call (SPARSEKIT_CUSPARSELT path, else libcusparseLt.so.0); needs no device. */
  cusparseLtStatus(): CusparseLtStatus
  cusparseLtCompressedBytes(device: number, dtype: number, n: number, k: number): number
  cusparseLtCompress(dense: DeviceBuffer, compressed: DeviceBuffer, dtype: number, n: number, k: number): Promise<void>
}
