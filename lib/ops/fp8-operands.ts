/**
 * attention()'s side of FP8 (docs/fp8.md): the codes and scales of three
 * QuantizedTensors, checked against each other, as the native args take them.
 * @internal
 * @module
 */
import { dtypeError, invalidArgument } from '../errors.js'
import type { Fp8Args } from '../native.js'
import type { Tensor } from '../tensor.js'
import { checkQuantized, QuantizedTensor } from './quantize.js'

/**
 * attention()'s quantised operands: null when none of q, k, v is a
 * QuantizedTensor; else their codes and scales (one tile; q and k per tile,
 * v per channel, broadcast from per tile if need be; only k smoothed), or a
 * coded error for a mix or anything the FP8 kernel does not take.
 * @internal
 */
export function fp8Operands(
  q: unknown,
  k: unknown,
  v: unknown,
): { tensors: [Tensor, Tensor, Tensor]; fp8: Fp8Args } | null {
  const all = [q, k, v]
  const names = ['q', 'k', 'v'] as const
  const first = all.findIndex((x) => x instanceof QuantizedTensor)
  if (first < 0) return null
  for (let i = 0; i < 3; ++i)
    if (!(all[i] instanceof QuantizedTensor))
      throw dtypeError(
        names[i],
        `a QuantizedTensor (${names[first]} is quantised: quantise all of q, k and v, or none)`,
        all[i],
      )
  const [qq, kq, vq] = all.map((x, i) => checkQuantized(names[i], x))
  if (kq.tile !== qq.tile || vq.tile !== qq.tile)
    throw invalidArgument('k.tile and v.tile', `q's tile (${qq.tile} tokens)`, [kq.tile, vq.tile])
  if (qq.perChannel || kq.perChannel)
    throw invalidArgument(qq.perChannel ? 'q' : 'k', 'one scale per tile (perChannel is for v)', 'per-channel scales')
  if (qq.mean || vq.mean)
    throw invalidArgument(qq.mean ? 'q' : 'v', 'a QuantizedTensor without smooth (smooth is for k)', 'a smoothed one')
  let vScale = vq.scales.data as Float32Array
  if (!vq.perChannel) {
    const D = vq.dims[3]
    const perTile = vScale
    vScale = new Float32Array(perTile.length * D)
    for (let t = 0; t < perTile.length; ++t) vScale.fill(perTile[t], t * D, (t + 1) * D)
  }
  const fp8: Fp8Args = {
    tile: qq.tile,
    qScale: qq.scales.data as Float32Array,
    kScale: kq.scales.data as Float32Array,
    vScale,
    kMean: kq.mean ? (kq.mean.data as Float32Array) : null,
  }
  return { tensors: [qq.codes, kq.codes, vq.codes], fp8 }
}
