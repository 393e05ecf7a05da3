// Bad input to sk.attention: every wrong argument is a SparsekitError with the
// right code, thrown at once (before anything is queued or allocated), in the
// one message shape "Expected <what> for <name> but received <value>".
// Never a crash, a hang or a wrong answer.
import { afterEach, describe, expect, it } from 'vitest'

import * as sk from '../../lib/index.js'
import { expectThrows } from '../fixtures/expect-errors.js'
import { cudaBinding, cudaUnavailableReason } from '../../lib/native.js'

const hasCuda = cudaBinding()?.status().available === true
if (!hasCuda) console.log(`attention mixed-device and CUDA dtype checks skipped: ${cudaUnavailableReason()}`)

const made: sk.Tensor[] = []
const t = (dims: number[], type: sk.DType = 'float32') => {
  const x = sk.zeros(dims, type)
  made.push(x)
  return x
}
afterEach(() => {
  for (const x of made.splice(0)) x.dispose()
})

const q4 = () => t([1, 4, 16, 32])
const kv2 = () => t([1, 2, 24, 32])
const causal16 = (qLen: number, kvLen: number) => sk.BlockMask.causal({ qLen, kvLen, blockSize: 16 })

interface Case {
  what: string
  call: () => unknown
  code: sk.ErrorCode
  arg: string | null
}

