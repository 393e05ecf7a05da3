// Bad input: every public function rejects wrong types, shapes, dtypes, bad
// dims, overflowing sizes, short data, disposed tensors and unknown devices
// with a SparsekitError of the right code and the one message shape
// ("Expected <what> for <name> but received <value>"), and never crashes or
// hangs Node (the nastiest cases run in child processes).
import { constants as bufferConstants } from 'node:buffer'

import { describe, expect, it } from 'vitest'

import * as sk from '../lib/index.js'
import {
  describeExit,
  distMissingReason,
  fixture,
  hasDist,
  lastJson,
  memoryLimitUnavailable,
  runNode,
  warnIfDistStale,
} from './fixtures/child.js'

type Code = sk.ErrorCode

interface Case {
  /** What the test name shows. */
  what: string
  call: () => unknown
  code: Code | readonly Code[]
  /** The argument the message must name; null skips the message-shape check (e.g. out of memory). */
  arg: string | null
}

/** Calls fn (sync or async) and returns what it threw or rejected with. */
async function caught(fn: () => unknown): Promise<unknown> {
  try {
    await fn()
  } catch (err) {
    return err
  }
  return undefined
}

const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')

/** Argument errors are thrown at once, never through a Promise (docs/safety.md). */
async function expectCase(c: Case): Promise<sk.SparsekitError> {
  let err: unknown
  try {
    const r = c.call() as Promise<unknown> | undefined
    if (r instanceof Promise)
      err = await r.then(
        () => undefined,
        (e: unknown) => ({ rejected: e }),
      )
  } catch (e) {
    err = e
  }
  expect(
    err,
    `${c.what} must throw at once, not reject: ${String((err as { rejected?: unknown })?.rejected)}`,
  ).not.toHaveProperty('rejected')
  expect(err, `${c.what} must fail`).toBeDefined()
  expect(err, `${c.what}: ${String(err)}`).toBeInstanceOf(sk.SparsekitError)
  const e = err as sk.SparsekitError
  expect(e.name).toBe('SparsekitError')
  expect(Array.isArray(c.code) ? c.code : [c.code]).toContain(e.code)
  if (c.arg !== null) expect(e.message).toMatch(new RegExp(`^Expected .+ for ${escape(c.arg)} but received .+`, 's'))
  return e
}

function runTable(title: string, cases: readonly Case[]): void {
  describe(title, () => {
    for (const c of cases) it(`${c.what} → ${[c.code].flat().join(' | ')}`, () => expectCase(c).then(() => undefined))
  })
}

function disposed(): sk.Tensor {
  const t = sk.tensor([1, 2, 3, 4], [2, 2])
  t.dispose()
  return t
}

/** An ArrayBuffer that can shrink (ES2024; typed here because the project's lib is ES2023). */
type Resizable = ArrayBuffer & { resize(bytes: number): void }
const resizable = (bytes: number, max: number): Resizable =>
  new (ArrayBuffer as unknown as new (n: number, o: { maxByteLength: number }) => Resizable)(bytes, {
    maxByteLength: max,
  })

const live = () => sk.tensor([1, 2, 3, 4], [2, 2])
const f4 = () => new Float32Array(4)
const cudaAvailable = sk.cudaStatus().available
const bad = {
  dims: (d: unknown) => d as number[],
  type: (t: unknown) => t as sk.DType,
  any: (v: unknown) => v as never,
}

