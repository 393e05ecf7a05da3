/**
 * A hand-written SVG bar chart of one suite's throughput: one horizontal bar
 * per case (horizontal so long case names stay readable), an x axis with
 * round ticks, the value and the baseline ratio at each bar's end.
 * @internal
 * @module
 */
import type { BenchRow, SuiteResult } from './harness.js'

const kFont = 12 // px
const kCharWidth = 7.2 // px per character of the 12 px sans font, a safe over-estimate
const kRow = 26 // px per bar
const kBar = 16 // px bar thickness
const kPlotWidth = 440 // px of the bar area
const kColor = '#3b6fb6'
const kBaselineColor = '#9aa3ad'

/** The quantity a chart shows, picked from what the rows report. */
interface Metric {
  unit: string
  value(r: BenchRow): number
}

function metricOf(rows: readonly BenchRow[]): Metric {
  if (rows.some((r) => r.gbps !== undefined)) return { unit: 'GB/s', value: (r) => r.gbps ?? 0 }
  if (rows.some((r) => r.gflops !== undefined)) return { unit: 'GFLOP/s', value: (r) => r.gflops ?? 0 }
  return { unit: 'runs/s', value: (r) => 1000 / r.medianMs }
}

/** Escapes text for SVG content and attributes. */
export function escapeXml(s: string): string {
  return s.replace(
    /[<>&'"]/g,
    (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', "'": '&apos;', '"': '&quot;' })[c] as string,
  )
}

/** A step of 1, 2 or 5 × 10^k that splits [0, max] into about `count` intervals. */
export function niceStep(max: number, count = 5): number {
  if (!(max > 0)) return 1
  const raw = max / count
  const mag = 10 ** Math.floor(Math.log10(raw))
  const f = raw / mag
  return (f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10) * mag
}

const fmt = (v: number): string =>
  v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v >= 1 ? v.toFixed(2) : v.toPrecision(2)

/**
 * Renders a suite result as a standalone SVG document.
 * @param subtitle - lines under the title: the device, e.g. `cpu (AMD EPYC, avx2, 2 threads)`, then the suite's notes.
 */
export function renderSvg(result: SuiteResult, subtitle: readonly string[]): string {
  const rows = result.rows
  const metric = metricOf(rows)
  const baselines = new Set(rows.map((r) => r.baseline).filter((b): b is string => b !== undefined))
  const maxValue = Math.max(0, ...rows.map(metric.value).filter(Number.isFinite))
  const step = niceStep(maxValue)
  const axisMax = Math.max(step, Math.ceil(maxValue / step) * step)
  const labelWidth = Math.ceil(Math.max(8, ...rows.map((r) => r.name.length)) * kCharWidth) + 16
  const valueWidth = 150 // room for "123.4 GB/s · 0.83×" past the longest bar
  const top = 44 + subtitle.length * 17
  const width = labelWidth + kPlotWidth + valueWidth
  const plotBottom = top + rows.length * kRow
  const height = plotBottom + 46
  const x = (v: number) => labelWidth + (v / axisMax) * kPlotWidth

  const out: string[] = []
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" ` +
      `font-family="system-ui, -apple-system, 'Segoe UI', sans-serif" font-size="${kFont}">`,
    `<rect width="100%" height="100%" fill="#ffffff"/>`,
    `<text x="12" y="22" font-size="15" font-weight="600">${escapeXml(`${result.suite}${result.quick ? ' (quick)' : ''}: ${result.description}`)}</text>`,
    ...subtitle.map((line, i) => `<text x="12" y="${42 + i * 17}" fill="#555">${escapeXml(line)}</text>`),
  )
  // Gridlines and tick labels first, so bars draw over them.
  for (let v = 0; v <= axisMax + step / 2; v += step) {
    const gx = x(v).toFixed(1)
    out.push(
      `<line x1="${gx}" y1="${top - 4}" x2="${gx}" y2="${plotBottom}" stroke="${v === 0 ? '#333' : '#e3e3e3'}"/>`,
      `<text x="${gx}" y="${plotBottom + 16}" text-anchor="middle" fill="#333">${fmt(v)}</text>`,
    )
  }
  out.push(
    `<line x1="${labelWidth}" y1="${plotBottom}" x2="${labelWidth + kPlotWidth}" y2="${plotBottom}" stroke="#333"/>`,
    `<text x="${labelWidth + kPlotWidth / 2}" y="${plotBottom + 36}" text-anchor="middle" fill="#333">` +
      `${escapeXml(`${metric.unit} (median; whiskers p10–p90; grey = baseline)`)}</text>`,
  )
  rows.forEach((r, i) => {
    const y = top + i * kRow + (kRow - kBar) / 2
    const v = metric.value(r)
    const w = Number.isFinite(v) ? Math.max(1, x(v) - labelWidth) : 0
    const cy = (y + kBar / 2).toFixed(1)
    out.push(
      `<text x="${labelWidth - 8}" y="${cy}" dy="0.35em" text-anchor="end">${escapeXml(r.name)}</text>`,
      `<rect x="${labelWidth}" y="${y.toFixed(1)}" width="${w.toFixed(1)}" height="${kBar}" fill="${baselines.has(r.name) ? kBaselineColor : kColor}">` +
        `<title>${escapeXml(`${r.name}: median ${r.medianMs.toFixed(3)} ms over ${r.runs} runs`)}</title></rect>`,
    )
    // Every metric is work ÷ time, so the p90 time gives the low end and the p10 time the high end.
    const lo = (v * r.medianMs) / r.p90Ms
    const hi = (v * r.medianMs) / r.p10Ms
    if (Number.isFinite(lo) && Number.isFinite(hi))
      out.push(
        `<line x1="${x(lo).toFixed(1)}" y1="${cy}" x2="${x(Math.min(hi, axisMax * 1.1)).toFixed(1)}" y2="${cy}" stroke="#222" stroke-width="1.5"/>`,
      )
    const ratio = r.ratio === undefined ? '' : ` · ${r.ratio.toFixed(2)}×`
    out.push(
      `<text x="${(Math.max(x(v), x(Math.min(hi, axisMax * 1.1))) + 6).toFixed(1)}" y="${cy}" dy="0.35em" fill="#222">${escapeXml(`${fmt(v)}${ratio}`)}</text>`,
    )
  })
  out.push('</svg>')
  return out.join('\n') + '\n'
}
