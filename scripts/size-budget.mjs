#!/usr/bin/env node
// The size budget of hand-written source (STYLE.md: small files, short
// functions): files ≤ 400 lines, functions ≤ 80 lines, lines ≤ 120
// characters. A ratchet: scripts/size-budget.json lists today's exceptions
// with their sizes; an exception may shrink (or go), never grow, and
// anything not listed must comply.
//
//   node scripts/size-budget.mjs            check (exit 1 on growth or a new exception)
//   node scripts/size-budget.mjs --update   rewrite the baseline from the tree as it is
//
// Run --update only to take in what the budget did not see (a merge of
// branches older than it, a reformat); say so in the commit. Files come from
// git (tracked and untracked-but-not-ignored), so new files are covered.
// Functions are found by a brace scanner: a `{` whose header has a
// parameter list and is not a control statement opens one (C++, CUDA, TS);
// the function runs to its matching `}`, nested functions and lambdas
// included.
import { execFileSync } from 'node:child_process'
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = fileURLToPath(new URL('..', import.meta.url))
const baselinePath = join(root, 'scripts', 'size-budget.json')
const kMaxFileLines = 400
const kMaxFunctionLines = 80
const kMaxLineChars = 120
const kCode = /\.(cc|h|cu|cuh|inc|ts|mts|mjs|js|sh)$/
// Generated or vendored: cuda/*/inst (gen_inst.mjs), SIMDe's shim.
const kSkip = [/^cuda\/[^/]+\/inst\//, /^test\/native\/simde\//]
const kControl = new Set(['if', 'for', 'while', 'switch', 'catch', 'do', 'else', 'return', 'sizeof', 'defined'])

function files() {
  const out = execFileSync('git', ['ls-files', '--cached', '--others', '--exclude-standard'], {
    cwd: root,
    encoding: 'utf8',
  })
  return [...new Set(out.split('\n'))].filter((f) => kCode.test(f) && !kSkip.some((r) => r.test(f))).sort()
}

// Lines with comments and string / character literals blanked, so braces in them do not count.
function codeOnly(text) {
  let out = ''
  let state = 'code'
  for (let i = 0; i < text.length; ++i) {
    const c = text[i]
    const n = text[i + 1]
    if (state === 'code') {
      if (c === '/' && n === '/') state = 'line'
      else if (c === '/' && n === '*') state = 'block'
      else if (c === '"' || c === "'" || c === '`') state = c
      out += state === 'code' ? c : c === '\n' ? '\n' : ' '
    } else if (state === 'line') {
      if (c === '\n') state = 'code'
      out += c === '\n' ? '\n' : ' '
    } else if (state === 'block') {
      if (c === '*' && n === '/') ((state = 'code'), (out += '  '), ++i)
      else out += c === '\n' ? '\n' : ' '
    } else {
      if (c === '\\') ((out += '  '), ++i)
      else {
        if (c === state || (c === '\n' && state !== '`')) state = 'code'
        out += c === '\n' ? '\n' : ' '
      }
    }
  }
  return out
}

const ts0 = (path) => /\.(ts|mts|mjs|js)$/.test(path)

// The function a header (the code since the last ; { or }) opens, or null.
function functionName(header) {
  const h = header
    .replace(/\s+/g, ' ')
    .trim()
    .replace(/^template ?<([^<>]|<[^<>]*>)*> ?/, '')
  const container =
    /^((export|default|abstract|declare)\s+)*(namespace|struct|class|enum|union|interface|extern|module)\b/
  if (!h.includes('(') || container.test(h)) return null
  if (/^describe\b/.test(h)) return null // a test suite groups its tests, each counted on its own
  const m = /([A-Za-z_~][\w:~<>]*|operator\S+)\s*\(/.exec(
    h.replace(/=>\s*$/, '').replace(/__launch_bounds__\([^)]*\)/, ''),
  )
  if (!m) return null
  const name = m[1].replace(/<.*$/, '')
  if (kControl.has(name) || /^(if|for|while|switch|catch)\b/.test(h)) return null
  if (/=\s*\[/.test(h) && !/=>/.test(h)) return null // a C++ lambda assigned inside a function
  return name
}

function measure(path) {
  const text = readFileSync(join(root, path), 'utf8')
  const lines = text.split('\n')
  if (lines.at(-1) === '') lines.pop()
  const result = { lines: lines.length, longLines: 0, functions: [] }
  for (const l of lines) if ([...l].length > kMaxLineChars) ++result.longLines
  if (!/\.(cc|h|cu|cuh|ts|mts|mjs|js)$/.test(path)) return result
  // C++: preprocessor lines (and their continuations) are not code for the scanner.
  const code = ts0(path)
    ? codeOnly(text)
    : codeOnly(text).replace(/^[ \t]*#(?:[^\n]*\\\n)*[^\n]*/gm, (m) => m.replace(/[^\n]/g, ' '))
  const ts = /\.(ts|mts|mjs|js)$/.test(path) // no semicolons: a line with balanced parentheses ends a statement
  let depth = 0
  let header = ''
  let line = 1
  let headerLine = 1
  let open = null // { name, depth, start }
  for (const c of code) {
    if (c === '\n') {
      ++line
      if (ts && header.split('(').length <= header.split(')').length && !/=>\s*$/.test(header)) header = ''
    }
    if (c === '{') {
      const name = open ? null : functionName(header)
      if (name) open = { name, depth, start: headerLine }
      ++depth
      header = ''
    } else if (c === '}') {
      --depth
      if (open && depth === open.depth) {
        result.functions.push({ name: open.name, lines: line - open.start + 1 })
        open = null
      }
      header = ''
    } else if (c === ';') {
      header = ''
    } else {
      if (header.trim() === '' && c.trim() !== '') headerLine = line
      header += c
    }
  }
  return result
}

function current() {
  const found = { files: {}, functions: {}, longLines: {} }
  for (const f of files()) {
    const m = measure(f)
    if (m.lines > kMaxFileLines) found.files[f] = m.lines
    if (m.longLines > 0) found.longLines[f] = m.longLines
    const seen = {}
    for (const fn of m.functions) {
      if (fn.lines <= kMaxFunctionLines) continue
      const key = `${f}:${fn.name}`
      const id = seen[key] ? `${key}#${++seen[key]}` : ((seen[key] = 1), key)
      found.functions[id] = fn.lines
    }
  }
  return found
}

const now = current()
if (process.argv.includes('--update')) {
  writeFileSync(baselinePath, JSON.stringify(now, null, 2) + '\n')
  console.log(
    `size budget: baseline written (${Object.keys(now.files).length} files, ${Object.keys(now.functions).length} functions, ${Object.keys(now.longLines).length} files with long lines)`,
  )
  process.exit(0)
}
const base = JSON.parse(readFileSync(baselinePath, 'utf8'))
const what = {
  files: `lines (max ${kMaxFileLines})`,
  functions: `lines (max ${kMaxFunctionLines})`,
  longLines: `lines over ${kMaxLineChars} characters`,
}
const problems = []
for (const kind of ['files', 'functions', 'longLines'])
  for (const [id, size] of Object.entries(now[kind])) {
    const allowed = base[kind]?.[id]
    if (allowed === undefined) problems.push(`${id}: ${size} ${what[kind]}, not in the baseline`)
    else if (size > allowed) problems.push(`${id}: ${size} ${what[kind]}, grew from ${allowed}`)
  }
const shrunk = ['files', 'functions', 'longLines'].flatMap((k) =>
  Object.entries(base[k] ?? {})
    .filter(([id, size]) => (now[k][id] ?? 0) < size)
    .map(([id]) => id),
)
if (shrunk.length)
  console.log(`size budget: ${shrunk.length} exceptions shrank or went; run with --update to lock that in`)
if (problems.length) {
  console.log(`size budget: ${problems.length} problems:\n  ${problems.join('\n  ')}`)
  process.exit(1)
}
console.log('size budget: ok')