runTable('sk.tensor', [
  { what: "data 'abc'", call: () => sk.tensor(bad.any('abc')), code: 'ERR_SK_INVALID_ARGUMENT', arg: 'data' },
  { what: 'data null', call: () => sk.tensor(bad.any(null)), code: 'ERR_SK_INVALID_ARGUMENT', arg: 'data' },
  { what: 'data undefined', call: () => sk.tensor(bad.any(undefined)), code: 'ERR_SK_INVALID_ARGUMENT', arg: 'data' },
  { what: 'data 42', call: () => sk.tensor(bad.any(42)), code: 'ERR_SK_INVALID_ARGUMENT', arg: 'data' },
  { what: 'data 42n', call: () => sk.tensor(bad.any(42n)), code: 'ERR_SK_INVALID_ARGUMENT', arg: 'data' },
  { what: 'data a symbol', call: () => sk.tensor(bad.any(Symbol('x'))), code: 'ERR_SK_INVALID_ARGUMENT', arg: 'data' },
  { what: 'data a function', call: () => sk.tensor(bad.any(() => 1)), code: 'ERR_SK_INVALID_ARGUMENT', arg: 'data' },
  { what: "data [1, 'a']", call: () => sk.tensor(bad.any([1, 'a'])), code: 'ERR_SK_INVALID_ARGUMENT', arg: 'data[1]' },
  {
    what: 'data [1, null]',
    call: () => sk.tensor(bad.any([1, null])),
    code: 'ERR_SK_INVALID_ARGUMENT',
    arg: 'data[1]',
  },
  {
    what: 'data [[1, 2]] (nested)',
    call: () => sk.tensor(bad.any([[1, 2]])),
    code: 'ERR_SK_INVALID_ARGUMENT',
    arg: 'data[0]',
  },
  {
    what: 'data an object with no data',
    call: () => sk.tensor(bad.any({ type: 'float32', dims: [1] })),
    code: 'ERR_SK_INVALID_ARGUMENT',
    arg: 'data',
  },
  {
    what: 'data an object whose data is a number array',
    call: () => sk.tensor(bad.any({ type: 'float32', dims: [2], data: [1, 2] })),
    code: 'ERR_SK_INVALID_ARGUMENT',
    arg: 'data.data',
  },
  { what: 'data {} (no data)', call: () => sk.tensor(bad.any({})), code: 'ERR_SK_INVALID_ARGUMENT', arg: 'data' },
  { what: 'Float64Array', call: () => sk.tensor(bad.any(new Float64Array(2))), code: 'ERR_SK_DTYPE', arg: 'data' },
  { what: 'BigInt64Array', call: () => sk.tensor(bad.any(new BigInt64Array(2))), code: 'ERR_SK_DTYPE', arg: 'data' },
  {
    what: 'Uint8ClampedArray',
    call: () => sk.tensor(bad.any(new Uint8ClampedArray(2))),
    code: 'ERR_SK_DTYPE',
    arg: 'data',
  },
  {
    what: "Float32Array with 'float16'",
    call: () => sk.tensor(f4(), [4], 'float16'),
    code: 'ERR_SK_DTYPE',
    arg: 'data',
  },
  {
    what: "Float32Array with 'bfloat16'",
    call: () => sk.tensor(f4(), [4], 'bfloat16'),
    code: 'ERR_SK_DTYPE',
    arg: 'data',
  },
  {
    what: "Uint16Array with 'float32'",
    call: () => sk.tensor(new Uint16Array(4), [4], 'float32'),
    code: 'ERR_SK_DTYPE',
    arg: 'data',
  },
  {
    what: "Uint8Array with 'int8'",
    call: () => sk.tensor(new Uint8Array(4), [4], 'int8'),
    code: 'ERR_SK_DTYPE',
    arg: 'data',
  },
  {
    what: "Int8Array with 'float8e4m3fn'",
    call: () => sk.tensor(new Int8Array(4), [4], 'float8e4m3fn'),
    code: 'ERR_SK_DTYPE',
    arg: 'data',
  },
  {
    what: "Int32Array with 'float32'",
    call: () => sk.tensor(new Int32Array(4), [4], 'float32'),
    code: 'ERR_SK_DTYPE',
    arg: 'data',
  },
  {
    what: "type 'float64'",
    call: () => sk.tensor([1, 2], [2], bad.type('float64')),
    code: 'ERR_SK_DTYPE',
    arg: 'type',
  },
  { what: "type 'int64'", call: () => sk.tensor([1, 2], [2], bad.type('int64')), code: 'ERR_SK_DTYPE', arg: 'type' },
  { what: "type ''", call: () => sk.tensor([1, 2], [2], bad.type('')), code: 'ERR_SK_DTYPE', arg: 'type' },
  {
    what: "type 'FLOAT32' (case matters)",
    call: () => sk.tensor([1, 2], [2], bad.type('FLOAT32')),
    code: 'ERR_SK_DTYPE',
    arg: 'type',
  },
  { what: 'type 1', call: () => sk.tensor([1, 2], [2], bad.type(1)), code: 'ERR_SK_DTYPE', arg: 'type' },
  { what: 'type null', call: () => sk.tensor(f4(), [4], bad.type(null)), code: 'ERR_SK_DTYPE', arg: 'type' },
  {
    what: 'dims [2, 3] for 4 values (data shorter than the shape)',
    call: () => sk.tensor(f4(), [2, 3]),
    code: 'ERR_SK_SHAPE',
    arg: 'dims',
  },
  { what: 'dims [3] for 4 numbers', call: () => sk.tensor([1, 2, 3, 4], [3]), code: 'ERR_SK_SHAPE', arg: 'dims' },
  { what: 'dims [-2, -2] (product matches)', call: () => sk.tensor(f4(), [-2, -2]), code: 'ERR_SK_SHAPE', arg: 'dims' },
  { what: 'dims [1.5, 2]', call: () => sk.tensor(f4(), [1.5, 2]), code: 'ERR_SK_SHAPE', arg: 'dims' },
  { what: 'dims [NaN]', call: () => sk.tensor(f4(), [NaN]), code: 'ERR_SK_SHAPE', arg: 'dims' },
  { what: 'dims [Infinity]', call: () => sk.tensor(f4(), [Infinity]), code: 'ERR_SK_SHAPE', arg: 'dims' },
  { what: "dims ['4']", call: () => sk.tensor(f4(), bad.dims(['4'])), code: 'ERR_SK_SHAPE', arg: 'dims' },
  { what: "dims '4'", call: () => sk.tensor(f4(), bad.dims('4')), code: 'ERR_SK_SHAPE', arg: 'dims' },
  {
    what: 'dims an array-like object',
    call: () => sk.tensor(f4(), bad.dims({ length: 1, 0: 4 })),
    code: 'ERR_SK_SHAPE',
    arg: 'dims',
  },
  {
    what: 'dims of rank 17',
    call: () => sk.tensor(f4(), [4, ...Array(16).fill(1)]),
    code: 'ERR_SK_SHAPE',
    arg: 'dims',
  },
  {
    what: 'dims [2**40, 2**20] (size overflows)',
    call: () => sk.tensor(f4(), [2 ** 40, 2 ** 20]),
    code: 'ERR_SK_SHAPE',
    arg: 'dims',
  },
  {
    what: 'int32 value 1.5',
    call: () => sk.tensor([1.5], [1], 'int32'),
    code: 'ERR_SK_INVALID_ARGUMENT',
    arg: 'data[0]',
  },
  {
    what: 'int8 value 128',
    call: () => sk.tensor([1, 128], [2], 'int8'),
    code: 'ERR_SK_INVALID_ARGUMENT',
    arg: 'data[1]',
  },
  {
    what: 'uint8 value -1',
    call: () => sk.tensor([-1], [1], 'uint8'),
    code: 'ERR_SK_INVALID_ARGUMENT',
    arg: 'data[0]',
  },
  {
    what: 'int32 value NaN',
    call: () => sk.tensor([NaN], [1], 'int32'),
    code: 'ERR_SK_INVALID_ARGUMENT',
    arg: 'data[0]',
  },
  { what: 'a disposed tensor', call: () => sk.tensor(disposed()), code: 'ERR_SK_DISPOSED', arg: 'data' },
  {
    what: "a foreign tensor on 'gpu-buffer'",
    call: () => sk.tensor({ type: 'float32', dims: [4], data: f4(), location: 'gpu-buffer' }),
    code: 'ERR_SK_DEVICE',
    arg: 'data.location',
  },
])

