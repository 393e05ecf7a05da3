#!/usr/bin/env node
// Lists the sections of a CUDA cubin (an ELF file) as "name size sha256", one
// per line, and with --symbols the functions it holds code for (the names of
// its .text.<name> sections: kernels, whatever their linkage, and device
// functions not inlined) instead. scripts/cuda-sass-diff.sh uses it to say which kernels of two
// builds differ when their cubins are not byte-identical; no CUDA tool
// (cuobjdump, nvdisasm) is needed.
import { createHash } from 'node:crypto'
import { readFileSync } from 'node:fs'

const [file, flag] = process.argv.slice(2)
if (!file) {
  console.error('usage: cubin-sections.mjs FILE.cubin [--symbols]')
  process.exit(2)
}
const buf = readFileSync(file)
if (buf.readUInt32BE(0) !== 0x7f454c46 || buf[4] !== 2 || buf[5] !== 1) {
  console.error(`${file}: not a little-endian ELF64 file`)
  process.exit(1)
}
const shoff = Number(buf.readBigUInt64LE(0x28))
const shentsize = buf.readUInt16LE(0x3a)
const shnum = buf.readUInt16LE(0x3c)
const shstrndx = buf.readUInt16LE(0x3e)
const sections = []
for (let i = 0; i < shnum; ++i) {
  const at = shoff + i * shentsize
  sections.push({
    nameAt: buf.readUInt32LE(at),
    type: buf.readUInt32LE(at + 4),
    offset: Number(buf.readBigUInt64LE(at + 0x18)),
    size: Number(buf.readBigUInt64LE(at + 0x20)),
  })
}
const cstr = (table, at) => {
  const start = sections[table].offset + at
  return buf.toString('latin1', start, buf.indexOf(0, start))
}
const kNoBits = 8 // SHT_NOBITS: no bytes in the file (.bss, .nv.shared.*)

if (flag === '--symbols') {
  for (const s of sections) {
    const name = cstr(shstrndx, s.nameAt)
    if (name.startsWith('.text.')) console.log(name.slice('.text.'.length))
  }
} else {
  for (const s of sections) {
    const name = cstr(shstrndx, s.nameAt)
    if (!name) continue
    const bytes = s.type === kNoBits ? Buffer.alloc(0) : buf.subarray(s.offset, s.offset + s.size)
    console.log(`${name} ${s.size} ${createHash('sha256').update(bytes).digest('hex').slice(0, 16)}`)
  }
}
