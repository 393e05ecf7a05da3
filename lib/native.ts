/**
 * Loads the native addons and types their raw bindings. Internal: the public
 * API validates arguments before anything here is called.
 * @internal
 * @module
 */
import { existsSync } from 'node:fs'
import { createRequire } from 'node:module'
import { arch, platform } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

import { SparsekitError } from './errors.js'

const require = createRequire(import.meta.url)
/** The package root: one level above `lib/` (sources) or `dist/` (built). */
export const packageRoot = fileURLToPath(new URL('..', import.meta.url))

/** Facts about the CPU and the kernels chosen for it (`csrc/addon/addon.cc`). */
export interface CpuInfo {
  arch: string
  isa: string
  forced: boolean
  supportedIsas: string[]
  features: Record<string, boolean>
  kernels: Record<string, string>
  threads: number
}

/** A host block that sparsekit owns, as `alloc()` returns it. */
export interface HostBlock {
  buffer: ArrayBuffer
  handle: unknown
}

/**
 * Shapes, strides (in elements, head-dim stride 1) and flags of one attention
 * call; mirrors `sk_attention_params` in csrc/core/params.h.
 */
export interface AttentionArgs {
  dtype: number // dtype id: float32, float16 or bfloat16
  batch: number
  headsQ: number
  headsKv: number
  seqQ: number
  seqKv: number
  headDim: number
  qStrides: [number, number, number] // batch, head, sequence
  kStrides: [number, number, number]
  vStrides: [number, number, number]
  outStrides: [number, number, number]
  scale: number
  causal: boolean // bottom-right aligned, ANDed with the mask
}

/** One token rule of a partial block; mirrors `sk_mask_rule` (kinds: 1 causal, 2 window, 3 streaming, 4 documents). */
export interface NativeMaskRule {
  kind: number
  window?: number
  sink?: number
  local?: number
  qSeg?: Int32Array // [seqQ] segment ids; -1 prefix, -2 query segment
  kvSeg?: Int32Array // [seqKv]
  kvPos?: Int32Array // [posBatch, posHeads, seqKv] original key positions (permuted causal)
  posBatch?: number // 1 or the batch
  posHeads?: number // 1 or the key/value heads
}

/**
 * A BlockMask as the kernels read it; mirrors `sk_block_mask`. Rows are
 * (batch, head, query block) with batch / heads of 1 broadcasting; per row,
 * the first `num` entries of `idx` (padded to nKvBlocks) are the key blocks,
 * increasing. `rules` is an OR of AND-terms (at most 4 × 4) applied to partial blocks only.
 */
export interface NativeMask {
  batch: number
  heads: number
  qBlock: number
  kvBlock: number
  nQBlocks: number
  nKvBlocks: number
  fullNum: Int32Array
  fullIdx: Int32Array
  partialNum: Int32Array
  partialIdx: Int32Array
  rules: NativeMaskRule[][]
}

/** Arguments of `blockScores`; mirrors `sk_block_scores_params` (method: 1 XAttention, 2 mean-pooled, 3 key importance). */
export interface BlockScoresArgs {
  dtype: number
  method: 1 | 2 | 3
  batch: number
  headsQ: number
  headsKv: number
  seq: number
  headDim: number
  qStrides: [number, number, number]
  kStrides: [number, number, number]
  block: number
  stride: number
  segmentBlocks: number
  keyCount: number
  scale: number
  causal: boolean
}

/** Arguments of `gatherRows`; mirrors `sk_gather_rows_params`. */
export interface GatherRowsArgs {
  elemSize: number
  batch: number
  heads: number
  seq: number
  row: number
  srcStrides: [number, number, number]
}

/** The CPU addon (`build/Release/sparsekit.node` or `prebuilds/<platform>-<arch>/`). */
export interface CpuBinding {
  cpuInfo(): CpuInfo
  setNumThreads(n: number): void
  numThreads(): number
  /** Outputs skip the zeroing; `zeros()` asks for it. */
  alloc(bytes: number, zero: boolean): HostBlock
  release(buffer: ArrayBuffer, handle: unknown): void
  hostStats(): { blocks: number; bytes: number }
  cast(src: ArrayBufferView, srcType: number, dst: ArrayBufferView, dstType: number, count: number, saturate: boolean): Promise<void>
  castSync(src: ArrayBufferView, srcType: number, dst: ArrayBufferView, dstType: number, count: number, saturate: boolean): void
  /** Block-sparse FlashAttention forward; lse is float32 [batch, headsQ, seqQ] or null. */
  attention(q: ArrayBufferView, k: ArrayBufferView, v: ArrayBufferView, out: ArrayBufferView, lse: Float32Array | null, args: AttentionArgs, mask: NativeMask | null): Promise<void>
  /** Dynamic sparse prefill block scores (`sk_block_scores_params`; csrc/addon/op_prefill.cc). */
  blockScores(q: ArrayBufferView, k: ArrayBufferView, out: Float32Array, args: BlockScoresArgs): Promise<void>
  /** dst[b, h, s] = src[b, h, idx[b, h, s]] row by row, dst contiguous (`sk_gather_rows_params`). */
  gatherRows(src: ArrayBufferView, idx: Int32Array, dst: ArrayBufferView, args: GatherRowsArgs): Promise<void>
}

