/**
 * The one place an op branches on where its tensors live: the backend (the
 * native binding) that serves a device, and each operand's handle there (a
 * TypedArray on the CPU, a DeviceBuffer on CUDA). Every backend implements
 * an op's methods with the same arguments, so an op calls
 * `backendOf(device).op(...handles, args)` and has no per-device launch code;
 * what a backend can run is its own `…Pick`'s answer, asked the same way.
 * @internal
 * @module
 */
import type { Device } from '../device.js'
import { SparsekitError } from '../errors.js'
import {
  type AttentionArgs,
  type AttentionPick,
  cpuBinding,
  cudaBinding,
  type DeviceBuffer,
  type GatherRowsArgs,
  type NativeMask,
} from '../native.js'
import type { Storage } from '../tensor.js'

/** An operand as a backend takes it. */
export type Handle = ArrayBufferView | DeviceBuffer

/** The op methods every backend implements alike (see csrc/addon and cuda/binding). */
export interface Backend {
  attentionPick(args: AttentionArgs, mask: NativeMask | null): AttentionPick
  attention(
    q: Handle,
    k: Handle,
    v: Handle,
    out: Handle,
    lse: Handle | null,
    args: AttentionArgs,
    mask: NativeMask | null,
  ): Promise<void>
  gatherRows(src: Handle, idx: Int32Array, dst: Handle, args: GatherRowsArgs): Promise<void>
}

/** The device a tensor's storage is on. */
export const deviceOf = (s: Storage): Device => (s.kind === 'cpu' ? { kind: 'cpu' } : { kind: 'cuda', index: s.index })

/** A storage's handle for its backend. */
export const handleOf = (s: Storage): Handle => (s.kind === 'cpu' ? (s.data as ArrayBufferView) : s.buffer)

/** The binding that runs ops on `device`. */
export function backendOf(device: Device): Backend {
  if (device.kind === 'cpu') return cpuBinding() as unknown as Backend
  const cuda = cudaBinding()
  // A CUDA tensor exists only where the addon loaded; kept as a coded error, never a crash.
  if (!cuda)
    throw new SparsekitError('ERR_SK_DEVICE', `Expected the CUDA addon for cuda:${device.index} but it is not loaded`)
  return cuda as unknown as Backend
}