runTable('sk.zeros', [
  { what: "dims 'abc'", call: () => sk.zeros(bad.dims('abc')), code: 'ERR_SK_SHAPE', arg: 'dims' },
  { what: 'dims 4', call: () => sk.zeros(bad.dims(4)), code: 'ERR_SK_SHAPE', arg: 'dims' },
  { what: 'dims null', call: () => sk.zeros(bad.dims(null)), code: 'ERR_SK_SHAPE', arg: 'dims' },
  { what: 'dims undefined', call: () => sk.zeros(bad.dims(undefined)), code: 'ERR_SK_SHAPE', arg: 'dims' },
  { what: 'dims {}', call: () => sk.zeros(bad.dims({})), code: 'ERR_SK_SHAPE', arg: 'dims' },
  { what: 'dims a function', call: () => sk.zeros(bad.dims(() => [1])), code: 'ERR_SK_SHAPE', arg: 'dims' },
  { what: 'dims [-1]', call: () => sk.zeros([-1]), code: 'ERR_SK_SHAPE', arg: 'dims' },
  { what: 'dims [2, -0.5]', call: () => sk.zeros([2, -0.5]), code: 'ERR_SK_SHAPE', arg: 'dims' },
  { what: 'dims [1.5]', call: () => sk.zeros([1.5]), code: 'ERR_SK_SHAPE', arg: 'dims' },
  { what: 'dims [NaN]', call: () => sk.zeros([NaN]), code: 'ERR_SK_SHAPE', arg: 'dims' },
  { what: 'dims [Infinity]', call: () => sk.zeros([Infinity]), code: 'ERR_SK_SHAPE', arg: 'dims' },
  { what: "dims ['2']", call: () => sk.zeros(bad.dims(['2'])), code: 'ERR_SK_SHAPE', arg: 'dims' },
  { what: 'dims [2n]', call: () => sk.zeros(bad.dims([2n])), code: 'ERR_SK_SHAPE', arg: 'dims' },
  { what: 'dims [2**53]', call: () => sk.zeros([2 ** 53]), code: 'ERR_SK_SHAPE', arg: 'dims' },
  {
    what: 'dims [2**40, 2**20] (size overflows)',
    call: () => sk.zeros([2 ** 40, 2 ** 20]),
    code: 'ERR_SK_SHAPE',
    arg: 'dims',
  },
  {
    what: 'dims [2**26, 2**26] int8 (2^52 bytes, impossible)',
    call: () => sk.zeros([2 ** 26, 2 ** 26], 'int8'),
    code: ['ERR_SK_OUT_OF_MEMORY', 'ERR_SK_SHAPE'],
    arg: null,
  },
  { what: 'dims of rank 17', call: () => sk.zeros(Array(17).fill(1)), code: 'ERR_SK_SHAPE', arg: 'dims' },
  {
    what: 'dims [2**45] (128 TiB)',
    call: () => sk.zeros([2 ** 45]),
    code: ['ERR_SK_OUT_OF_MEMORY', 'ERR_SK_SHAPE'],
    arg: null,
  },
  { what: "type 'float64'", call: () => sk.zeros([2], bad.type('float64')), code: 'ERR_SK_DTYPE', arg: 'type' },
  { what: "type 'int64'", call: () => sk.zeros([2], bad.type('int64')), code: 'ERR_SK_DTYPE', arg: 'type' },
  { what: "type ''", call: () => sk.zeros([2], bad.type('')), code: 'ERR_SK_DTYPE', arg: 'type' },
  { what: 'type null', call: () => sk.zeros([2], bad.type(null)), code: 'ERR_SK_DTYPE', arg: 'type' },
  { what: 'type {}', call: () => sk.zeros([2], bad.type({})), code: 'ERR_SK_DTYPE', arg: 'type' },
  { what: "device 'tpu'", call: () => sk.zeros([2], 'float32', bad.any('tpu')), code: 'ERR_SK_DEVICE', arg: 'device' },
  { what: "device 'CPU'", call: () => sk.zeros([2], 'float32', bad.any('CPU')), code: 'ERR_SK_DEVICE', arg: 'device' },
  {
    what: "device 'cuda:-1'",
    call: () => sk.zeros([2], 'float32', bad.any('cuda:-1')),
    code: 'ERR_SK_DEVICE',
    arg: 'device',
  },
  {
    what: "device 'cuda:x'",
    call: () => sk.zeros([2], 'float32', bad.any('cuda:x')),
    code: 'ERR_SK_DEVICE',
    arg: 'device',
  },
  { what: 'device 0', call: () => sk.zeros([2], 'float32', bad.any(0)), code: 'ERR_SK_DEVICE', arg: 'device' },
  { what: 'device null', call: () => sk.zeros([2], 'float32', bad.any(null)), code: 'ERR_SK_DEVICE', arg: 'device' },
  { what: "device 'cuda:99'", call: () => sk.zeros([2], 'float32', 'cuda:99'), code: 'ERR_SK_DEVICE', arg: 'device' },
])