/** Why CUDA can or cannot be used, from the CUDA addon. */
export interface CudaStatus {
  available: boolean
  reason: string // '' when available
  deviceCount: number
  runtimeVersion: number // e.g. 13000
  driverVersion: number // 0 without a driver
  archs: string // the SASS/PTX targets compiled in, e.g. "80;89;90a"
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

/**
 * The CUDA addon (`build-cuda/Release/sparsekit_cuda.node` or
 * `cuda-prebuild/<platform>-<arch>/sparsekit_cuda.node`). Every async call is
 * ordered on the device's stream and settles when its work has finished.
 */
export interface CudaBinding {
  status(): CudaStatus
  deviceInfo(device: number): CudaDeviceInfo
  alloc(device: number, bytes: number): DeviceBuffer
  /** Stream-ordered memset to zero; returns at once. */
  zero(buf: DeviceBuffer, bytes: number): void
  copyToDevice(src: ArrayBufferView, dst: DeviceBuffer, bytes: number): Promise<void>
  copyToHost(src: DeviceBuffer, dst: ArrayBufferView, bytes: number): Promise<void>
  cast(src: DeviceBuffer, srcType: number, dst: DeviceBuffer, dstType: number, count: number, saturate: boolean): Promise<void>
  memory(device: number): { allocatedBytes: number; cachedBytes: number; buffers: number }
  emptyCache(device: number): void
  synchronize(device: number): Promise<void>
  /**
   * Runs every check of `attention` on byte sizes instead of buffers and says
   * which kernel would run; needs no device, so the checks are tested everywhere.
   */
  attentionPick(q: number, k: number, v: number, out: number, lse: number | null, args: AttentionArgs, mask: NativeMask | null): { kernel: string }
  /** Block-sparse FlashAttention forward (fp16 / bf16); the mask's arrays are uploaded by the binding. */
  attention(q: DeviceBuffer, k: DeviceBuffer, v: DeviceBuffer, out: DeviceBuffer, lse: DeviceBuffer | null, args: AttentionArgs, mask: NativeMask | null): Promise<void>
}

let cpu: CpuBinding | undefined

function loadFailure(what: string, err: unknown, fix: string): SparsekitError {
  const reason = err instanceof Error ? err.message : String(err)
  return new SparsekitError('ERR_SK_NATIVE_LOAD', `sparsekit could not load its ${what}: ${reason}\n${fix}`, { cause: err })
}

/** The CPU addon; loads it on first use and explains a failure. */
export function cpuBinding(): CpuBinding {
  if (cpu) return cpu
  try {
    const load = require('node-gyp-build') as (dir: string) => CpuBinding
    cpu = load(packageRoot)
  } catch (err) {
    const code = (err as { code?: string })?.code
    const fix =
      code === 'ERR_SK_UNSUPPORTED' || code === 'ERR_SK_INVALID_ARGUMENT'
        ? 'Unset SPARSEKIT_ISA or set it to one of the kernel sets this CPU supports.'
        : `Prebuilt binaries cover linux-x64 and linux-arm64 (this is ${platform()}-${arch()}). ` +
          'In a source checkout run `npm run build:cpu` (needs python3, make and a C++17 compiler); ' +
          'if the message mentions GLIBC or GLIBCXX, build from source on this machine.'
    throw loadFailure('CPU addon', err, fix)
  }
  return cpu
}

let cuda: CudaBinding | null | undefined
let cudaLoadError = ''

/** Where the CUDA addon may be, in order: a local build, then the packaged one. */
function cudaCandidates(): string[] {
  return [
    join(packageRoot, 'build-cuda', 'Release', 'sparsekit_cuda.node'),
    join(packageRoot, 'cuda-prebuild', `${platform()}-${arch()}`, 'sparsekit_cuda.node'),
  ]
}

/**
 * The CUDA addon, or null with {@link cudaUnavailableReason} saying why:
 * not built, disabled with SPARSEKIT_CUDA=0, or failed to load.
 */
export function cudaBinding(): CudaBinding | null {
  if (cuda !== undefined) return cuda
  cuda = null
  if (process.env.SPARSEKIT_CUDA === '0') {
    cudaLoadError = 'disabled by SPARSEKIT_CUDA=0'
    return cuda
  }
  const path = cudaCandidates().find((p) => existsSync(p))
  if (!path) {
    cudaLoadError = 'the CUDA addon is not built (run `npm run build:cuda` where nvcc is installed)'
    return cuda
  }
  try {
    cuda = require(path) as CudaBinding
  } catch (err) {
    cudaLoadError = `the CUDA addon at ${path} failed to load: ${err instanceof Error ? err.message : String(err)}`
  }
  return cuda
}

/** Why {@link cudaBinding} returned null, or the addon's own reason when it loaded but has no device. */
export function cudaUnavailableReason(): string {
  const b = cudaBinding()
  return b ? b.status().reason : cudaLoadError
}
