/**
 * Seeded standard-normal samples. Counter-based: sample i depends only on
 * (seed, i), so every device and every chunking gives the same values. The
 * math runs in JS (V8's fdlibm-derived log/sin/cos give the same bits on x64
 * and arm64) and is rounded once to float32.
 * @internal
 * @module
 */

const kTwoPi = 2 * Math.PI
const kInv2p24 = 1 / 16777216

/** murmur3's 32-bit finalizer: spreads every input bit over the output. */
export function fmix32(x: number): number {
  let h = x >>> 0
  h ^= h >>> 16
  h = Math.imul(h, 0x85ebca6b)
  h ^= h >>> 13
  h = Math.imul(h, 0xc2b2ae35)
  h ^= h >>> 16
  return h >>> 0
}

/** A cheap, well-mixed hash of (seed, counter). */
function hash32(seed: number, counter: number): number {
  return fmix32(Math.imul(counter ^ 0x9e3779b9, 0x85ebca6b) ^ seed)
}

/** Fills `out` with N(0, 1) samples (Box–Muller on pairs of uniforms). */
export function fillRandn(out: Float32Array, seed: number): void {
  const s = hash32(seed >>> 0, 0x5eed) // spread nearby seeds apart
  for (let i = 0; i < out.length; i += 2) {
    const u1 = ((hash32(s, i) >>> 8) + 1) * kInv2p24 // (0, 1]: log stays finite
    const u2 = (hash32(s, i + 1) >>> 8) * kInv2p24
    const r = Math.sqrt(-2 * Math.log(u1))
    out[i] = r * Math.cos(kTwoPi * u2)
    if (i + 1 < out.length) out[i + 1] = r * Math.sin(kTwoPi * u2)
  }
}
