// The API fuzzer's op table: every export of sparsekit that takes arguments,
// each with a generator of well-formed arguments (small shapes, so a call
// runs in microseconds). The runner then replaces some arguments or option
// fields with adversarial values (values.mjs), so calls reach the deep checks
// as well as the first ones.

const kAttn = ['float32', 'float16', 'bfloat16']

/** Mask builders as [name, options] for a qLen × kvLen mask. */
function maskCall(g, qLen, kvLen) {
  const { rng } = g
  const blockSize = rng.chance(0.8)
    ? rng.pick([16, 32, 64, 128])
    : { q: rng.pick([16, 32]), kv: rng.pick([16, 48, 64]) }
  switch (rng.int(0, 6)) {
    case 0:
      return ['causal', { qLen, kvLen, blockSize }]
    case 1:
      return ['slidingWindow', { qLen, kvLen, window: rng.int(1, 64), blockSize }]
    case 2:
      return ['streaming', { qLen, kvLen, sink: rng.int(0, 8), local: rng.int(1, 64), blockSize }]
    case 3: {
      const lengths = Array.from({ length: rng.int(0, 4) }, () => rng.int(0, 40))
      return ['documents', { prefix: rng.int(0, 16), lengths, query: rng.int(0, 16), blockSize }]
    }
    case 4: {
      const bs = typeof blockSize === 'number' ? { q: blockSize, kv: blockSize } : blockSize
      const nq = Math.ceil(qLen / bs.q),
        nk = Math.ceil(kvLen / bs.kv)
      return ['fromDense', g.typed('uint8', nq * nk).map((b) => b & 1), [nq, nk], { qLen, kvLen, blockSize }]
    }
    case 5:
      return [
        'fromBlocks',
        (b, h, qb, kb) => ((qb + kb + b + h) & 1) === 0,
        { qLen, kvLen, blockSize, batch: rng.int(1, 2), heads: rng.int(1, 2) },
      ]
    default: {
      const perm = identity(kvLen)
      shuffle(rng, perm)
      return [
        'permutedCausal',
        { permutation: perm, dims: [1, 1, kvLen], headsQ: rng.int(1, 2), qLen: Math.min(qLen, kvLen), blockSize },
      ]
    }
  }
}

const receiver = (g) => (g.rng.chance(0.85) ? g.tensor() : g.disposedTensor())

const identity = (n) => Int32Array.from({ length: n }, (_, i) => i)
function shuffle(rng, a) {
  for (let i = a.length - 1; i > 0; i--) {
    const j = rng.int(0, i)
    ;[a[i], a[j]] = [a[j], a[i]]
  }
  return a
}

function mask(g, sk, qLen, kvLen) {
  const [name, ...args] = maskCall(g, qLen, kvLen)
  return sk.BlockMask[name](...args)
}

/** q, k, v [B, H, S, D] of one attention dtype. */
function qkv(g, type, seq = g.rng.pick([16, 33, 64, 130])) {
  const { rng } = g
  const b = rng.int(1, 2),
    hkv = rng.int(1, 2),
    hq = hkv * rng.int(1, 2),
    d = rng.pick([1, 8, 16])
  return [g.tensor(type, [b, hq, seq, d]), g.tensor(type, [b, hkv, seq, d]), g.tensor(type, [b, hkv, seq, d])]
}

const kKv = ['float32', 'float16', 'bfloat16', 'float8e4m3fn']

/** A KVCache of pages of 16 holding 1 … 40 tokens per sequence (a Promise; tracked for disposal). */
function kvCache(g, sk, b, h, d) {
  const T = g.rng.pick([1, 17, 40])
  return sk.KVCache.create({ batch: b, kvHeads: h, headDim: d, pageSize: 16, type: g.rng.pick(kKv) }).then(
    async (c) => {
      g.track(c)
      await c.append(g.tensor('float32', [b, h, T, d]), g.tensor('float32', [b, h, T, d]))
      return c
    },
  )
}

function csrWeight(g, sk, n, k) {
  return sk.sparsify(g.tensor('float32', [n, k]), { format: 'csr', sparsity: g.rng.pick([0, 0.5, 0.9]) })
}

/**
 * Each entry: (g, sk) → [args, call, fixed?]; call(sk, ...args) makes the
 * call. Args may be Promises (weights built first): the runner awaits them
 * before it replaces any but the first `fixed` (default 0).
 */
