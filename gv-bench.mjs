import * as sk from './dist/index.js'
const N = 4096, K = 4096, copies = 6
const res = {}
for (const type of ['float32', 'bfloat16']) {
  const ws = []
  for (let c = 0; c < copies; c++) {
    const w = sk.randn([N, K], { seed: c + 1 })
    const wt = type === 'float32' ? w : await w.cast(type)
    const p = await sk.prune(wt, { n: 2, m: 4 })
    ws.push(await sk.sparsify(p, { format: '2:4' }))
  }
  const x = sk.randn([1, K], { seed: 99 })
  for (let i = 0; i < 20; i++) (await sk.linear(x, ws[i % copies])).dispose()
  const t = []
  for (let r = 0; r < 7; r++) {
    const t0 = performance.now()
    for (let i = 0; i < 60; i++) (await sk.linear(x, ws[i % copies])).dispose()
    t.push((performance.now() - t0) / 60)
  }
  t.sort((a, b) => a - b)
  res[type] = t[3].toFixed(3)
}
console.log(JSON.stringify(res))
