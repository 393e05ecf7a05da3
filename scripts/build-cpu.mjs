#!/usr/bin/env node
// `npm run build:cpu`: builds the CPU addon (build/Release/sparsekit.node) and
// the native tests with node-gyp, incrementally (configure, then build).
//
// node-gyp downloads Node's headers from nodejs.org unless it is told where
// local ones are, and whether it is told depends on the user's npmrc. This
// always tells it: the running node's own headers (<prefix>/include/node, as
// the official Node builds install them), or npm_config_nodedir when that is a
// directory with headers. Where neither exists it stops and says so; it never
// downloads.
import { spawnSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = fileURLToPath(new URL('..', import.meta.url))

/** A node dir node-gyp can build against: it holds include/node/common.gypi and node_api.h. */
function hasHeaders(dir) {
  return Boolean(dir) && ['common.gypi', 'node_api.h'].every((f) => existsSync(join(dir, 'include', 'node', f)))
}

/** The headers to build against, for `--nodedir` / npm_config_nodedir; throws when there are none. */
export function nodeHeadersDir() {
  const own = dirname(dirname(process.execPath))
  if (hasHeaders(own)) return own
  const configured = process.env.npm_config_nodedir
  if (hasHeaders(configured)) return configured
  throw new Error(
    `no Node headers next to this node (${join(own, 'include', 'node')})` +
      (configured ? ` nor in npm_config_nodedir (${configured})` : '') +
      '; use a Node install that has them (the official builds do) or set npm_config_nodedir to one; ' +
      'sparsekit never downloads them',
  )
}

function main() {
  const nodedir = nodeHeadersDir()
  const gyp = join(root, 'node_modules', 'node-gyp', 'bin', 'node-gyp.js')
  for (const args of [['configure'], ['build', '--jobs', process.env.JOBS ?? 'max']]) {
    const r = spawnSync(process.execPath, [gyp, ...args, `--nodedir=${nodedir}`], { cwd: root, stdio: 'inherit' })
    if (r.status !== 0)
      throw new Error(`node-gyp ${args[0]} failed (${r.error?.message ?? `exit ${r.status ?? r.signal}`})`)
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  try {
    main()
  } catch (err) {
    console.error(`build-cpu: error: ${err.message}`)
    process.exit(1)
  }
}