export const ops = {
  tensor: (g) => [
    [
      g.rng.chance(0.5) ? g.typed(g.rng.pick(['float32', 'int32', 'uint8']), 6) : [1, 2, 3, 4, 5, 6],
      [2, 3],
      g.rng.chance(0.5) ? undefined : 'float32',
    ],
    (sk, ...a) => sk.tensor(...a),
  ],
  tensorLike: (g) => [
    [{ type: 'float32', dims: [2, 2], data: new Float32Array(4), location: 'cpu' }],
    (sk, a) => sk.tensor(a),
  ],
  zeros: (g) => [
    [[g.small(), g.small()], g.rng.pick(['float32', 'int8', 'bfloat16']), 'cpu'],
    (sk, ...a) => sk.zeros(...a),
  ],
  randn: (g) => [
    [[g.small(), g.small()], { type: g.rng.pick(['float32', 'float16']), seed: g.rng.int(0, 9), device: 'cpu' }],
    (sk, ...a) => sk.randn(...a),
  ],
  dtypeBytes: (g) => [[g.rng.pick(['float32', 'int8'])], (sk, t) => sk.dtypeBytes(t)],
  isDType: (g) => [[g.rng.pick(['float32', 'float64'])], (sk, t) => sk.isDType(t)],
  setNumThreads: (g) => [[g.rng.int(1, 3)], (sk, n) => sk.setNumThreads(n)],
  queries: () => [[], (sk) => [sk.devices(), sk.memory(), sk.numThreads(), sk.cudaStatus()]],
  // Methods: the receiver is a tensor (live or disposed); the arguments are fuzzed.
  cast: (g) => {
    const t = receiver(g)
    return [
      [
        g.rng.pick(['float32', 'float16', 'bfloat16', 'float8e4m3fn', 'int8', 'uint8', 'int32']),
        { saturate: g.rng.chance(0.5) },
      ],
      (sk, ...a) => t.cast(...a),
    ]
  },
  to: (g) => {
    const t = receiver(g)
    return [[g.rng.pick(['cpu', 'cuda', 'cuda:1'])], (sk, d) => t.to(d)]
  },
  getData: (g) => {
    const t = receiver(g)
    return [[g.rng.chance(0.5)], (sk, r) => t.getData(r)]
  },
  attention: (g, sk) => {
    const type = g.rng.pick(['float32', 'float32', 'float16', 'bfloat16'])
    const [q, k, v] = qkv(g, type)
    const opts = { causal: g.rng.chance(0.5), scale: g.rng.chance(0.8) ? undefined : 0.5, returnLse: g.rng.chance(0.3) }
    if (g.rng.chance(0.4)) opts.mask = mask(g, sk, q.dims[2], k.dims[2])
    return [[q, k, v, opts], (sk, ...a) => sk.attention(...a)]
  },
  quantize: (g) => {
    const dims = [g.rng.int(1, 2), g.rng.int(1, 2), g.small(), g.rng.pick([1, 16, 32])]
    const opts = {
      type: g.rng.pick(['float8e4m3fn', 'float8e5m2']),
      tile: g.rng.pick([16, 32, 64]),
      smooth: g.rng.chance(0.3),
      perChannel: g.rng.chance(0.3),
    }
    return [
      [g.tensor(g.rng.pick(['float32', 'float16', 'bfloat16']), dims), opts],
      (sk, ...a) => sk.quantize(...a).then(g.track),
    ]
  },
  // FP8 attention: q, k and v quantised first (tracked), with a mask of the tile's blocks.
  fp8Attention: (g, sk) => {
    const tile = g.rng.pick([16, 32])
    const [q, k, v] = qkv(g, 'float32', g.rng.pick([16, 33, 64]))
    const quant = (t, o) => sk.quantize(t, { type: 'float8e4m3fn', tile, ...o }).then(g.track)
    const opts = { causal: g.rng.chance(0.5), returnLse: g.rng.chance(0.3) }
    if (g.rng.chance(0.4)) opts.mask = mask(g, sk, q.dims[2], k.dims[2])
    const args = [quant(q), quant(k, { smooth: g.rng.chance(0.5) }), quant(v, { perChannel: g.rng.chance(0.5) }), opts]
    return [args, (sk, ...a) => sk.attention(...a)]
  },
  mask: (g, sk) => {
    const [name, ...args] = maskCall(g, g.rng.pick([1, 16, 17, 100, 256]), g.rng.pick([1, 16, 40, 256]))
    return [args, (sk, ...a) => sk.BlockMask[name](...a)]
  },
  maskMethods: (g, sk) => {
    const a = mask(g, sk, 64, 64),
      b = mask(g, sk, 64, g.rng.pick([64, 80]))
    const method = g.rng.pick([
      'and',
      'or',
      'toDense',
      'kvIndices',
      'kvNumBlocks',
      'density',
      'rule',
      'partialKvIndices',
    ])
    return [
      [b],
      (sk, y) => (method === 'and' || method === 'or' ? a[method](y) : method === 'toDense' ? a.toDense() : a[method]),
    ]
  },
  estimateBlockMask: (g) => {
    const [q, k] = qkv(g, g.rng.pick(kAttn), g.rng.pick([32, 100, 256]))
    const method = g.rng.pick(['xattention', 'meanpool', 'topk'])
    const opts = {
      method,
      blockSize: g.rng.pick([16, 32, 64]),
      threshold: g.rng.pick([0.5, 0.9, 1]),
      causal: g.rng.chance(0.7),
    }
    if (method !== 'meanpool') opts.stride = g.rng.pick([1, 4, 8])
    if (method === 'topk') opts.budget = g.rng.int(1, 4)
    return [[q, k, opts], (sk, ...a) => sk.estimateBlockMask(...a)]
  },
  segmentPermutation: (g) => {
    const [q, k] = qkv(g, g.rng.pick(kAttn), g.rng.pick([64, 130, 256]))
    return [[q, k, { blockSize: 32, segmentSize: g.rng.pick([32, 64]) }], (sk, ...a) => sk.segmentPermutation(...a)]
  },
  permutedAttention: (g) => {
    const [q, k, v] = qkv(g, g.rng.pick(kAttn), g.rng.pick([64, 130, 256]))
    const opts = { blockSize: 32, threshold: g.rng.pick([0.5, 0.9, 1]), returnLse: g.rng.chance(0.3) }
    if (g.rng.chance(0.5)) Object.assign(opts, { method: 'pbs', segmentSize: 64 })
    else opts.budget = g.rng.pick([1, 40, 8192])
    return [[q, k, v, opts], (sk, ...a) => sk.permutedAttention(...a)]
  },
  permutedBlockAttention: (g) => {
    const [q, k, v] = qkv(g, g.rng.pick(kAttn), g.rng.pick([16, 64, 100]))
    const [b, hkv, s] = k.dims
    const indices = new Int32Array(b * hkv * s)
    for (let r = 0; r < b * hkv; r++) indices.set(shuffle(g.rng, identity(s)), r * s)
    return [
      [q, k, v, { permutation: { indices, dims: [b, hkv, s] }, returnLse: g.rng.chance(0.3) }],
      (sk, ...a) => sk.permutedBlockAttention(...a),
    ]
  },
  prune: (g) => [
    [g.tensor(g.rng.pick(kAttn), [g.small(), 4 * g.rng.int(0, 4)]), { n: g.rng.int(1, 2), m: 4 }],
    (sk, ...a) => sk.prune(...a),
  ],
  sparsify: (g, sk) => {
    const csr = g.rng.chance(0.5)
    const w = g.tensor(csr ? 'float32' : g.rng.pick(kAttn), [g.small(), 4 * g.rng.int(0, 4)])
    // Unpruned 2:4 weights are refused by the kernel while it runs: the Promise rejects.
    const src = csr || g.rng.chance(0.2) ? Promise.resolve(w) : sk.prune(w, { n: 2, m: 4 }).then(g.track)
    return [
      [
        src,
        csr
          ? { format: 'csr', sparsity: g.rng.pick([0, 0.5]), blocks: g.rng.pick(['auto', 1, 2, 4]) }
          : { format: g.rng.pick(['2:4', '1:4', '2:8']) },
      ],
      (sk, ...a) => sk.sparsify(...a),
    ]
  },
  linear: (g, sk) => {
    const n = g.rng.int(1, 17),
      k = 4 * g.rng.int(1, 8)
    const kind = g.rng.int(0, 2)
    const dense = g.tensor('float32', [n, k])
    const w =
      kind === 0
        ? Promise.resolve(dense)
        : kind === 1
          ? csrWeight(g, sk, n, k).then(g.track)
          : sk
              .prune(dense, { n: 2, m: 4 })
              .then((p) => sk.sparsify(g.track(p), { format: '2:4' }))
              .then(g.track)
    return [
      [g.tensor('float32', [g.small(), k]), w, g.rng.chance(0.5) ? g.tensor('float32', [n]) : null],
      (sk, ...a) => sk.linear(...a),
    ]
  },
  conv1x1: (g, sk) => {
    const cout = g.rng.int(1, 9),
      c = g.rng.int(1, 9)
    const x = g.tensor('float32', [g.rng.int(1, 2), c, g.small(), g.small()])
    const activation = g.rng.pick(['none', 'relu', 'relu6', { min: -1, max: 1 }])
    return [
      [
        x,
        csrWeight(g, sk, cout, c).then(g.track),
        g.rng.chance(0.5) ? g.tensor('float32', [cout]) : null,
        { activation },
      ],
      (sk, ...a) => sk.conv1x1(...a),
    ]
  },
  csrLayout: (g, sk) => [[csrWeight(g, sk, 8, 8).then(g.track)], (sk, w) => sk.csrLayout(w)],
  // A method of a weight made first (the third entry: leading arguments the runner never replaces).
  toDense: (g, sk) => {
    const w = csrWeight(g, sk, 8, 8).then((x) => (g.rng.chance(0.2) ? x.dispose() : g.track(x), x))
    return [[w], (sk, x) => x.toDense(), 1]
  },
  kvCache: (g) => {
    const o = {
      batch: g.rng.int(1, 2),
      kvHeads: g.rng.int(1, 2),
      headDim: g.rng.pick([16, 32]),
      pageSize: g.rng.pick([16, 32]),
      type: g.rng.pick(kKv),
      maxPages: g.rng.pick([undefined, 2, 64]),
    }
    return [[o], (sk, a) => sk.KVCache.create(a).then(g.track)]
  },
  // A cache made and filled first (the receiver, never replaced), then appended to.
  kvAppend: (g, sk) => {
    const [b, h, d] = [g.rng.int(1, 2), g.rng.int(1, 2), g.rng.pick([16, 32])],
      T = g.small()
    const cache = kvCache(g, sk, b, h, d)
    const type = g.rng.pick(kAttn)
    const lengths = g.rng.chance(0.5) ? undefined : Array.from({ length: b }, () => g.rng.int(0, T))
    return [
      [cache, g.tensor(type, [b, h, T, d]), g.tensor(type, [b, h, T, d]), { lengths }],
      (sk, c, ...a) => c.append(...a),
      1,
    ]
  },
  decodeAttention: (g, sk) => {
    const [b, h, d] = [g.rng.int(1, 2), g.rng.int(1, 2), g.rng.pick([16, 32])]
    const cache = kvCache(g, sk, b, h, d)
    const q = g.tensor(g.rng.pick(kAttn), [b, h * g.rng.int(1, 2), g.rng.int(1, 3), d])
    const select = g.rng.pick([
      'dense',
      undefined,
      {
        method: 'quest',
        budget: 16 * g.rng.int(1, 3),
        sink: g.rng.int(0, 20),
        recent: g.rng.int(0, 20),
        reuse: g.rng.int(1, 3),
      },
    ])
    const opts = {
      select,
      streamingHeads: g.rng.chance(0.3) ? Array.from({ length: h }, () => g.rng.int(0, 1)) : undefined,
      returnLse: g.rng.chance(0.3),
      returnPages: g.rng.chance(0.3),
    }
    return [[q, cache, opts], (sk, ...a) => sk.decodeAttention(...a)]
  },
  // Ops queued behind each other while the caller disposes inputs and
  // transfers the wrapped buffers they read.
  queued: (g, sk) => {
    const data = new Float32Array(g.rng.int(4, 1 << 16)).fill(1.5)
    const action = g.rng.int(0, 3)
    return [
      [],
      async (sk) => {
        const t = sk.tensor(data)
        const pending = [
          t.cast('float16'),
          t.cast('bfloat16'),
          sk.linear(sk.tensor(data.subarray(0, 4), [1, 4]), sk.zeros([2, 4])),
        ]
        if (action === 0) t.dispose()
        if (action === 1) structuredClone(data.buffer, { transfer: [data.buffer] })
        if (action === 2) sk.setNumThreads(g.rng.int(1, 3))
        const out = await Promise.allSettled(pending)
        for (const r of out) if (r.status === 'fulfilled') r.value.dispose()
        const failed = out.find((r) => r.status === 'rejected')
        if (failed) throw failed.reason
        t.dispose()
      },
    ]
  },
}
