/**
 * `copy` suite: host→device and device→host transfers of 64 MiB and 256 MiB
 * on a CUDA device, against a host memcpy (TypedArray.set) of the same bytes
 * in the same process. Host memory is ordinary pageable JS memory, as users
 * hand it to `sk.tensor()`; pinned memory would transfer faster.
 * @internal
 * @module
 */
import { zeros } from '../../create.js'
import { cudaBinding, type DeviceBuffer } from '../../native.js'
import { liveStorage, type Tensor } from '../../tensor.js'
import { type BenchCase, type BenchSuite, fillNoise, rotationSets, type SuiteContext } from '../harness.js'

const kMiB = 1 << 20
const kSizes = [64 * kMiB, 256 * kMiB]

/** Host arrays of non-zero bytes, enough of them to exceed the CPU's caches in all. */
function hostSets(bytes: number): Uint8Array[] {
  return Array.from({ length: rotationSets(bytes) }, (_, k) => {
    const a = new Uint8Array(bytes)
    fillNoise(new Uint32Array(a.buffer), k + 1)
    return a
  })
}

function sizeCases(ctx: SuiteContext, bytes: number): BenchCase[] {
  const label = `${bytes / kMiB} MiB`
  const baseline = `host memcpy ${label}`
  let host: Uint8Array[] = []
  let dst: Uint8Array[] = []
  let dev: Tensor[] = []
  const buffer = (i: number): DeviceBuffer => {
    const s = liveStorage(dev[i % dev.length], 'dev')
    if (s.kind !== 'cuda') throw new Error('copy suite: expected device tensors')
    return s.buffer
  }
  const cuda = () => cudaBinding()!
  return [
    {
      name: baseline,
      bytes,
      async setup() {
        host = hostSets(bytes)
        dst = host.map(() => new Uint8Array(bytes).fill(1))
      },
      run: (i) => dst[i % dst.length].set(host[i % host.length]),
      teardown: () => void (dst = []),
    },
    {
      name: `host→device ${label}`,
      bytes,
      baseline,
      async setup() {
        // Two device buffers: a device's L2 does not matter for a transfer over the bus.
        dev = [0, 1].map(() => zeros([bytes], 'uint8', ctx.device))
      },
      run: (i) => cuda().copyToDevice(host[i % host.length], buffer(i), bytes),
    },
    {
      name: `device→host ${label}`,
      bytes,
      baseline,
      setup: () => void (dst = host.map(() => new Uint8Array(bytes).fill(1))),
      run: (i) => cuda().copyToHost(buffer(i), dst[i % dst.length], bytes),
      teardown() {
        for (const t of dev) t.dispose()
        dev = []
        dst = []
        host = []
      },
    },
  ]
}

/** The copy suite; see the module comment. */
export const copySuite: BenchSuite = {
  name: 'copy',
  description: 'host↔device transfers from pageable JS memory',
  bytesMeaning: 'bytes transferred (each byte once)',
  devices: ['cuda'],
  skipReason: 'host↔device transfers need a CUDA device; a CPU tensor has nothing to transfer',
  cases(ctx: SuiteContext): BenchCase[] {
    ctx.note('baseline: a host memcpy of the same bytes on the JS thread')
    return kSizes.flatMap((bytes) => sizeCases(ctx, bytes))
  },
}
