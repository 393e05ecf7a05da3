/**
 * Hand-encoded ONNX models for the same-process onnxruntime-node baselines
 * (no ONNX or protobuf package needed). Field numbers are those of
 * onnx/onnx.proto3. Weights are initializers, so ORT sees constant weights
 * and pre-packs them as it would for a real model.
 * @internal
 * @module
 */
import { numThreads } from '../device.js'
import type { BenchCase } from './harness.js'

/** A protobuf writer of varints and length-delimited fields over byte chunks (weights can be hundreds of MB). */
class Pb {
  readonly parts: Uint8Array[] = []
  #small: number[] = []
  get length(): number {
    this.#flush()
    let n = 0
    for (const p of this.parts) n += p.length
    return n
  }
  varint(v: number): this {
    for (; v >= 0x80; v = Math.floor(v / 0x80)) this.#small.push((v % 0x80) | 0x80)
    this.#small.push(v)
    return this
  }
  int(field: number, v: number): this {
    return this.varint(field * 8).varint(v)
  }
  bytes(field: number, b: Uint8Array): this {
    this.varint(field * 8 + 2).varint(b.length)
    this.#flush()
    this.parts.push(b)
    return this
  }
  str(field: number, s: string): this {
    return this.bytes(field, new TextEncoder().encode(s))
  }
  msg(field: number, build: (w: Pb) => void): this {
    const inner = new Pb()
    build(inner)
    this.varint(field * 8 + 2).varint(inner.length)
    this.#flush()
    this.parts.push(...inner.parts)
    return this
  }
  toBytes(): Uint8Array {
    this.#flush()
    const out = new Uint8Array(this.length)
    let at = 0
    for (const p of this.parts) {
      out.set(p, at)
      at += p.length
    }
    return out
  }
  #flush(): void {
    if (this.#small.length) this.parts.push(Uint8Array.from(this.#small))
    this.#small = []
  }
}

const kFloat = 1 // TensorProto.FLOAT
const kInt32 = 6 // TensorProto.INT32
const kAttrInt = 2
const kAttrInts = 7

/** ValueInfoProto{name, type{tensor_type{elem_type, shape{dim{dim_value}}}}}; FLOAT unless told. */
function valueInfo(w: Pb, name: string, dims: readonly number[], elemType = kFloat): void {
  w.str(1, name).msg(2, (t) =>
    t.msg(1, (tt) => tt.int(1, elemType).msg(2, (sh) => dims.forEach((d) => sh.msg(1, (dim) => dim.int(1, d))))),
  )
}

/** TensorProto{dims, data_type FLOAT, name, raw_data} (little-endian float32, as every platform we run on). */
function initializer(w: Pb, name: string, dims: readonly number[], data: Float32Array): void {
  for (const d of dims) w.int(1, d)
  w.int(2, kFloat)
    .str(8, name)
    .bytes(9, new Uint8Array(data.buffer, data.byteOffset, data.byteLength))
}

interface Node {
  op: string
  domain?: string
  inputs: string[]
  output: string
  /** Further node outputs the graph does not return (GroupQueryAttention's present key and value). */
  moreOutputs?: string[]
  attrs?: { name: string; int?: number; ints?: number[] }[]
}