runTable('sk.randn', [
  { what: "dims 'x'", call: () => sk.randn(bad.dims('x')), code: 'ERR_SK_SHAPE', arg: 'dims' },
  { what: 'dims [-3]', call: () => sk.randn([-3]), code: 'ERR_SK_SHAPE', arg: 'dims' },
  { what: 'dims [2.5]', call: () => sk.randn([2.5]), code: 'ERR_SK_SHAPE', arg: 'dims' },
  { what: 'dims [2**40, 2**20]', call: () => sk.randn([2 ** 40, 2 ** 20]), code: 'ERR_SK_SHAPE', arg: 'dims' },
  { what: 'dims of rank 17', call: () => sk.randn(Array(17).fill(1)), code: 'ERR_SK_SHAPE', arg: 'dims' },
  {
    what: "options 'float16'",
    call: () => sk.randn([2], bad.any('float16')),
    code: 'ERR_SK_INVALID_ARGUMENT',
    arg: 'options',
  },
  { what: 'options null', call: () => sk.randn([2], bad.any(null)), code: 'ERR_SK_INVALID_ARGUMENT', arg: 'options' },
  { what: 'options []', call: () => sk.randn([2], bad.any([])), code: 'ERR_SK_INVALID_ARGUMENT', arg: 'options' },
  {
    what: 'options with an unknown key',
    call: () => sk.randn([2], bad.any({ seeed: 1 })),
    code: 'ERR_SK_INVALID_ARGUMENT',
    arg: 'options',
  },
  {
    what: "type 'int8' (not a float)",
    call: () => sk.randn([2], { type: 'int8' }),
    code: 'ERR_SK_DTYPE',
    arg: 'options.type',
  },
  {
    what: "type 'int32' (not a float)",
    call: () => sk.randn([2], { type: 'int32' }),
    code: 'ERR_SK_DTYPE',
    arg: 'options.type',
  },
  {
    what: "type 'float64'",
    call: () => sk.randn([2], { type: bad.type('float64') }),
    code: 'ERR_SK_DTYPE',
    arg: 'options.type',
  },
  { what: "type ''", call: () => sk.randn([2], { type: bad.type('') }), code: 'ERR_SK_DTYPE', arg: 'options.type' },
  { what: 'seed -1', call: () => sk.randn([2], { seed: -1 }), code: 'ERR_SK_INVALID_ARGUMENT', arg: 'options.seed' },
  { what: 'seed 1.5', call: () => sk.randn([2], { seed: 1.5 }), code: 'ERR_SK_INVALID_ARGUMENT', arg: 'options.seed' },
  {
    what: 'seed 2**32',
    call: () => sk.randn([2], { seed: 2 ** 32 }),
    code: 'ERR_SK_INVALID_ARGUMENT',
    arg: 'options.seed',
  },
  { what: 'seed NaN', call: () => sk.randn([2], { seed: NaN }), code: 'ERR_SK_INVALID_ARGUMENT', arg: 'options.seed' },
  {
    what: "seed '1'",
    call: () => sk.randn([2], { seed: bad.any('1') }),
    code: 'ERR_SK_INVALID_ARGUMENT',
    arg: 'options.seed',
  },
  {
    what: "device 'tpu'",
    call: () => sk.randn([2], { device: bad.any('tpu') }),
    code: 'ERR_SK_DEVICE',
    arg: 'options.device',
  },
  {
    what: 'float16 [2**40] (a float32 scratch that cannot exist)',
    call: () => sk.randn([2 ** 40], { type: 'float16' }),
    code: ['ERR_SK_OUT_OF_MEMORY', 'ERR_SK_SHAPE'],
    arg: null,
  },
  {
    what: 'float32 [2**45]',
    call: () => sk.randn([2 ** 45]),
    code: ['ERR_SK_OUT_OF_MEMORY', 'ERR_SK_SHAPE'],
    arg: null,
  },
])

