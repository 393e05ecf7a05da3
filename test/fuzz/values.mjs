// Random and adversarial values for the API fuzzer (test/fuzz/run.mjs): a
// counter-based PRNG (call i of seed s draws from its own stream, so one call
// replays alone), well-formed tensors small enough to run in microseconds,
// and the values a hostile caller passes: wrong types, NaN, huge and negative
// sizes, odd byte offsets, shared / resizable / detached / foreign-realm
// buffers, proxies and getters that throw, look-alike objects, disposed
// tensors, masks and weights for other sizes.
import vm from 'node:vm'

import dtype from '../../dist/dtype.js'

const { DTYPES, arrayCtor } = dtype

/** Thrown by the fuzzer's own getters, traps and callbacks: passing it through unchanged is right. */
export class FuzzMarker extends Error {}

/**
 * Whether `err` is the caller's own: thrown by the fuzzer's getters and traps,
 * or by V8 for any use of a revoked Proxy the fuzzer passed (docs/safety.md:
 * errors from reading the caller's objects propagate unchanged).
 */
export const isCallersOwn = (err) =>
  err instanceof FuzzMarker || (err instanceof TypeError && /proxy that has been revoked/.test(err.message))

/** murmur3's finalizer (as lib/random.ts): spreads the bits of a 32-bit integer. */
function fmix32(x) {
  let h = x >>> 0
  h ^= h >>> 16
  h = Math.imul(h, 0x85ebca6b)
  h ^= h >>> 13
  h = Math.imul(h, 0xc2b2ae35)
  return (h ^ (h >>> 16)) >>> 0
}

/** The stream of call `index` of `seed`: mulberry32 seeded by both. */
export function rngFor(seed, index) {
  let a = fmix32(fmix32(seed) ^ Math.imul(index + 1, 0x9e3779b9))
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
  const r = {
    next,
    int: (lo, hi) => lo + Math.floor(next() * (hi - lo + 1)),
    chance: (p) => next() < p,
    pick: (list) => list[Math.floor(next() * list.length)],
  }
  return r
}

// The types and the TypedArray each is stored in come from sparsekit's own table.
export const kTypes = DTYPES
const kArrays = Object.fromEntries(DTYPES.map((t) => [t, arrayCtor(t)]))

// Sizes that pass or fail the checks cheaply: every product of these either
// stays small or is refused before anything of that size is allocated.
const kBadInts = [
  -1,
  -0,
  1.5,
  NaN,
  Infinity,
  -Infinity,
  2 ** 31,
  2 ** 32,
  2 ** 45,
  2 ** 53,
  2 ** 53 + 2,
  1e300,
  Number.MIN_VALUE,
]
const kBadScalars = [
  undefined,
  null,
  true,
  false,
  '',
  '1',
  'float32',
  'cuda',
  'cuda:7',
  'cpu',
  '__proto__',
  0n,
  10n,
  Symbol('fuzz'),
  () => 1,
  [],
  [[]],
  {},
]

/**
 * Adversarial values, fresh per call. `g.track(x)` registers what must be
 * disposed after the call; `g.made` holds it.
 */
/** A TypedArray that is not what it looks like. */
function hostileArray(rng) {
  switch (rng.int(0, 9)) {
    case 0: {
      const a = new Float32Array(8)
      structuredClone(a.buffer, { transfer: [a.buffer] })
      return a
    }
    case 1:
      return new Float32Array(new SharedArrayBuffer(16))
    case 2:
      return new Float32Array(new ArrayBuffer(16, { maxByteLength: 64 }))
    case 3:
      return vm.runInNewContext('new Float32Array(new SharedArrayBuffer(16))')
    case 4:
      return vm.runInNewContext('new Float32Array(4)')
    case 5:
      return new Float64Array(4)
    case 6:
      return new DataView(new ArrayBuffer(8))
    case 7: {
      const a = new Uint8Array(new ArrayBuffer(9), 1, 8)
      Object.defineProperty(a, 'length', { value: 1 << 30 })
      return a
    }
    case 8:
      return new BigInt64Array(2)
    default:
      return new Uint16Array(new ArrayBuffer(9), 2, 3)
  }
}

