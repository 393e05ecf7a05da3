// The attention case table: the edge cases the tests name, and the shapes the
// `attention` bench suite times (imported from the suite, so what is fast is
// also what is tested). Each case's token-level visibility is written here
// from the builders' definitions (docs/attention.md), not from the mask code.
import {
  type AttentionCase,
  cpuBenchCases,
  cudaBenchCases,
  type MaskSpec,
  randomTileKept,
  tileSizes,
} from '../../lib/bench/suites/attention.js'

export { type AttentionCase, buildMask, type MaskSpec } from '../../lib/bench/suites/attention.js'

/** Whether query i of head h sees key j (batch never matters for these masks). */
export type Visible = (h: number, i: number, j: number) => boolean

/** Token-level visibility of a case: its mask's definition, ANDed with the op's causal flag. */
export function visibility(c: AttentionCase): Visible {
  const offset = c.seqKv - c.seqQ // bottom-right alignment
  const tiles = tileSizes(c)
  const m: MaskSpec | undefined = c.mask
  const byMask: Visible = !m
    ? () => true
    : m.kind === 'causal'
      ? (_h, i, j) => j <= i + offset
      : m.kind === 'sliding'
        ? (_h, i, j) => j <= i + offset && i + offset - m.window < j
        : m.kind === 'streaming'
          ? (_h, i, j) => j <= i + offset && (j < m.sink || i + offset - j < m.local)
          : m.kind === 'documents'
            ? documentVisibility(m)
            : (h, i, j) => randomTileKept(m, h, Math.floor(i / tiles.q), Math.floor(j / tiles.kv))
  return c.causal ? (h, i, j) => j <= i + offset && byMask(h, i, j) : byMask
}

/** BlockRank: causal, and key j in the prefix, or i and j in one document, or i in the query segment. */
function documentVisibility(m: Extract<MaskSpec, { kind: 'documents' }>): Visible {
  const total = m.prefix + m.lengths.reduce((a, b) => a + b, 0) + m.query
  const seg = new Int32Array(total) // -1 prefix, -2 query, else the document's index
  let at = 0
  for (; at < m.prefix; ++at) seg[at] = -1
  m.lengths.forEach((n, d) => {
    for (let e = at + n; at < e; ++at) seg[at] = d
  })
  for (; at < total; ++at) seg[at] = -2
  return (_h, i, j) => j <= i && (seg[j] === -1 || seg[i] === -2 || seg[i] === seg[j])
}

const f32 = 'float32' as const
const base = { batch: 1, headsQ: 2, headsKv: 2, seqQ: 130, seqKv: 130, headDim: 64, type: f32 }

