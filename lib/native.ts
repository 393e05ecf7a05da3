/**
 * Loads the native addons and types their raw bindings (the CUDA addon's in
 * native-cuda.ts, re-exported here). Internal: the public
 * API validates arguments before anything here is called.
 * @internal
 * @module
 */
import { existsSync } from 'node:fs'
import { arch, platform } from 'node:os'
import { join } from 'node:path'

import { SparsekitError } from './errors.js'
import type { KvBinding } from './decode/native.js'
import { cpuLoadAdvice, cudaMissingReason } from './install.js'
import type { CudaBinding } from './native-cuda.js'

export type {
  CudaStatus,
  CudaDeviceInfo,
  DeviceBuffer,
  CudaLinearArgs,
  LinearPick,
  Sp24Layout,
  CusparseLtStatus,
  CudaBinding,
  CudaAttentionPick,
} from './native-cuda.js'

/**
 * The package root: one level above `lib/` (sources) or `dist/` (built).
 * lib/ compiles to CommonJS (lib/package.json), so `__dirname` and `require`
 * are this module's own; vitest provides both when it runs the sources.
 */
export const packageRoot = join(__dirname, '..')

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
  dtype: number // dtype id: float32, float16, bfloat16, or FP8 with fp8
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
  fp8?: Fp8Args // FP8 q, k, v only (dtype float8e4m3fn / float8e5m2; out is then float32)
}

/** FP8 attention's scales (docs/fp8.md); sizes from AttentionArgs, tiles of `tile` tokens. */
export interface Fp8Args {
  tile: number
  qScale: Float32Array // [batch, headsQ, ceil(seqQ / tile)]
  kScale: Float32Array // [batch, headsKv, ceil(seqKv / tile)]
  vScale: Float32Array // [batch, headsKv, ceil(seqKv / tile), headDim]
  kMean: Float32Array | null // [batch, headsKv, headDim]: k was smoothed
}

/** Byte lengths of attention's buffers, for a pick that checks them without the buffers (lse: null for none). */
export interface AttentionBytes {
  q: number
  k: number
  v: number
  out: number
  lse: number | null
}

/**
 * A backend's answer for an attention call (its pick(), csrc/core/backend.h):
 * the kernel that would run and the scratch it needs. A call the backend
 * cannot run throws the coded reason instead.
 */