/** An object whose reads run fuzzer code that throws. */
function hostileObject(rng, sk) {
  switch (rng.int(0, 4)) {
    case 0:
      return new Proxy(
        {},
        {
          get() {
            throw new FuzzMarker('trap')
          },
          ownKeys() {
            throw new FuzzMarker('trap')
          },
          getPrototypeOf() {
            throw new FuzzMarker('trap')
          },
          has() {
            throw new FuzzMarker('trap')
          },
        },
      )
    case 1:
      return Object.defineProperty({}, 'dims', {
        enumerable: true,
        get() {
          throw new FuzzMarker('getter')
        },
      })
    case 2: {
      const r = Proxy.revocable({}, {})
      r.revoke()
      return r.proxy
    }
    case 3:
      return Object.create(null)
    default:
      return Object.create(rng.pick([sk.Tensor.prototype, sk.BlockMask.prototype, sk.SparseWeight.prototype]))
  }
}

export function makeValues(rng, sk) {
  const made = []
  const track = (x) => (made.push(x), x)

  const small = () => rng.pick([0, 1, 1, 2, 3, 4, 5, 7, 8, 16, 17, 32, 33, 64])

  function typed(type, n) {
    const Ctor = kArrays[type]
    const a = new Ctor(n)
    if (type === 'float32') for (let i = 0; i < n; i++) a[i] = rng.next() * 4 - 2
    else for (let i = 0; i < n; i++) a[i] = rng.int(0, 255)
    return a
  }

  /** A live tensor of the given type and dims (zeros, randn, a wrapped array at an odd offset, or numbers). */
  function tensor(type = rng.pick(kTypes), dims = [small(), small()]) {
    const n = dims.reduce((a, b) => a * b, 1)
    const how = rng.int(0, 3)
    if (how === 0) return track(sk.zeros(dims, type))
    if (how === 1 && type.startsWith('float') && !type.startsWith('float8'))
      return track(sk.randn(dims, { type, seed: rng.int(0, 99) }))
    if (how === 2) {
      // A view at an element offset inside a larger buffer.
      const Ctor = kArrays[type]
      const off = rng.int(0, 3)
      const a = new Ctor(
        new ArrayBuffer((n + off + rng.int(0, 2)) * Ctor.BYTES_PER_ELEMENT),
        off * Ctor.BYTES_PER_ELEMENT,
        n,
      )
      a.set(typed(type, n))
      return track(sk.tensor(a, dims, type))
    }
    return track(sk.tensor(typed(type, n), dims, type))
  }

  function disposedTensor() {
    const t = sk.zeros([2, 2])
    t.dispose()
    return t
  }

  /** Any value at all, adversarial most of the time. */
  function any() {
    switch (rng.int(0, 9)) {
      case 0:
        return rng.pick(kBadInts)
      case 1:
        return rng.pick(kBadScalars)
      case 2:
        return small()
      case 3:
        return hostileArray(rng)
      case 4:
        return hostileObject(rng, sk)
      case 5:
        return disposedTensor()
      case 6:
        return tensor()
      case 7:
        return rng.pick([
          [small(), small()],
          [rng.pick(kBadInts)],
          [2 ** 31, 2 ** 31],
          [1, -1],
          new Array(20).fill(1),
          [hostileObject(rng, sk)],
        ])
      case 8:
        return typed(rng.pick(kTypes), small())
      default:
        return rng.pick(kTypes)
    }
  }

  return {
    rng,
    made,
    track,
    small,
    typed,
    tensor,
    disposedTensor,
    any,
    hostileArray: () => hostileArray(rng),
    hostileObject: () => hostileObject(rng, sk),
  }
}

/** A short rendering of a value for crash reports. */
export function show(v, depth = 0) {
  try {
    if (v === undefined) return 'undefined'
    if (typeof v === 'bigint') return `${v}n`
    if (typeof v === 'symbol') return v.toString()
    if (typeof v === 'function') return 'fn'
    if (typeof v === 'number') return Object.is(v, -0) ? '-0' : String(v)
    if (typeof v !== 'object' || v === null) return JSON.stringify(v)
    if (ArrayBuffer.isView(v)) return `${Object.getPrototypeOf(v)?.constructor?.name ?? 'View'}(${v.byteLength}B)`
    if (typeof v.dims !== 'undefined' && typeof v.type === 'string' && typeof v.location === 'string')
      return `Tensor(${v.type}, [${v.dims}], ${v.location})`
    if (depth > 2) return '…'
    if (Array.isArray(v))
      return `[${v
        .slice(0, 6)
        .map((x) => show(x, depth + 1))
        .join(', ')}${v.length > 6 ? ', …' : ''}]`
    const name = Object.getPrototypeOf(v)?.constructor?.name
    if (name && name !== 'Object') return name
    return `{${Object.entries(v)
      .slice(0, 8)
      .map(([k, x]) => `${k}: ${show(x, depth + 1)}`)
      .join(', ')}}`
  } catch {
    return '<hostile>'
  }
}