runTable('t.cast', [
  { what: "type 'float64'", call: () => live().cast(bad.type('float64')), code: 'ERR_SK_DTYPE', arg: 'type' },
  { what: "type 'int64'", call: () => live().cast(bad.type('int64')), code: 'ERR_SK_DTYPE', arg: 'type' },
  { what: "type ''", call: () => live().cast(bad.type('')), code: 'ERR_SK_DTYPE', arg: 'type' },
  { what: 'type undefined', call: () => live().cast(bad.type(undefined)), code: 'ERR_SK_DTYPE', arg: 'type' },
  { what: 'type 0 (a raw id)', call: () => live().cast(bad.type(0)), code: 'ERR_SK_DTYPE', arg: 'type' },
  {
    what: 'options null',
    call: () => live().cast('float16', bad.any(null)),
    code: 'ERR_SK_INVALID_ARGUMENT',
    arg: 'options',
  },
  {
    what: 'options true',
    call: () => live().cast('float16', bad.any(true)),
    code: 'ERR_SK_INVALID_ARGUMENT',
    arg: 'options',
  },
  {
    what: 'options with an unknown key',
    call: () => live().cast('float16', bad.any({ saturated: true })),
    code: 'ERR_SK_INVALID_ARGUMENT',
    arg: 'options',
  },
  {
    what: "saturate 'yes'",
    call: () => live().cast('float8e4m3fn', { saturate: bad.any('yes') }),
    code: 'ERR_SK_INVALID_ARGUMENT',
    arg: 'options.saturate',
  },
  {
    what: 'saturate 1',
    call: () => live().cast('float8e4m3fn', { saturate: bad.any(1) }),
    code: 'ERR_SK_INVALID_ARGUMENT',
    arg: 'options.saturate',
  },
  {
    what: 'saturate null',
    call: () => live().cast('float8e4m3fn', { saturate: bad.any(null) }),
    code: 'ERR_SK_INVALID_ARGUMENT',
    arg: 'options.saturate',
  },
  { what: 'a disposed tensor', call: () => disposed().cast('float16'), code: 'ERR_SK_DISPOSED', arg: 'tensor' },
  {
    what: 'called on a plain object',
    call: () => sk.Tensor.prototype.cast.call(bad.any({ type: 'float32' }), 'float16'),
    code: 'ERR_SK_INVALID_ARGUMENT',
    arg: 'tensor',
  },
])