const cases: Case[] = [
  {
    what: 'q is not a tensor',
    call: () => sk.attention({} as sk.Tensor, kv2(), kv2()),
    code: 'ERR_SK_INVALID_ARGUMENT',
    arg: 'q',
  },
  {
    what: 'k is a TypedArray',
    call: () => sk.attention(q4(), new Float32Array(4) as unknown as sk.Tensor, kv2()),
    code: 'ERR_SK_INVALID_ARGUMENT',
    arg: 'k',
  },
  {
    what: 'v is undefined',
    call: () => sk.attention(q4(), kv2(), undefined as unknown as sk.Tensor),
    code: 'ERR_SK_INVALID_ARGUMENT',
    arg: 'v',
  },
  {
    what: 'v is disposed',
    call: () => {
      const v = kv2()
      v.dispose()
      return sk.attention(q4(), kv2(), v)
    },
    code: 'ERR_SK_DISPOSED',
    arg: 'v',
  },
  {
    what: 'options is a number',
    call: () => sk.attention(q4(), kv2(), kv2(), 1 as never),
    code: 'ERR_SK_INVALID_ARGUMENT',
    arg: 'options',
  },
  {
    what: 'an unknown option',
    call: () => sk.attention(q4(), kv2(), kv2(), { casual: true } as never),
    code: 'ERR_SK_INVALID_ARGUMENT',
    arg: 'options',
  },
  {
    what: 'causal is a string',
    call: () => sk.attention(q4(), kv2(), kv2(), { causal: 'yes' as never }),
    code: 'ERR_SK_INVALID_ARGUMENT',
    arg: 'options.causal',
  },
  {
    what: 'returnLse is 1',
    call: () => sk.attention(q4(), kv2(), kv2(), { returnLse: 1 as never }),
    code: 'ERR_SK_INVALID_ARGUMENT',
    arg: 'options.returnLse',
  },
  {
    what: "layout 'bhds'",
    call: () => sk.attention(q4(), kv2(), kv2(), { layout: 'bhds' as never }),
    code: 'ERR_SK_INVALID_ARGUMENT',
    arg: 'options.layout',
  },
  ...[NaN, Infinity, -Infinity, 0, -0.125, 1e-60, 1e40, '0.1', null].map((scale) => ({
    what: `scale ${String(scale)}`,
    call: () => sk.attention(q4(), kv2(), kv2(), { scale: scale as number }),
    code: 'ERR_SK_INVALID_ARGUMENT' as const,
    arg: 'options.scale',
  })),
  {
    what: 'mask is a plain object',
    call: () => sk.attention(q4(), kv2(), kv2(), { mask: {} as sk.BlockMask }),
    code: 'ERR_SK_INVALID_ARGUMENT',
    arg: 'options.mask',
  },
  {
    what: 'mask built for other lengths',
    call: () => sk.attention(q4(), kv2(), kv2(), { mask: causal16(16, 16) }),
    code: 'ERR_SK_SHAPE',
    arg: 'mask',
  },
  {
    what: 'mask with Sq and Skv swapped',
    call: () => sk.attention(q4(), kv2(), kv2(), { mask: causal16(24, 16) }),
    code: 'ERR_SK_SHAPE',
    arg: 'mask',
  },
  {
    what: 'mask batch 2 for batch 3',
    call: () =>
      sk.attention(t([3, 4, 16, 32]), t([3, 2, 24, 32]), t([3, 2, 24, 32]), {
        mask: sk.BlockMask.fromBlocks(() => true, { batch: 2, heads: 1, qLen: 16, kvLen: 24, blockSize: 16 }),
      }),
    code: 'ERR_SK_SHAPE',
    arg: 'mask.batch',
  },
  {
    what: 'mask heads 2 (the key heads) for 4 query heads',
    call: () =>
      sk.attention(q4(), kv2(), kv2(), {
        mask: sk.BlockMask.fromBlocks(() => true, { batch: 1, heads: 2, qLen: 16, kvLen: 24, blockSize: 16 }),
      }),
    code: 'ERR_SK_SHAPE',
    arg: 'mask.heads',
  },
  ...[8, 24, 0, 512, 272, 16.5].map((blockSize) => ({
    what: `block size ${blockSize} (outside 16..256 in steps of 16)`,
    call: () => sk.attention(q4(), kv2(), kv2(), { mask: sk.BlockMask.causal({ qLen: 16, kvLen: 24, blockSize }) }),
    code: 'ERR_SK_INVALID_ARGUMENT' as const,
    arg: null,
  })),
  { what: 'q is 3-D', call: () => sk.attention(t([4, 16, 32]), kv2(), kv2()), code: 'ERR_SK_SHAPE', arg: 'q.dims' },
  {
    what: 'k is 5-D',
    call: () => sk.attention(q4(), t([1, 1, 2, 24, 32]), kv2()),
    code: 'ERR_SK_SHAPE',
    arg: 'k.dims',
  },
  {
    what: 'head dims differ',
    call: () => sk.attention(q4(), t([1, 2, 24, 64]), t([1, 2, 24, 64])),
    code: 'ERR_SK_SHAPE',
    arg: 'k.dims',
  },
  {
    what: 'key heads do not divide query heads (6 % 4)',
    call: () => sk.attention(t([1, 6, 16, 32]), t([1, 4, 24, 32]), t([1, 4, 24, 32])),
    code: 'ERR_SK_SHAPE',
    arg: 'k.dims',
  },
  {
    what: 'more key heads than query heads',
    call: () => sk.attention(t([1, 2, 16, 32]), t([1, 4, 24, 32]), t([1, 4, 24, 32])),
    code: 'ERR_SK_SHAPE',
    arg: 'k.dims',
  },
  {
    what: 'batches differ',
    call: () => sk.attention(t([2, 4, 16, 32]), kv2(), kv2()),
    code: 'ERR_SK_SHAPE',
    arg: 'k.dims',
  },
  {
    what: 'v has another length than k',
    call: () => sk.attention(q4(), kv2(), t([1, 2, 23, 32])),
    code: 'ERR_SK_SHAPE',
    arg: 'v.dims',
  },
  {
    what: 'v has other heads than k',
    call: () => sk.attention(q4(), kv2(), t([1, 4, 24, 32])),
    code: 'ERR_SK_SHAPE',
    arg: 'v.dims',
  },
  {
    what: 'v has another head dim (value dim ≠ D is not supported)',
    call: () => sk.attention(q4(), kv2(), t([1, 2, 24, 64])),
    code: 'ERR_SK_SHAPE',
    arg: 'v.dims',
  },
  {
    what: 'head dim 512',
    call: () => sk.attention(t([1, 1, 4, 512]), t([1, 1, 4, 512]), t([1, 1, 4, 512])),
    code: 'ERR_SK_SHAPE',
    arg: 'q.dims',
  },
  {
    what: 'head dim 0',
    call: () => sk.attention(t([1, 1, 4, 0]), t([1, 1, 4, 0]), t([1, 1, 4, 0])),
    code: 'ERR_SK_SHAPE',
    arg: 'q.dims',
  },
  {
    what: 'zero query heads',
    call: () => sk.attention(t([1, 0, 4, 32]), t([1, 1, 4, 32]), t([1, 1, 4, 32])),
    code: 'ERR_SK_SHAPE',
    arg: 'q.dims',
  },
  {
    what: 'zero key heads',
    call: () => sk.attention(t([1, 2, 4, 32]), t([1, 0, 4, 32]), t([1, 0, 4, 32])),
    code: 'ERR_SK_SHAPE',
    arg: 'k.dims',
  },
  {
    what: 'bshd: key heads do not divide',
    call: () => sk.attention(t([1, 16, 6, 32]), t([1, 24, 4, 32]), t([1, 24, 4, 32]), { layout: 'bshd' }),
    code: 'ERR_SK_SHAPE',
    arg: 'k.dims',
  },
  {
    what: 'q is int32',
    call: () => sk.attention(t([1, 4, 16, 32], 'int32'), kv2(), kv2()),
    code: 'ERR_SK_DTYPE',
    arg: 'q.type',
  },
  {
    what: 'q is float8e4m3fn',
    call: () => sk.attention(t([1, 4, 16, 32], 'float8e4m3fn'), kv2(), kv2()),
    code: 'ERR_SK_DTYPE',
    arg: 'q.type',
  },
  {
    what: 'k is float16 with float32 q',
    call: () => sk.attention(q4(), t([1, 2, 24, 32], 'float16'), kv2()),
    code: 'ERR_SK_DTYPE',
    arg: 'k.type',
  },
  {
    what: 'v is bfloat16 with float16 q, k',
    call: () => sk.attention(t([1, 4, 16, 32], 'float16'), t([1, 2, 24, 32], 'float16'), t([1, 2, 24, 32], 'bfloat16')),
    code: 'ERR_SK_DTYPE',
    arg: 'v.type',
  },
]