export interface AttentionPick {
  kernel: string
  scratchBytes: number
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

/** A checked, native copy of a CSR weight's index arrays (`spmmPlan`); opaque to JS. */
export type SpmmPlan = { readonly __spmmPlan: unique symbol }

/**
 * Shapes and clamp of one `spmm` call; mirrors `sk_spmm_params`. layout 0:
 * conv1x1, x [batch, k, m], out [batch, n, m]; layout 1: linear, x [m, k],
 * out [m, n] (batch 1).
 */
export interface SpmmArgs {
  layout: 0 | 1
  batch: number
  m: number
  min: number
  max: number
}

/** Sizes of one linear call; mirrors `sk_linear_params` (csrc/core/params.h). */
export interface LinearArgs {
  wType: number // dtype id of the weights: float32, float16 or bfloat16
  format: number // 0 dense [n, k]; 1 2:4 (values [ceil(n/8), k/4, 2, 8] + meta [ceil(n/8), k/4, 4])
  m: number
  n: number
  k: number
}

/** Sizes of one 2:4 weight op; mirrors `sk_sp24_params`. `n`, `m`: prune's n:m (keep n of every m). */
export interface Sp24Args {
  dtype: number
  rows: number
  k: number
  n?: number
  m?: number
}

/** Arguments of `blockScores`; mirrors `sk_block_scores_params` (method: 1 XAttention, 2 mean-pooled, 3 key importance, 4 vertical and slash lines). */
export interface BlockScoresArgs {
  dtype: number
  method: 1 | 2 | 3 | 4
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

/** Arguments of `selectBlocks`; mirrors `sk_select_params` (rule 1 threshold, 2 top-k, 3 PBS-Attn's permuted). */
export interface SelectBlocksArgs {
  rule: 1 | 2 | 3
  rows: number
  nb: number
  /** Rules 1 and 3. */
  threshold?: number
  /** Rule 2. */
  budget?: number
  /** Rules 1 and 2. */
  causal?: boolean
  /** Rule 3: blocks per segment, query heads, query heads per key head. */
  segmentBlocks?: number
  headsQ?: number
  group?: number
}

/** Arguments of `segmentOrder`; mirrors `sk_segment_order_params`. */
export interface SegmentOrderArgs {
  batch: number
  headsQ: number
  headsKv: number
  seq: number
  keyCount: number
  segment: number
}

/** Arguments of `vslashPlan`; mirrors `sk_vslash_plan_params`. */
export interface VslashPlanArgs {
  batch: number
  headsQ: number
  headsKv: number
  seq: number
  block: number
  queries: number
  threshold: number
  budget: number
}

/** The CPU addon (`build/Release/sparsekit.node` or `prebuilds/<platform>-<arch>/`). */
export interface CpuBinding extends KvBinding<ArrayBufferView> {
  cpuInfo(): CpuInfo
  setNumThreads(n: number): void
  numThreads(): number
  /** Outputs skip the zeroing; `zeros()` asks for it. */
  alloc(bytes: number, zero: boolean): HostBlock
  release(buffer: ArrayBuffer, handle: unknown): void
  /** Live blocks and their bytes; freed blocks kept for reuse (4 KiB or more, 256 MiB in all) and their bytes. */
  hostStats(): { blocks: number; bytes: number; cachedBlocks: number; cachedBytes: number }
  /** Frees the cached blocks. */
  emptyHostCache(): void
  cast(
    src: ArrayBufferView,
    srcType: number,
    dst: ArrayBufferView,
    dstType: number,
    count: number,
    saturate: boolean,
  ): Promise<void>
  castSync(
    src: ArrayBufferView,
    srcType: number,
    dst: ArrayBufferView,
    dstType: number,
    count: number,
    saturate: boolean,
  ): void
  /** The CPU backend's answer for `attention` (every check of it; with `bytes`, the buffer sizes too). */
  attentionPick(
    args: AttentionArgs,
    mask: NativeMask | null,
    bytes?: AttentionBytes,
  ): AttentionPick & { qTile: number; kvTile: number }
  /** Reads `words` 64-bit words of src on every thread (the benchmarks' bandwidth yardstick); src 8-byte aligned. */
  streamRead(src: ArrayBufferView, words: number): Promise<void>
  /** Block-sparse FlashAttention forward; lse is float32 [batch, headsQ, seqQ] or null. */
  attention(
    q: ArrayBufferView,
    k: ArrayBufferView,
    v: ArrayBufferView,
    out: ArrayBufferView,
    lse: Float32Array | null,
    args: AttentionArgs,
    mask: NativeMask | null,
  ): Promise<void>
  /**
   * Counts w [n, k]'s non-zeros and blocks into out (14 numbers): nnz, blocks (nr 1, 2, 4), values (nr 1, 2, 4),
   * non-zeros in full groups (nr 1, 2, 4), non-zero blocks of full groups (nr 1, 2, 4), the block size to use.
   */
  spmmAnalyze(w: Float32Array, n: number, k: number, out: Float64Array): Promise<void>
  /** out = w with its `count` smallest |w| zeroed (NaN never; ties in index order): sparsify's `sparsity`. */
  spmmPrune(w: Float32Array, n: number, k: number, out: Float32Array, count: number): Promise<void>
  /** Packs w in blocks of nr into arrays sized by spmmAnalyze (rejects a w that changed since). */
  spmmPack(
    w: Float32Array,
    n: number,
    k: number,
    nr: number,
    nnzmap: Int32Array,
    cols: Int32Array,
    values: Float32Array,
  ): Promise<void>
  /** Checks the packed index arrays (counts, columns in bounds and increasing, sizes) and copies them natively. */
  spmmPlan(nnzmap: Int32Array, cols: Int32Array, n: number, k: number, nr: number, values: number): SpmmPlan
  /** Frees a plan now; later uses throw ERR_SK_DISPOSED. */
  spmmRelease(plan: SpmmPlan): void
  /** conv1x1 / linear with CSR weights: out = clamp(W·x + bias). */
  spmm(
    plan: SpmmPlan,
    values: Float32Array,
    x: Float32Array,
    out: Float32Array,
    bias: Float32Array | null,
    args: SpmmArgs,
  ): Promise<void>
  /** out [m, n] = x [m, k] · wᵀ + bias; w dense or 2:4 (then meta is required and checked before any kernel runs). */
  linear(
    x: Float32Array,
    w: ArrayBufferView,
    meta: Uint8Array | null,
    bias: Float32Array | null,
    out: Float32Array,
    args: LinearArgs,
  ): Promise<void>
  /**
   * 2:4 weight ops on [rows, k]: 0 prune (denseIn → denseOut, keep args.n of every args.m), 1 compress
   * (denseIn → values + meta; rejects a group of 4 with more than 2 non-zeros), 2 decompress (values + meta → denseOut; rejects bad codes).
   */
  sp24(
    op: 0 | 1 | 2,
    args: Sp24Args,
    denseIn: ArrayBufferView | null,
    denseOut: ArrayBufferView | null,
    values?: ArrayBufferView | null,
    meta?: Uint8Array | null,
  ): Promise<void>
  /** Dynamic sparse prefill block scores (`sk_block_scores_params`; csrc/addon/op_prefill.cc). */
  blockScores(q: ArrayBufferView, k: ArrayBufferView, out: Float32Array, args: BlockScoresArgs): Promise<void>
  /** dst[b, h, s] = src[b, h, idx[b, h, s]] row by row, dst contiguous (`sk_gather_rows_params`). */
  gatherRows(src: ArrayBufferView, idx: Int32Array, dst: ArrayBufferView, args: GatherRowsArgs): Promise<void>
  /** bits [rows, nb] from scores [rows, nb] (sinkBlock [batch · key heads] for rule 3, else null). */
  selectBlocks(
    scores: Float32Array,
    sinkBlock: Int32Array | null,
    bits: Uint8Array,
    args: SelectBlocksArgs,
  ): Promise<void>
  /** indices [B, Hkv, S] from importance [B, Hq, S]: each complete segment by decreasing summed importance. */
  segmentOrder(importance: Float32Array, indices: Int32Array, args: SegmentOrderArgs): Promise<void>
  /** The vertical-slash plan: indices [B, Hkv, S], bits [B, Hq, nb, nb] and coverage [B, Hq] from lines [B, Hq, 2, S]. */
  vslashPlan(
    scores: Float32Array,
    indices: Int32Array,
    bits: Uint8Array,
    coverage: Float32Array,
    args: VslashPlanArgs,
  ): Promise<void>
}

let cpu: CpuBinding | undefined

function loadFailure(what: string, err: unknown, fix: string): SparsekitError {
  const reason = err instanceof Error ? err.message : String(err)
  return new SparsekitError('ERR_SK_NATIVE_LOAD', `sparsekit could not load its ${what}: ${reason}\n${fix}`, {
    cause: err,
  })
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
        : cpuLoadAdvice(packageRoot)
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
    cudaLoadError = cudaMissingReason(packageRoot)
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