runTable('t.to', [
  { what: "device 'tpu'", call: () => live().to(bad.any('tpu')), code: 'ERR_SK_DEVICE', arg: 'device' },
  { what: "device ''", call: () => live().to(bad.any('')), code: 'ERR_SK_DEVICE', arg: 'device' },
  { what: "device 'gpu'", call: () => live().to(bad.any('gpu')), code: 'ERR_SK_DEVICE', arg: 'device' },
  { what: 'device null', call: () => live().to(bad.any(null)), code: 'ERR_SK_DEVICE', arg: 'device' },
  { what: 'device 0', call: () => live().to(bad.any(0)), code: 'ERR_SK_DEVICE', arg: 'device' },
  { what: 'device {}', call: () => live().to(bad.any({})), code: 'ERR_SK_DEVICE', arg: 'device' },
  { what: 'a disposed tensor', call: () => disposed().to('cpu'), code: 'ERR_SK_DISPOSED', arg: 'tensor' },
])

runTable('t.getData and t.data', [
  { what: 'getData on a disposed tensor', call: () => disposed().getData(), code: 'ERR_SK_DISPOSED', arg: 'tensor' },
  {
    what: 'getData(true) on a disposed tensor',
    call: () => disposed().getData(true),
    code: 'ERR_SK_DISPOSED',
    arg: 'tensor',
  },
  { what: 'data of a disposed tensor', call: () => disposed().data, code: 'ERR_SK_DISPOSED', arg: 'tensor' },
  {
    what: 'getData called on a plain object',
    call: () => sk.Tensor.prototype.getData.call(bad.any({})),
    code: 'ERR_SK_INVALID_ARGUMENT',
    arg: 'tensor',
  },
])

runTable('sk.setNumThreads', [
  { what: '0', call: () => sk.setNumThreads(0), code: 'ERR_SK_INVALID_ARGUMENT', arg: 'n' },
  { what: '-1', call: () => sk.setNumThreads(-1), code: 'ERR_SK_INVALID_ARGUMENT', arg: 'n' },
  { what: '1.5', call: () => sk.setNumThreads(1.5), code: 'ERR_SK_INVALID_ARGUMENT', arg: 'n' },
  { what: 'NaN', call: () => sk.setNumThreads(NaN), code: 'ERR_SK_INVALID_ARGUMENT', arg: 'n' },
  { what: 'Infinity', call: () => sk.setNumThreads(Infinity), code: 'ERR_SK_INVALID_ARGUMENT', arg: 'n' },
  { what: '1025', call: () => sk.setNumThreads(1025), code: 'ERR_SK_INVALID_ARGUMENT', arg: 'n' },
  { what: '2**31', call: () => sk.setNumThreads(2 ** 31), code: 'ERR_SK_INVALID_ARGUMENT', arg: 'n' },
  { what: "'2'", call: () => sk.setNumThreads(bad.any('2')), code: 'ERR_SK_INVALID_ARGUMENT', arg: 'n' },
  { what: 'null', call: () => sk.setNumThreads(bad.any(null)), code: 'ERR_SK_INVALID_ARGUMENT', arg: 'n' },
  { what: 'undefined', call: () => sk.setNumThreads(bad.any(undefined)), code: 'ERR_SK_INVALID_ARGUMENT', arg: 'n' },
])

