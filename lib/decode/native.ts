/**
 * The decode ops' native interface, the same on the CPU addon (TypedArrays)
 * and the CUDA addon (device buffers): csrc/addon/op_decode.cc and
 * cuda/binding/decode.cc, both parsing their arguments with
 * csrc/addon/decode_args.cc. The args mirror csrc/core/params.h's
 * sk_kv_append_params and sk_decode_params.
 * @internal
 * @module
 */

/** An opaque native cache: its page pool, page tables and lengths (csrc/core/kv_pages.h). */
export type KvHandle = { readonly __kvCache: unique symbol }

/** kvCreate's arguments. */
export interface KvCreateArgs {
  type: number // dtype id: float32, float16, bfloat16 or float8e4m3fn
  batch: number
  kvHeads: number
  headDim: number // a multiple of 16, ≤ 256
  pageSize: number // a multiple of 16, 16 … 128
  maxPages: number // the pool's limit
  device?: number // CUDA: the device index
}

/** kvAppend's arguments (k, v: [batch, kvHeads, seq, headDim] with these strides). */
export interface KvAppendArgs {
  inType: number // float32, float16 or bfloat16
  seq: number
  kStrides: [number, number, number]
  vStrides: [number, number, number]
}

/** kvDecode's arguments; budget, sink and recent only matter for method 1 (Quest), budget in pages. */
export interface KvDecodeArgs {
  qType: number
  headsQ: number
  seqQ: number
  qStrides: [number, number, number]
  outStrides: [number, number, number]
  scale: number
  method: 0 | 1 // 0 dense, 1 Quest
  budget: number
  sink: number // tokens
  recent: number // tokens
  reuse: number // calls a Quest selection serves
  streamingSink: number // tokens
  streamingRecent: number // tokens
}

/** What kvStats reports. */
export interface KvStats {
  lengths: number[]
  pages: number
  pooledPages: number
  pooledBytes: number
  pageBytes: number
}

/** The decode methods of an addon; `Buf` is a TypedArray (CPU) or a DeviceBuffer (CUDA). */
export interface KvBinding<Buf> {
  /** A new, empty cache. */
  kvCreate(args: KvCreateArgs): KvHandle
  /** Appends count[b] tokens of k[b] / v[b] to sequence b; reserves the pages at once (ERR_SK_OUT_OF_MEMORY past maxPages). */
  kvAppend(cache: KvHandle, k: Buf, v: Buf, count: Int32Array, args: KvAppendArgs): Promise<void>
  /**
   * Decode attention; selCount [batch · kvHeads] and selPages [batch · kvHeads · most pages] receive
   * each (batch, KV head)'s selected pages when given; streaming [kvHeads] flags streaming heads.
   */
  kvDecode(
    cache: KvHandle,
    q: Buf,
    out: Buf,
    lse: Buf | null,
    selCount: Int32Array | null,
    selPages: Int32Array | null,
    streaming: Uint8Array | null,
    args: KvDecodeArgs,
  ): Promise<void>
  kvStats(cache: KvHandle): KvStats
  /** Frees the pages once queued work is done; later uses throw ERR_SK_DISPOSED. */
  kvRelease(cache: KvHandle): void
}