describe('attention: bad input', () => {
  for (const c of cases) it(`${c.what} → ${c.code}`, () => expectThrows(c.call, c.code, c.arg))

  it('a failed check allocates nothing', () => {
    const [q, k, v] = [q4(), kv2(), kv2()]
    const before = sk.memory().cpu
    expectThrows(() => sk.attention(q, k, t([1, 2, 23, 32])), 'ERR_SK_SHAPE', 'v.dims')
    made.pop()!.dispose()
    // The disposed v's block may stay cached for reuse: compare what is live.
    expect({ ...sk.memory().cpu, cachedBytes: 0 }).toEqual({ ...before, cachedBytes: 0 })
    void [q, k, v]
  })

  it('garbage in every position and option never crashes', () => {
    const junk: unknown[] = [
      undefined,
      null,
      0,
      -1,
      NaN,
      '',
      'cpu',
      [],
      [1, 2],
      {},
      () => 1,
      Symbol('x'),
      10n,
      new Float32Array(4),
    ]
    for (const j of junk) {
      for (const pos of [0, 1, 2])
        expect(() => {
          const args: unknown[] = [q4(), kv2(), kv2()]
          args[pos] = j
          return (sk.attention as (...a: unknown[]) => unknown)(...args)
        }).toThrow(sk.SparsekitError)
      for (const key of ['causal', 'mask', 'scale', 'returnLse', 'layout'])
        if (j !== undefined && !(key === 'scale' && typeof j === 'number' && j > 0))
          expect(() => sk.attention(q4(), kv2(), kv2(), { [key]: j } as never)).toThrow(sk.SparsekitError)
    }
  })
})

describe.skipIf(!hasCuda)('attention on CUDA: bad input', () => {
  it('mixed devices → ERR_SK_DEVICE', async () => {
    const g = await t([1, 2, 24, 32], 'bfloat16').to('cuda')
    made.push(g)
    expectThrows(
      () => sk.attention(t([1, 4, 16, 32], 'bfloat16'), g, t([1, 2, 24, 32], 'bfloat16')),
      'ERR_SK_DEVICE',
      'k',
    )
    expectThrows(
      () => sk.attention(g, t([1, 2, 24, 32], 'bfloat16'), t([1, 2, 24, 32], 'bfloat16')),
      'ERR_SK_DEVICE',
      'k',
    )
  })
  it('float32 on CUDA → ERR_SK_UNSUPPORTED', async () => {
    const [q, k, v] = await Promise.all([t([1, 4, 16, 32]).to('cuda'), kv2().to('cuda'), kv2().to('cuda')])
    made.push(q, k, v)
    expectThrows(() => sk.attention(q, k, v), 'ERR_SK_UNSUPPORTED', null)
  })
})