describe('error details', () => {
  it('messages render the received value and its type', async () => {
    const e = await expectCase({ what: '', call: () => sk.zeros([2, -1]), code: 'ERR_SK_SHAPE', arg: 'dims' })
    expect(e.message).toBe('Expected an array of non-negative integers for dims but received [2, -1] (array)')
    const s = await expectCase({
      what: '',
      call: () => sk.setNumThreads(1.5),
      code: 'ERR_SK_INVALID_ARGUMENT',
      arg: 'n',
    })
    expect(s.message).toBe('Expected an integer between 1 and 1024 for n but received 1.5 (number)')
    const t = await expectCase({
      what: '',
      call: () => sk.tensor(new Float32Array(4), [4], 'float16'),
      code: 'ERR_SK_DTYPE',
      arg: 'data',
    })
    expect(t.message).toContain('Float32Array(4)')
    expect(t.message).toContain('Uint16Array')
  })

  it('an error is an Error and a SparsekitError, with a stack that starts at the caller', async () => {
    const e = await expectCase({ what: '', call: () => sk.zeros([-1]), code: 'ERR_SK_SHAPE', arg: 'dims' })
    expect(e).toBeInstanceOf(Error)
    expect(e.stack).toContain('errors.test.ts')
  })

  it.skipIf(cudaAvailable)("'cuda', 'cuda:0' without CUDA → ERR_SK_DEVICE naming why CUDA is unavailable", async () => {
    const reason = sk.cudaStatus().reason
    expect(reason.length).toBeGreaterThan(0)
    const calls: [string, () => unknown][] = [
      ['device', () => sk.zeros([2], 'float32', 'cuda:0')],
      ['device', () => sk.zeros([2], 'float32', 'cuda')],
      ['options.device', () => sk.randn([2], { device: 'cuda:0' })],
      ['device', () => sk.tensor([1]).to('cuda:0')],
      ['device', () => sk.tensor([1]).to('cuda')],
    ]
    for (const [arg, call] of calls) {
      const e = await expectCase({ what: arg, call, code: 'ERR_SK_DEVICE', arg })
      expect(e.message).toContain(reason)
    }
  })

  it('memory gone under a live tensor is refused by the native side with ERR_SK_DISPOSED and the caller’s stack', async () => {
    const owner = sk.randn([4])
    const t = sk.tensor(owner, [2, 2])
    // Disposing the owner detaches the shared memory; only the native side sees that through the alias.
    owner.dispose()
    expect(t.location).toBe('cpu')
    const before = sk.memory().cpu
    const err = await caught(() => t.cast('float16'))
    expect(err).toBeInstanceOf(sk.SparsekitError)
    const e = err as sk.SparsekitError
    expect(e.code).toBe('ERR_SK_DISPOSED')
    expect(e.message).toMatch(/detached/)
    expect(e.stack).toContain('errors.test.ts')
    expect(e.stack?.split('\n')[0]).toBe(`SparsekitError: ${e.message}`)
    expect((e.cause as { code?: string }).code).toBe('ERR_SK_DISPOSED')
    // The output allocated for the failed cast is freed again.
    expect(sk.memory().cpu).toEqual(before)
    t.dispose()
  })

  it('a tensor sharing a disposed tensor’s memory is refused natively (ERR_SK_DISPOSED), not read', async () => {
    const owner = sk.randn([16])
    const alias = sk.tensor(owner)
    owner.dispose()
    const e = await caught(() => alias.cast('float32'))
    expect(e).toBeInstanceOf(sk.SparsekitError)
    expect((e as sk.SparsekitError).code).toBe('ERR_SK_DISPOSED')
    expect((e as Error).stack).toContain('errors.test.ts')
    alias.dispose()
  })

  it('a SharedArrayBuffer-backed array works, or is refused with a message naming SharedArrayBuffer', async () => {
    const shared = new Float32Array(new SharedArrayBuffer(16)).fill(2)
    let t: sk.Tensor | undefined
    const e = await caught(async () => {
      t = sk.tensor(shared)
      const h = await t.cast('float16')
      expect(Array.from(h.data)).toEqual([0x4000, 0x4000, 0x4000, 0x4000])
      h.dispose()
    })
    t?.dispose()
    if (e !== undefined) {
      expect(e).toBeInstanceOf(sk.SparsekitError)
      expect((e as Error).message).toMatch(/SharedArrayBuffer/)
    }
  })

  it('a resizable-buffer array is refused when wrapped, or natively once shrunk (ERR_SK_DISPOSED)', async () => {
    const ab = resizable(16, 64)
    let t: sk.Tensor | undefined
    const e = await caught(async () => {
      t = sk.tensor(new Float32Array(ab, 0, 4))
      ab.resize(8)
      await t.cast('float16')
    })
    t?.dispose()
    expect(e).toBeInstanceOf(sk.SparsekitError)
    expect((e as sk.SparsekitError).code).toBe(t ? 'ERR_SK_DISPOSED' : 'ERR_SK_INVALID_ARGUMENT')
  })
})

