/**
 * The suites `sparsekit bench` runs, in order. An op module adds its suite
 * here (one line) so the list stays the single place to look.
 * @internal
 * @module
 */
import { registerSuite } from '../harness.js'
import { attentionSuite } from './attention.js'
import { castSuite } from './cast.js'
import { copySuite } from './copy.js'
import { spmmSuite } from './spmm.js'
import { linearSuite } from './linear.js'
import { prefillSuite } from './prefill.js'
import { decodeSuite } from './decode.js'
import { fp8Suite } from './fp8.js'
import { userSuite } from './user.js'

/** Registers the built-in suites once; later calls do nothing. */
export function registerBuiltinSuites(): void {
  if (registered) return
  registered = true
  registerSuite(castSuite)
  registerSuite(copySuite)
  registerSuite(attentionSuite)
  registerSuite(spmmSuite)
  registerSuite(linearSuite)
  registerSuite(prefillSuite)
  registerSuite(decodeSuite)
  registerSuite(fp8Suite)
  registerSuite(userSuite)
}
let registered = false
