/**
 * Live-tensor accounting per device, and the GC backstop that frees device
 * memory of tensors that were never disposed.
 * @module
 */
import { cpuBinding, cudaBinding, type DeviceBuffer } from './native.js'

interface Counter {
  tensors: number
  bytes: number
}
const live = new Map<string, Counter>()

/** What a finalizer needs to undo one tensor's accounting. @internal */
export interface Held {
  device: string
  bytes: number
  buffer?: DeviceBuffer
}

const backstop = new FinalizationRegistry<Held>((held) => {
  untrack(held)
  held.buffer?.free()
})

/** Counts a new tensor and registers its GC backstop; `token` unregisters it. @internal */
export function track(owner: object, held: Held, token: object): void {
  const c = live.get(held.device) ?? { tensors: 0, bytes: 0 }
  c.tensors += 1
  c.bytes += held.bytes
  live.set(held.device, c)
  backstop.register(owner, held, token)
}

/** Undoes {@link track} when a tensor is disposed. @internal */
export function untrack(held: Held, token?: object): void {
  if (token) backstop.unregister(token)
  const c = live.get(held.device)
  if (!c) return
  c.tensors -= 1
  c.bytes -= held.bytes
}

/** Per-device memory figures. */
export interface MemoryInfo {
  /** Tensors created and not yet disposed (or collected). */
  tensors: number
  /** Their bytes. */
  bytes: number
  /** CPU: bytes in blocks sparsekit allocated (its tensors, not wrapped arrays). CUDA: bytes handed out by the caching allocator. */
  nativeBytes: number
  /**
   * Bytes of freed blocks held for reuse. CUDA: the caching allocator's. CPU:
   * freed blocks of 4 KiB or more, 256 MiB in all, kept for a later tensor of
   * the same size class (a block returned to the OS comes back as fresh pages,
   * a page fault each); see docs/safety.md, "Memory sparsekit owns".
   */
  cachedBytes?: number
}

/**
 * Live tensors and bytes per device: `{ cpu: {...}, 'cuda:0': {...} }`.
 * Leak tests compare two snapshots around a piece of work.
 *
 * @example
 * ```ts
 * const before = sk.memory().cpu.tensors
 * using t = sk.zeros([1024])
 * console.log(sk.memory().cpu.tensors - before) // 1
 * ```
 */
export function memory(): Record<string, MemoryInfo> {
  const out: Record<string, MemoryInfo> = {}
  const cpu = live.get('cpu') ?? { tensors: 0, bytes: 0 }
  const host = cpuBinding().hostStats()
  out.cpu = { ...cpu, nativeBytes: host.bytes, cachedBytes: host.cachedBytes }
  const cuda = cudaBinding()
  const status = cuda?.status()
  if (cuda && status?.available) {
    for (let i = 0; i < status.deviceCount; ++i) {
      const name = `cuda:${i}`
      const m = cuda.memory(i)
      out[name] = {
        ...(live.get(name) ?? { tensors: 0, bytes: 0 }),
        nativeBytes: m.allocatedBytes,
        cachedBytes: m.cachedBytes,
      }
    }
  }
  return out
}