describe.skipIf(!hasDist)('crash safety: the nastiest cases in a child process exit normally', () => {
  if (!hasDist) console.warn(`skipping child-process crash tests: ${distMissingReason}`)
  warnIfDistStale()
  const script = fixture('crash-cases.mjs')
  type Line = { value?: unknown; error?: { name: string; code?: string; sk: boolean; message: string } }

  function run(name: string): Line {
    const r = runNode(script, [name], { nodeArgs: ['--expose-gc'], timeoutMs: 30_000 })
    expect(r.status === 0 && r.signal === null, describeExit(r)).toBe(true)
    return lastJson<Line>(r)
  }

  const failsWith = (name: string, codes: readonly string[]) =>
    it(`${name} → a SparsekitError (${codes.join(' | ')})`, () => {
      const line = run(name)
      expect(line.error, JSON.stringify(line)).toBeDefined()
      expect(line.error!.sk, JSON.stringify(line.error)).toBe(true)
      expect(codes).toContain(line.error!.code)
    })

  failsWith('zeros-2^45', ['ERR_SK_OUT_OF_MEMORY', 'ERR_SK_SHAPE'])
  // Only where Node caps an ArrayBuffer well below the machine's memory (Node 20: 4 GiB);
  // elsewhere the case would really allocate and fill gigabytes.
  const smallCap = bufferConstants.MAX_LENGTH <= 2 ** 33
  it.skipIf(!smallCap)(
    'randn just over the ArrayBuffer size cap → a SparsekitError, not an abort in the allocator',
    () => {
      const line = run('randn-over-arraybuffer-limit')
      expect(line.error?.sk, JSON.stringify(line)).toBe(true)
      expect(['ERR_SK_OUT_OF_MEMORY', 'ERR_SK_SHAPE']).toContain(line.error?.code)
    },
  )

  it('foreign-realm-detach-while-queued: a vm context’s buffer is copied, not moved, so the op reads it whole', () => {
    expect(run('foreign-realm-detach-while-queued')).toEqual({ value: { first: 0x3e00, last: 0x3e00 } })
  })

  for (const name of ['detach-while-queued', 'resize-while-queued']) {
    it(`${name}: the op gives the right output or a SparsekitError, never a crash`, () => {
      const line = run(name)
      if (line.error) expect(line.error.sk, JSON.stringify(line.error)).toBe(true)
      else expect(line.value).toEqual({ first: 0x3e00, last: 0x3e00 })
    })
  }

  it('dispose-while-queued: the input stays alive until its op is done', () => {
    expect(run('dispose-while-queued')).toEqual({ value: { same: true } })
  })

  it('addon-constructor-throws: a load that fails after the executor started exits cleanly (no cleanup hook on the freed addon)', () => {
    expect(run('addon-constructor-throws')).toEqual({ value: 'threw' })
  })

  // Address-space limits at which the allocation sized by the arguments fails while Node itself still runs.
  const oom: [string, number][] = [
    ['oom-mask-arrays', 1_500_000],
    ['oom-randn-samples', 1_500_000],
    ['oom-native-mask-copy', 3_500_000],
  ]
  for (const [name, kb] of oom) {
    it.skipIf(memoryLimitUnavailable !== '')(
      `${name}: out of memory under ulimit -v ${kb} → ERR_SK_OUT_OF_MEMORY`,
      () => {
        const r = runNode(script, [name], { timeoutMs: 60_000, memoryLimitKb: kb })
        expect(r.status === 0 && r.signal === null, describeExit(r)).toBe(true)
        expect(lastJson<Line>(r).error).toMatchObject({ sk: true, code: 'ERR_SK_OUT_OF_MEMORY' })
      },
    )
  }
  it.skipIf(memoryLimitUnavailable !== '')(
    'fromdense-bits-before-arrays: under ulimit -v 1500000, bits too short for dims → ERR_SK_SHAPE, nothing allocated first',
    () => {
      const r = runNode(script, ['fromdense-bits-before-arrays'], { timeoutMs: 60_000, memoryLimitKb: 1_500_000 })
      expect(r.status === 0 && r.signal === null, describeExit(r)).toBe(true)
      expect(lastJson<Line>(r).error).toMatchObject({ sk: true, code: 'ERR_SK_SHAPE' })
    },
  )
  if (memoryLimitUnavailable) console.warn(`skipping the out-of-memory child tests: ${memoryLimitUnavailable}`)

  it('exit-during-cast: process.exit() while casts run and wait exits with 0', () => {
    const r = runNode(script, ['exit-during-cast'], { timeoutMs: 20_000 })
    expect(r.status === 0 && r.signal === null, describeExit(r)).toBe(true)
  })

  it('binding-misuse: the raw binding refuses bad sizes, ids and handles with a code', () => {
    const line = run('binding-misuse')
    expect(line.value).toEqual({
      countPastEnd: 'ERR_SK_DISPOSED',
      countNegative: 'ERR_SK_INVALID_ARGUMENT',
      countHuge: 'ERR_SK_INVALID_ARGUMENT',
      countFraction: 'ERR_SK_INVALID_ARGUMENT',
      badTypeId: 'ERR_SK_DTYPE',
      notTypedArray: 'ERR_SK_INVALID_ARGUMENT',
      noArgs: 'ERR_SK_DTYPE',
      allocNegative: 'ERR_SK_INVALID_ARGUMENT',
      allocNaN: 'ERR_SK_INVALID_ARGUMENT',
      releaseForgedHandle: 'ERR_SK_INVALID_ARGUMENT',
      releaseMismatched: 'ERR_SK_INVALID_ARGUMENT',
      setThreadsZero: 'ERR_SK_INVALID_ARGUMENT',
    })
  })
})