/** Edge cases, by name (XNNPACK's tester style): each runs against the float64 reference. */
export const kEdgeCases: readonly AttentionCase[] = [
  { ...base, name: 'one query token', seqQ: 1, seqKv: 300 },
  { ...base, name: 'one query token, causal (sees every key)', seqQ: 1, seqKv: 300, causal: true },
  { ...base, name: 'one key token', seqQ: 50, seqKv: 1 },
  {
    ...base,
    name: 'seqlen not a multiple of the block: 1000 tokens, block 128',
    seqQ: 1000,
    seqKv: 1000,
    headsQ: 1,
    headsKv: 1,
    mask: { kind: 'causal' },
  },
  { ...base, name: 'dense 1000 tokens (not a multiple of any tile)', seqQ: 1000, seqKv: 1000, headsQ: 1, headsKv: 1 },
  { ...base, name: 'causal flag, Sq = Skv', causal: true },
  { ...base, name: 'Sq < Skv causal (chunked prefill, bottom-right)', seqQ: 100, seqKv: 333, causal: true },
  { ...base, name: 'Sq < Skv BlockMask.causal', seqQ: 100, seqKv: 333, mask: { kind: 'causal' }, blockSize: 64 },
  { ...base, name: 'Sq > Skv causal: the first Sq - Skv rows see nothing', seqQ: 200, seqKv: 90, causal: true },
  {
    ...base,
    name: 'fully masked rows: random tiles without the diagonal',
    seqQ: 256,
    seqKv: 256,
    headsQ: 4,
    headsKv: 4,
    blockSize: 64,
    mask: { kind: 'random', density: 0.25, seed: 3, diagonal: false },
  },
  { ...base, name: 'GQA 8:1 (16 query heads, 2 key heads)', headsQ: 16, headsKv: 2, headDim: 32 },
  { ...base, name: 'MQA (8 query heads, 1 key head), causal', headsQ: 8, headsKv: 1, causal: true },
  { ...base, name: 'batch 3, GQA 2:1, causal', batch: 3, headsQ: 4, headsKv: 2, causal: true },
  {
    ...base,
    name: 'batch 3, per-head random mask broadcast over batch',
    batch: 3,
    headsQ: 2,
    headsKv: 1,
    seqQ: 200,
    seqKv: 200,
    blockSize: 32,
    mask: { kind: 'random', density: 0.4, seed: 11 },
  },
  {
    ...base,
    name: 'sliding window 100, block 32',
    seqQ: 300,
    seqKv: 300,
    mask: { kind: 'sliding', window: 100 },
    blockSize: 32,
  },
  {
    ...base,
    name: 'streaming: sink 4, local 64, block 16',
    seqQ: 300,
    seqKv: 300,
    mask: { kind: 'streaming', sink: 4, local: 64 },
    blockSize: 16,
  },
  {
    ...base,
    name: 'random tiles (fromBlocks), block 16',
    seqQ: 160,
    seqKv: 160,
    mask: { kind: 'random', density: 0.3, seed: 5 },
    blockSize: 16,
  },
  {
    ...base,
    name: 'random tiles through fromDense bits, block 48',
    seqQ: 200,
    seqKv: 200,
    mask: { kind: 'randomDense', density: 0.3, seed: 5 },
    blockSize: 48,
  },
  {
    ...base,
    name: 'random tiles ANDed with the causal flag',
    seqQ: 256,
    seqKv: 256,
    mask: { kind: 'random', density: 0.5, seed: 9 },
    blockSize: 64,
    causal: true,
  },
  {
    ...base,
    name: 'block 256 (the largest tile)',
    seqQ: 600,
    seqKv: 600,
    headsQ: 1,
    headsKv: 1,
    mask: { kind: 'sliding', window: 300 },
    blockSize: 256,
  },
  {
    ...base,
    name: 'documents: prefix 40, 5 documents, query 60, block 32',
    seqQ: 400,
    seqKv: 400,
    blockSize: 32,
    mask: { kind: 'documents', prefix: 40, lengths: [100, 7, 0, 120, 73], query: 60 },
  },
  {
    ...base,
    name: 'query and key tiles of different sizes (64 × 32), random',
    seqQ: 300,
    seqKv: 260,
    blockSize: { q: 64, kv: 32 },
    mask: { kind: 'random', density: 0.35, seed: 2, diagonal: false },
  },
  { ...base, name: 'bshd layout', headsQ: 4, headsKv: 2, seqQ: 70, seqKv: 90, layout: 'bshd', causal: true },
]

/** Every head dim the kernels are specified for, in float32 and bfloat16. */
export const kHeadDims = [32, 64, 80, 96, 128, 256] as const
export const kHeadDimCases: readonly AttentionCase[] = (['float32', 'bfloat16'] as const).flatMap((type) =>
  kHeadDims.map((d) => ({
    ...base,
    name: `head dim ${d}, ${type}, causal`,
    headDim: d,
    type,
    seqQ: 77,
    seqKv: 140,
    causal: true,
  })),
)

/** Every dtype on a GQA, masked, odd-length problem. */
export const kDTypeCases: readonly AttentionCase[] = (['float32', 'float16', 'bfloat16'] as const).flatMap((type) => [
  {
    ...base,
    name: `${type}: GQA 2:1, sliding window, 257 tokens`,
    type,
    headsQ: 4,
    headsKv: 2,
    seqQ: 257,
    seqKv: 257,
    mask: { kind: 'sliding', window: 64 } as MaskSpec,
    blockSize: 32,
  },
  { ...base, name: `${type}: dense, Sq ≠ Skv`, type, seqQ: 90, seqKv: 200 },
])

/** The bench suite's CPU rows at the smallest S; tests sample rows of them (full references would take minutes). */
export const kBenchCpuCases: readonly AttentionCase[] = cpuBenchCases(true).filter((c) => c.seqQ === 1024)
/** The bench suite's CUDA rows at the smallest S. */
export const kBenchCudaCases: readonly AttentionCase[] = cudaBenchCases(true).filter((c) => c.seqQ === 4096)
