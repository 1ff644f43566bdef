/**
 * The latency-vs-N chart as a self-contained SVG (no library): log-scale axes, one line per
 * series (p50 solid, p95 dashed), the CPU floor in grey. Pure: data in, markup out.
 */

export interface PlotSeries {
  label: string;
  color: string;
  dashed?: boolean;
  /** (operators, milliseconds); points with a non-positive value are left out. */
  points: { n: number; ms: number }[];
}

const WIDTH = 720;
const HEIGHT = 440;
const MARGIN = { left: 72, right: 200, top: 48, bottom: 56 };

function escapeXml(text: string): string {
  return text.replace(/[<>&"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** Powers of ten (and 2×, 5×) between min and max, for a log axis. */
export function logTicks(min: number, max: number): number[] {
  const ticks: number[] = [];
  for (let exp = Math.floor(Math.log10(min)); exp <= Math.ceil(Math.log10(max)); exp++) {
    for (const m of [1, 2, 5]) {
      const value = m * 10 ** exp;
      if (value >= min * 0.999 && value <= max * 1.001) ticks.push(value);
    }
  }
  return ticks;
}

function formatMs(ms: number): string {
  if (ms >= 1000) return `${ms / 1000} s`;
  return `${ms} ms`;
}

export function renderLatencyPlot(args: {
  title: string;
  subtitle: string;
  series: PlotSeries[];
}): string {
  const series = args.series
    .map((s) => ({ ...s, points: s.points.filter((p) => p.ms > 0 && p.n > 0) }))
    .filter((s) => s.points.length > 0);
  const all = series.flatMap((s) => s.points);
  const plotW = WIDTH - MARGIN.left - MARGIN.right;
  const plotH = HEIGHT - MARGIN.top - MARGIN.bottom;
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${HEIGHT}" viewBox="0 0 ${WIDTH} ${HEIGHT}" font-family="system-ui, sans-serif" font-size="12">`,
    `<rect width="${WIDTH}" height="${HEIGHT}" fill="white"/>`,
    `<text x="${MARGIN.left}" y="22" font-size="15" font-weight="600">${escapeXml(args.title)}</text>`,
    `<text x="${MARGIN.left}" y="38" fill="#555">${escapeXml(args.subtitle)}</text>`,
  ];
  if (all.length === 0) {
    parts.push(`<text x="${MARGIN.left}" y="${HEIGHT / 2}">no data</text>`, '</svg>');
    return `${parts.join('\n')}\n`;
  }
  const ns = [...new Set(all.map((p) => p.n))].sort((a, b) => a - b);
  const nMin = ns[0] as number;
  const nMax = Math.max(ns.at(-1) as number, nMin * 2);
  const yTicks = logTicks(
    10 ** Math.floor(Math.log10(Math.min(...all.map((p) => p.ms)))),
    10 ** Math.ceil(Math.log10(Math.max(...all.map((p) => p.ms)))),
  );
  const yMin = yTicks[0] as number;
  const yMax = yTicks.at(-1) as number;
  const x = (n: number) =>
    MARGIN.left + (plotW * Math.log2(n / nMin)) / Math.max(1e-9, Math.log2(nMax / nMin));
  const y = (ms: number) =>
    MARGIN.top + plotH - (plotH * Math.log10(ms / yMin)) / Math.max(1e-9, Math.log10(yMax / yMin));

  for (const tick of yTicks) {
    const ty = y(tick).toFixed(1);
    parts.push(
      `<line x1="${MARGIN.left}" x2="${MARGIN.left + plotW}" y1="${ty}" y2="${ty}" stroke="#e4e4e4"/>`,
      `<text x="${MARGIN.left - 8}" y="${ty}" text-anchor="end" dominant-baseline="middle" fill="#444">${formatMs(tick)}</text>`,
    );
  }
  for (const n of ns) {
    const tx = x(n).toFixed(1);
    parts.push(
      `<line x1="${tx}" x2="${tx}" y1="${MARGIN.top}" y2="${MARGIN.top + plotH}" stroke="#e4e4e4"/>`,
      `<text x="${tx}" y="${MARGIN.top + plotH + 18}" text-anchor="middle" fill="#444">${n}</text>`,
    );
  }
  parts.push(
    `<rect x="${MARGIN.left}" y="${MARGIN.top}" width="${plotW}" height="${plotH}" fill="none" stroke="#999"/>`,
    `<text x="${MARGIN.left + plotW / 2}" y="${HEIGHT - 14}" text-anchor="middle">operators (N, log scale)</text>`,
    `<text transform="translate(18 ${MARGIN.top + plotH / 2}) rotate(-90)" text-anchor="middle">request → proof, wall time (log scale)</text>`,
  );
  series.forEach((s, index) => {
    const points = [...s.points].sort((a, b) => a.n - b.n);
    const path = points.map((p) => `${x(p.n).toFixed(1)},${y(p.ms).toFixed(1)}`).join(' ');
    const dash = s.dashed ? ' stroke-dasharray="6 4"' : '';
    parts.push(
      `<polyline class="series" data-label="${escapeXml(s.label)}" points="${path}" fill="none" stroke="${s.color}" stroke-width="2"${dash}/>`,
    );
    for (const p of points) {
      parts.push(
        `<circle cx="${x(p.n).toFixed(1)}" cy="${y(p.ms).toFixed(1)}" r="3" fill="${s.color}"><title>${escapeXml(`${s.label}, N=${p.n}: ${p.ms.toFixed(1)} ms`)}</title></circle>`,
      );
    }
    const ly = MARGIN.top + 8 + index * 20;
    const lx = MARGIN.left + plotW + 16;
    parts.push(
      `<line x1="${lx}" x2="${lx + 24}" y1="${ly}" y2="${ly}" stroke="${s.color}" stroke-width="2"${dash}/>`,
      `<text x="${lx + 30}" y="${ly}" dominant-baseline="middle">${escapeXml(s.label)}</text>`,
    );
  });
  parts.push('</svg>');
  return `${parts.join('\n')}\n`;
}