function model(
  node: Node,
  inputs: [string, number[], number?][],
  output: [string, number[]],
  inits: [string, number[], Float32Array][],
): Uint8Array {
  const w = new Pb().int(1, 8).str(2, 'sparsekit-bench') // ModelProto.ir_version, producer_name
  w.msg(7, (g) => {
    g.msg(1, (n) => {
      for (const x of node.inputs) n.str(1, x)
      n.str(2, node.output)
      for (const x of node.moreOutputs ?? []) n.str(2, x)
      n.str(3, node.op.toLowerCase()).str(4, node.op)
      if (node.domain) n.str(7, node.domain)
      for (const a of node.attrs ?? [])
        n.msg(5, (p) => {
          p.str(1, a.name)
          if (a.int !== undefined) p.int(3, a.int).int(20, kAttrInt)
          else {
            for (const v of a.ints ?? []) p.int(8, v)
            p.int(20, kAttrInts)
          }
        })
    })
    g.str(2, 'graph')
    for (const [name, dims, data] of inits) g.msg(5, (t) => initializer(t, name, dims, data))
    for (const [name, dims, elemType] of inputs) g.msg(11, (v) => valueInfo(v, name, dims, elemType))
    g.msg(12, (v) => valueInfo(v, output[0], output[1]))
  })
  w.msg(8, (o) => o.str(1, '').int(2, 17)).msg(8, (o) => o.str(1, 'com.microsoft').int(2, 1)) // opset_import
  return w.toBytes()
}

/**
 * One com.microsoft MultiHeadAttention node (float32, no mask, no bias,
 * default scale 1/√D): query [B, Sq, H·D], key and value [B, Skv, H·D] →
 * output [B, Sq, H·D]. Also the tests' ORT oracle.
 */
export function mhaModel(batch: number, seqQ: number, seqKv: number, heads: number, headDim: number): Uint8Array {
  const hidden = heads * headDim
  return model(
    {
      op: 'MultiHeadAttention',
      domain: 'com.microsoft',
      inputs: ['query', 'key', 'value'],
      output: 'output',
      attrs: [{ name: 'num_heads', int: heads }],
    },
    [
      ['query', [batch, seqQ, hidden]],
      ['key', [batch, seqKv, hidden]],
      ['value', [batch, seqKv, hidden]],
    ],
    ['output', [batch, seqQ, hidden]],
    [],
  )
}

/**
 * One com.microsoft GroupQueryAttention node decoding one token (float32, no
 * rotary, default scale 1/√D): query [B, 1, Hq·D], key and value [B, 1, Hkv·D]
 * (the new token), past_key and past_value [B, Hkv, past, D], seqlens_k [B]
 * int32 (total length − 1) and total_sequence_length (a scalar int32) →
 * output [B, 1, Hq·D]. ORT's decode with a float32 past, the decode suite's peer.
 */
export function gqaDecodeModel(
  batch: number,
  past: number,
  headsQ: number,
  headsKv: number,
  headDim: number,
): Uint8Array {
  const attrs = [
    { name: 'num_heads', int: headsQ },
    { name: 'kv_num_heads', int: headsKv },
  ]
  return model(
    {
      op: 'GroupQueryAttention',
      domain: 'com.microsoft',
      attrs,
      output: 'output',
      moreOutputs: ['present_key', 'present_value'],
      inputs: ['query', 'key', 'value', 'past_key', 'past_value', 'seqlens_k', 'total_sequence_length'],
    },
    [
      ['query', [batch, 1, headsQ * headDim]],
      ['key', [batch, 1, headsKv * headDim]],
      ['value', [batch, 1, headsKv * headDim]],
      ['past_key', [batch, headsKv, past, headDim]],
      ['past_value', [batch, headsKv, past, headDim]],
      ['seqlens_k', [batch], kInt32],
      ['total_sequence_length', [], kInt32],
    ],
    ['output', [batch, 1, headsQ * headDim]],
    [],
  )
}

/** y = x · wt with a constant wt [K, N] (the transpose of a linear weight [N, K]): x [M, K] → y [M, N]. */
export function matmulModel(m: number, k: number, n: number, wt: Float32Array): Uint8Array {
  return model({ op: 'MatMul', inputs: ['x', 'wt'], output: 'y' }, [['x', [m, k]]], ['y', [m, n]], [['wt', [k, n], wt]])
}

/** y = Conv(x, w) with a constant 1×1 kernel w [Cout, Cin, 1, 1]: x [B, Cin, H, W] → y [B, Cout, H, W]. */
export function conv1x1Model(
  batch: number,
  cin: number,
  cout: number,
  h: number,
  w: number,
  weights: Float32Array,
): Uint8Array {
  return model(
    { op: 'Conv', inputs: ['x', 'w'], output: 'y', attrs: [{ name: 'kernel_shape', ints: [1, 1] }] },
    [['x', [batch, cin, h, w]]],
    ['y', [batch, cout, h, w]],
    [['w', [cout, cin, 1, 1], weights]],
  )
}

/** The onnxruntime-node surface the suites use (typed here: it is a dev dependency). */
export interface Ort {
  InferenceSession: { create(model: Uint8Array, options: object): Promise<OrtSession> }
  Tensor: new (type: 'float32' | 'int32', data: Float32Array | Int32Array, dims: number[]) => unknown
}

/** An onnxruntime-node session, as the suites use it. */
export interface OrtSession {
  inputNames: readonly string[]
  run(feeds: Record<string, unknown>): Promise<Record<string, { dispose?(): void }>>
  release(): Promise<void>
}

/** onnxruntime-node, or the reason it cannot be used (an install without dev dependencies). */
export async function loadOrt(): Promise<Ort | string> {
  const name = 'onnxruntime-node' // a variable: the import stays optional for tsc and bundlers
  try {
    return (await import(name)) as Ort
  } catch (err) {
    return `onnxruntime-node is not installed (${err instanceof Error ? err.message.split('\n')[0] : String(err)}); ORT rows skipped`
  }
}

/** Session options that turn ORT's intra-op spinning off: its idle workers would take the cores the next case needs. */
const kNoSpinning = { extra: { session: { intra_op: { allow_spinning: '0' } } } }

/**
 * A session on `threads` intra-op threads (ours use the same count) running
 * one op at a time. `spinning: false` sets ORT's
 * `session.intra_op.allow_spinning` to 0 (its workers block after a run
 * instead of spinning); left out, ORT's default (spinning) applies.
 */
export function ortSession(ort: Ort, model: Uint8Array, threads: number, spinning = true): Promise<OrtSession> {
  const extra = spinning ? {} : kNoSpinning
  return ort.InferenceSession.create(model, {
    intraOpNumThreads: threads,
    interOpNumThreads: 1,
    executionMode: 'sequential',
    ...extra,
  })
}

/** MatMul's B [K, N] from a linear weight [N, K] (out = x·wᵀ = x·B). */
export function matmulB(w: Float32Array, n: number, k: number): Float32Array {
  const b = new Float32Array(k * n)
  for (let j = 0; j < n; ++j) for (let t = 0; t < k; ++t) b[t * n + j] = w[j * k + t]
  return b
}

/**
 * A benchmark case timing `session.run` on an ORT session (the suites'
 * baseline rows): `prepare`, in setup, gives the model and the feeds the runs
 * cycle through; the session is released in teardown. Spinning is off unless
 * asked for: a spinning ORT pool takes the cores our alternating cases need
 * (the `user` suite measures both).
 */
export function ortCase(
  name: string,
  flops: number | undefined,
  ort: Ort,
  prepare: () => Promise<{ model: Uint8Array; feeds: Record<string, unknown>[] }>,
  spinning = false,
): BenchCase {
  let session: OrtSession | undefined
  let feeds: Record<string, unknown>[] = []
  return {
    name,
    flops,
    async setup() {
      const prepared = await prepare()
      session = await ortSession(ort, prepared.model, numThreads(), spinning)
      feeds = prepared.feeds
    },
    async run(iteration) {
      const out = await session!.run(feeds[iteration % feeds.length])
      for (const t of Object.values(out)) t.dispose?.()
    },
    // Awaited by the harness, so the session's weights and threads are gone
    // before the next group of cases is set up.
    async teardown() {
      const done = session?.release()
      session = undefined
      feeds = []
      await done
    },
  }
}
