/**
 * The HTML report of a run (SPEC §7 "Output"): one self-contained page (inline CSS and SVG,
 * nothing fetched) with the summary, a timeline of operator statuses and fault windows over
 * virtual time, a task latency chart, and the assertion, violation, fault and operator tables.
 * Every piece of text from the run is escaped.
 */
import type {
  FaultWindow,
  OperatorSummary,
  RunResult,
  TaskOutcome,
  TaskSummary,
} from '../run-result.ts';
import {
  compressNames,
  describeNetwork,
  formatCount,
  formatDuration,
  formatMs,
  formatRatio,
  formatVirtualTime,
  formatWeight,
  latencyStats,
  outcomeCounts,
  shortHash,
  statusCounts,
  TASK_OUTCOMES,
  timeDomainEnd,
  traceNote,
} from './format.ts';

/** Status band colours, in lifecycle order (the legend's order). */
export const STATUS_COLORS: Readonly<Record<string, string>> = {
  waitingJoin: '#f5b82e',
  waitingActive: '#6cb4f0',
  active: '#37b26c',
  unactive: '#a3abb5',
  suspended: '#e8494b',
};
const UNKNOWN_STATUS_COLOR = '#b197fc';
const UNREGISTERED_FILL = '#eef0f3';

export const OUTCOME_COLORS: Readonly<Record<TaskOutcome, string>> = {
  completed: '#2f9e5f',
  failed: '#e03131',
  expired: '#f08c00',
  pending: '#868e96',
};

const FAULT_COLORS: Readonly<Record<string, string>> = {
  crash: '#343a40',
  partition: '#f76707',
  byzantine: '#9c36b5',
  network: '#1c7ed6',
  rpc: '#0c8599',
  reorg: '#8a5a2b',
  clockSkew: '#e64980',
  chainView: '#5f3dc4',
};
const OTHER_FAULT_COLOR = '#5c940d';

const VIOLATION_COLOR = '#c92a2a';

/** The SVG coordinate system: charts are drawn 1200 units wide and scale with the page. */
const WIDTH = 1200;
const LEFT = 136;
const RIGHT = 84;
const PLOT_WIDTH = WIDTH - LEFT - RIGHT;

export function escapeHtml(value: string): string {
  return value
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&#39;');
}

const esc = escapeHtml;

export function renderHtmlReport(result: RunResult): string {
  const title = `Spotted · ${result.scenario} · seed ${result.seed} · ${result.passed ? 'PASS' : 'FAIL'}`;
  const scale = timeScale(result);
  return [
    '<!DOCTYPE html>',
    '<html lang="en">',
    '<head>',
    '<meta charset="utf-8">',
    '<meta name="viewport" content="width=device-width, initial-scale=1">',
    `<title>${esc(title)}</title>`,
    `<style>${CSS}</style>`,
    '</head>',
    '<body>',
    '<main>',
    headerHtml(result),
    section('Timeline', timelineHtml(result, scale), 'timeline'),
    section('Task latency', latencyHtml(result, scale), 'latency'),
    section('Assertions', assertionsHtml(result), 'assertions'),
    section('Invariant violations', violationsHtml(result), 'violations'),
    section('Faults', faultsHtml(result), 'faults'),
    section('Operators', operatorsHtml(result), 'operators'),
    footerHtml(result),
    '</main>',
    '</body>',
    '</html>',
    '',
  ].join('\n');
}

// ---------------------------------------------------------------------------------------------
// Summary

function headerHtml(result: RunResult): string {
  const counts = outcomeCounts(result);
  const stats = latencyStats(result);
  const failedAssertions = result.assertions.filter((a) => !a.passed).length;
  const verdict = result.passed
    ? '<span class="verdict pass">PASS</span>'
    : '<span class="verdict fail">FAIL</span>';
  const facts: [string, string][] = [
    ['Seed', String(result.seed)],
    ['Network', describeNetwork(result)],
    ['Virtual time', formatVirtualTime(result.virtualDurationMs)],
    ['Wall time', formatDuration(result.wallDurationMs)],
    ['Speed', `${formatRatio(result.compressionRatio)} real time`],
    ['Final epoch', String(result.finalEpoch)],
    [
      'Trace',
      `${shortHash(result.traceHash)} · ${formatCount(result.traceEventCount)} events${traceNote(result)}`,
    ],
    [
      'Checks',
      `${result.assertions.length - failedAssertions}/${result.assertions.length} assertions · ${plural(result.violations.length, 'violation')}`,
    ],
  ];
  const outcomeCards = TASK_OUTCOMES.map(
    (outcome) =>
      `<div class="stat"><span class="swatch dot" style="background:${OUTCOME_COLORS[outcome]}"></span>` +
      `<b>${formatCount(counts[outcome])}</b> ${outcome}</div>`,
  ).join('');
  const latency =
    stats.count === 0
      ? '<div class="stat muted">no completed tasks</div>'
      : ['p50', 'p95', 'p99']
          .map((label) => {
            const value = label === 'p50' ? stats.p50 : label === 'p95' ? stats.p95 : stats.p99;
            return `<div class="stat"><b>${formatMs(value)}</b> ms ${label}</div>`;
          })
          .join('') +
        `<div class="stat muted">max ${formatMs(stats.max)} ms · n=${formatCount(stats.count)}</div>`;
  const statuses = [...statusCounts(result)]
    .map(
      ([status, count]) =>
        `<div class="stat"><span class="swatch" style="background:${statusColor(status)}"></span>` +
        `<b>${count}</b> ${esc(status)}</div>`,
    )
    .join('');
  return [
    '<header>',
    `<div class="title"><h1>${esc(result.scenario)}</h1>${verdict}</div>`,
    '<p class="subtitle">Spotted simulator run</p>',
    `<dl class="facts">${facts.map(([k, v]) => `<div${v.length > 22 ? ' class="wide"' : ''}><dt>${esc(k)}</dt><dd>${esc(v)}</dd></div>`).join('')}</dl>`,
    '<div class="strip">',
    `<div class="group"><h3>Tasks · ${formatCount(result.tasks.length)}</h3><div class="stats">${outcomeCards}</div></div>`,
    `<div class="group"><h3>Latency of completed tasks (virtual ms)</h3><div class="stats">${latency}</div></div>`,
    `<div class="group"><h3>Operators · ${result.operators.length}</h3><div class="stats">${statuses || '<div class="stat muted">none</div>'}</div></div>`,
    '</div>',
    '</header>',
  ].join('\n');
}

function section(title: string, body: string, id: string): string {
  return `<section id="${id}">\n<h2>${esc(title)}</h2>\n${body}\n</section>`;
}

function footerHtml(result: RunResult): string {
  const paths = [
    result.tracePath === undefined ? '' : `<div>Trace: <code>${esc(result.tracePath)}</code></div>`,
    result.reportPath === undefined
      ? ''
      : `<div>Report: <code>${esc(result.reportPath)}</code></div>`,
  ].join('');
  return [
    '<footer>',
    '<h2>Replay</h2>',
    `<pre class="replay"><code>${esc(result.replayCommand)}</code></pre>`,
    `<div class="muted">Trace hash <code>${esc(result.traceHash || '-')}</code></div>`,
    paths,
    '</footer>',
  ].join('\n');
}

// ---------------------------------------------------------------------------------------------
// Tables

function table(
  headers: readonly string[],
  rows: readonly string[][],
  numeric: readonly number[] = [],
): string {
  const th = headers
    .map((h, i) => `<th${numeric.includes(i) ? ' class="num"' : ''}>${esc(h)}</th>`)
    .join('');
  const body = rows
    .map(
      (row) =>
        `<tr>${row.map((cell, i) => `<td${numeric.includes(i) ? ' class="num"' : ''}>${cell}</td>`).join('')}</tr>`,
    )
    .join('\n');
  return `<table>\n<thead><tr>${th}</tr></thead>\n<tbody>\n${body}\n</tbody>\n</table>`;
}

function assertionsHtml(result: RunResult): string {
  if (result.assertions.length === 0) return '<p class="muted">No assertions.</p>';
  return table(
    ['', 'Assertion', 'Detail'],
    result.assertions.map((a) => [
      a.passed ? '<span class="ok">✓</span>' : '<span class="bad">✗</span>',
      a.passed ? esc(a.description) : `<span class="bad">${esc(a.description)}</span>`,
      esc(a.detail),
    ]),
  );
}

function violationsHtml(result: RunResult): string {
  if (result.violations.length === 0) return '<p class="ok">None.</p>';
  return table(
    ['Invariant', 'Virtual time', 'Nodes', 'Detail'],
    result.violations.map((v) => [
      `<span class="bad">${esc(v.invariant)}</span>`,
      `<code>${esc(formatVirtualTime(v.atMs))}</code>`,
      esc(v.nodes.length === 0 ? '-' : v.nodes.join(', ')),
      esc(v.detail),
    ]),
  );
}

function faultsHtml(result: RunResult): string {
  if (result.faults.length === 0) return '<p class="muted">No faults injected.</p>';
  return table(
    ['Kind', 'Targets', 'From', 'To', 'Detail'],
    result.faults.map((f) => [
      `<span class="swatch" style="background:${faultColor(f.kind)}"></span>${esc(f.kind)}`,
      f.targets.length === 0
        ? '<span class="muted">whole network</span>'
        : esc(compressNames(f.targets)),
      `<code>${esc(formatVirtualTime(f.fromMs))}</code>`,
      f.toMs === undefined
        ? '<span class="muted">end</span>'
        : `<code>${esc(formatVirtualTime(f.toMs))}</code>`,
      esc(f.detail),
    ]),
  );
}

function operatorsHtml(result: RunResult): string {
  if (result.operators.length === 0) return '<p class="muted">No operators.</p>';
  const rows = result.operators.map((op) => [
    `<code>${esc(op.name)}</code>`,
    `<span class="swatch" style="background:${statusColor(op.status)}"></span>${esc(op.status)}`,
    `<span title="${esc(op.weight)}">${esc(formatWeight(op.weight))}</span>`,
    op.behaviour === 'honest' ? esc(op.behaviour) : `<b>${esc(op.behaviour)}</b>`,
    op.missing > 0 ? `<b class="warn">${op.missing}</b>` : String(op.missing),
    formatCount(op.successfulResponseCount),
    String(op.statusHistory.length),
    `<code class="addr">${esc(op.address)}</code>`,
  ]);
  const body = table(
    ['Name', 'Status', 'Weight', 'Behaviour', 'Missing', 'Successful', 'Changes', 'Address'],
    rows,
    [2, 4, 5, 6],
  );
  return `<div class="scroll${result.operators.length > 30 ? ' tall' : ''}">${body}</div>`;
}

// ---------------------------------------------------------------------------------------------
// Charts

interface TimeScale {
  endMs: number;
  x(ms: number): number;
  ticks: number[];
  stepMs: number;
}

function timeScale(result: RunResult): TimeScale {
  const endMs = timeDomainEnd(result);
  const stepMs = niceStep(endMs, 12);
  const ticks: number[] = [];
  for (let t = 0; t <= endMs + 1e-9; t += stepMs) ticks.push(t);
  return {
    endMs,
    x: (ms) => LEFT + (Math.min(Math.max(ms, 0), endMs) / endMs) * PLOT_WIDTH,
    ticks,
    stepMs,
  };
}

const TIME_STEPS = [
  1, 2, 5, 10, 20, 50, 100, 200, 500, 1_000, 2_000, 5_000, 10_000, 15_000, 30_000, 60_000, 120_000,
  300_000, 600_000, 900_000, 1_800_000, 3_600_000, 7_200_000, 10_800_000, 21_600_000, 43_200_000,
  86_400_000,
];

function niceStep(span: number, maxTicks: number): number {
  for (const step of TIME_STEPS) if (span / step <= maxTicks) return step;
  return Math.ceil(span / maxTicks / 86_400_000) * 86_400_000;
}

function axisLabel(ms: number, stepMs: number): string {
  const text = formatVirtualTime(ms);
  if (stepMs % 1000 === 0) return text.slice(0, -4);
  if (stepMs % 100 === 0) return text.slice(0, -2);
  return text;
}

interface Row {
  name: string;
  operator?: OperatorSummary;
  top: number;
}

function timelineHtml(result: RunResult, scale: TimeScale): string {
  const operatorNames = new Set(result.operators.map((op) => op.name));
  const extraNodes: string[] = [];
  for (const fault of result.faults) {
    for (const target of fault.targets) {
      if (!operatorNames.has(target) && !extraNodes.includes(target)) extraNodes.push(target);
    }
  }
  const rowCount = result.operators.length + extraNodes.length;
  if (rowCount === 0 && result.faults.length === 0)
    return '<p class="muted">Nothing to draw: no operators and no faults.</p>';

  const rowH = Math.max(10, Math.min(24, Math.floor(600 / Math.max(1, rowCount))));
  const labelSize = rowH >= 18 ? 12 : rowH >= 13 ? 10.5 : 8.5;
  const lanes = assignFaultLanes(result.faults, scale);
  const laneCount = lanes.reduce((max, lane) => Math.max(max, lane + 1), 0);
  const LANE_H = 20;

  const epochLabelY = 14;
  const axisTop = 20;
  const faultTop = axisTop + 20;
  const rowsTop = faultTop + laneCount * LANE_H + (laneCount > 0 ? 10 : 0);
  const rows: Row[] = [];
  let y = rowsTop;
  for (const operator of result.operators) {
    rows.push({ name: operator.name, operator, top: y });
    y += rowH;
  }
  const extraTop = y + (extraNodes.length > 0 && result.operators.length > 0 ? 8 : 0);
  y = extraTop;
  for (const node of extraNodes) {
    rows.push({ name: node, top: y });
    y += rowH;
  }
  const rowsBottom = y;
  const height = rowsBottom + 30;
  const rowByName = new Map(rows.map((row) => [row.name, row]));
  const pad = rowH >= 14 ? 3 : 1.5;

  const parts: string[] = [];
  parts.push(
    `<svg class="chart" viewBox="0 0 ${WIDTH} ${height}" width="100%" role="img" aria-label="Operator status timeline" font-family="system-ui, -apple-system, Segoe UI, Roboto, sans-serif">`,
  );
  parts.push(`<defs>${faultPatterns(result.faults)}</defs>`);

  // Row backgrounds and labels.
  parts.push('<g class="rows">');
  rows.forEach((row, index) => {
    const fill =
      row.operator === undefined ? '#f4f1ea' : index % 2 === 0 ? UNREGISTERED_FILL : '#f5f6f8';
    parts.push(
      `<rect x="${LEFT}" y="${n(row.top)}" width="${PLOT_WIDTH}" height="${rowH}" fill="${fill}"/>`,
    );
    const label = row.name.length > 18 ? `${row.name.slice(0, 17)}…` : row.name;
    const style =
      row.operator === undefined ? ' font-style="italic" fill="#6b7280"' : ' fill="#1f2937"';
    parts.push(
      `<text class="row-label" x="${LEFT - 8}" y="${n(row.top + rowH / 2)}" dy="0.35em" text-anchor="end" font-size="${labelSize}"${style}>` +
        `${esc(label)}<title>${esc(rowTitle(row))}</title></text>`,
    );
  });
  parts.push('</g>');

  // Time grid and axes (top and bottom).
  parts.push('<g class="axis" font-size="11" fill="#6b7280">');
  for (const tick of scale.ticks) {
    const x = n(scale.x(tick));
    parts.push(
      `<line x1="${x}" x2="${x}" y1="${axisTop + 14}" y2="${rowsBottom}" stroke="#e5e7eb" stroke-width="1"/>`,
    );
    const anchor = tickAnchor(tick, scale);
    parts.push(
      `<text x="${x}" y="${axisTop + 10}" text-anchor="${anchor}">${esc(axisLabel(tick, scale.stepMs))}</text>`,
    );
    parts.push(
      `<text x="${x}" y="${rowsBottom + 16}" text-anchor="${anchor}">${esc(axisLabel(tick, scale.stepMs))}</text>`,
    );
  }
  parts.push(
    `<text x="${LEFT - 8}" y="${axisTop + 10}" text-anchor="end" font-weight="600">virtual time</text>`,
    `<line x1="${n(scale.x(scale.endMs))}" x2="${n(scale.x(scale.endMs))}" y1="${axisTop + 14}" y2="${rowsBottom}" stroke="#9ca3af" stroke-width="1"/>`,
  );
  parts.push('</g>');

  // Status bands.
  parts.push('<g class="bands">');
  for (const row of rows) {
    const operator = row.operator;
    if (operator === undefined) continue;
    operator.statusHistory.forEach((change, index) => {
      const next = operator.statusHistory[index + 1];
      const from = change.atMs;
      const to = next?.atMs ?? scale.endMs;
      const x1 = scale.x(from);
      const width = Math.max(1, scale.x(Math.max(from, to)) - x1);
      const tip = `${operator.name}: ${change.status} from ${formatVirtualTime(from)}${next === undefined ? ' to the end' : ` to ${formatVirtualTime(to)}`} (${formatDuration(Math.max(0, to - from))})`;
      parts.push(
        `<rect class="band" data-op="${esc(operator.name)}" data-status="${esc(change.status)}" x="${n(x1)}" y="${n(row.top + pad)}" width="${n(width)}" height="${n(rowH - 2 * pad)}" fill="${statusColor(change.status)}"><title>${esc(tip)}</title></rect>`,
      );
    });
  }
  parts.push('</g>');

  // Fault windows: overlays on the affected rows (all rows for network-wide faults) and a
  // labelled bar in the fault lanes above.
  parts.push('<g class="faults">');
  if (laneCount > 0) {
    parts.push(
      `<text x="${LEFT - 8}" y="${n(faultTop + (laneCount * LANE_H) / 2)}" dy="0.35em" text-anchor="end" font-size="11" font-weight="600" fill="#6b7280">faults</text>`,
    );
  }
  result.faults.forEach((fault, index) => {
    const color = faultColor(fault.kind);
    const from = fault.fromMs;
    const to = fault.toMs ?? scale.endMs;
    const x1 = scale.x(from);
    const x2 = scale.x(Math.max(from, to));
    const instant = fault.toMs !== undefined && fault.toMs <= fault.fromMs;
    const tip = faultTitle(fault);
    const pattern = `url(#fault-${patternIndex(result.faults, fault.kind)})`;
    const targets =
      fault.targets.length === 0 ? rows : fault.targets.flatMap((t) => rowByName.get(t) ?? []);
    if (instant) {
      const yTop =
        fault.targets.length === 0 ? rowsTop : Math.min(...targets.map((r) => r.top), rowsBottom);
      const yBottom =
        fault.targets.length === 0
          ? rowsBottom
          : Math.max(...targets.map((r) => r.top + rowH), rowsTop);
      parts.push(
        `<line class="fault" data-fault="${index}" x1="${n(x1)}" x2="${n(x1)}" y1="${n(yTop)}" y2="${n(yBottom)}" stroke="${color}" stroke-width="2" stroke-dasharray="2 2"><title>${esc(tip)}</title></line>`,
      );
    } else if (fault.targets.length === 0) {
      parts.push(
        `<rect class="fault fault-network" data-fault="${index}" x="${n(x1)}" y="${n(rowsTop)}" width="${n(Math.max(1, x2 - x1))}" height="${n(rowsBottom - rowsTop)}" fill="${color}" fill-opacity="0.10" stroke="${color}" stroke-opacity="0.5" stroke-dasharray="4 3"><title>${esc(tip)}</title></rect>`,
      );
    } else {
      for (const row of targets) {
        parts.push(
          `<rect class="fault" data-fault="${index}" data-op="${esc(row.name)}" x="${n(x1)}" y="${n(row.top + 0.5)}" width="${n(Math.max(1, x2 - x1))}" height="${n(rowH - 1)}" fill="${pattern}" stroke="${color}" stroke-width="1.2"><title>${esc(tip)}</title></rect>`,
        );
      }
    }
    // Lane bar with label.
    const lane = lanes[index] ?? 0;
    const laneY = faultTop + lane * LANE_H;
    const label = faultLabel(fault);
    if (instant) {
      const cx = n(x1);
      parts.push(
        `<g class="fault-label"><path d="M${cx} ${n(laneY + 3)} l6 7 l-6 7 l-6 -7 z" fill="${color}"/>` +
          `<text x="${n(x1 + 9)}" y="${n(laneY + 10)}" dy="0.35em" font-size="11" fill="#1f2937">${esc(label)}</text><title>${esc(tip)}</title></g>`,
      );
    } else {
      const barWidth = Math.max(2, x2 - x1);
      const fits = textWidth(label, 11) + 10 <= barWidth;
      parts.push(
        `<g class="fault-label"><rect x="${n(x1)}" y="${n(laneY + 2)}" width="${n(barWidth)}" height="${LANE_H - 4}" rx="3" fill="${color}"${fits ? '' : ' fill-opacity="0.85"'}/>` +
          `<text x="${n(fits ? x1 + 5 : x1 + barWidth + 4)}" y="${n(laneY + LANE_H / 2)}" dy="0.35em" font-size="11" fill="${fits ? '#ffffff' : '#1f2937'}">${esc(label)}</text><title>${esc(tip)}</title></g>`,
      );
    }
  });
  parts.push('</g>');

  // Epoch boundaries.
  const epochs = result.epochStarts ?? [];
  if (epochs.length > 0) {
    parts.push('<g class="epochs" font-size="10.5" fill="#4b5563">');
    let lastLabelX = Number.NEGATIVE_INFINITY;
    for (const start of epochs) {
      if (start.atMs < 0 || start.atMs > scale.endMs) continue;
      const x = scale.x(start.atMs);
      parts.push(
        `<line class="epoch" x1="${n(x)}" x2="${n(x)}" y1="${epochLabelY + 4}" y2="${rowsBottom}" stroke="#4b5563" stroke-width="1" stroke-dasharray="3 3" stroke-opacity="0.55"><title>epoch ${start.epoch} starts at ${esc(formatVirtualTime(start.atMs))}</title></line>`,
      );
      const long = `epoch ${start.epoch}`;
      const short = `e${start.epoch}`;
      const label = x - lastLabelX > 70 && x + 3 + textWidth(long, 10.5) <= WIDTH ? long : short;
      if (x - lastLabelX >= 28) {
        const fitsRight = x + 3 + textWidth(label, 10.5) <= WIDTH;
        parts.push(
          `<text x="${n(fitsRight ? x + 3 : x - 3)}" y="${epochLabelY}"${fitsRight ? '' : ' text-anchor="end"'}>${esc(label)}</text>`,
        );
        lastLabelX = x;
      }
    }
    parts.push('</g>');
  }

  // Invariant violations: a marker on the affected rows (or above all rows).
  if (result.violations.length > 0) {
    parts.push('<g class="violations">');
    for (const violation of result.violations) {
      const x = scale.x(violation.atMs);
      const tip = `violation ${violation.invariant} at ${formatVirtualTime(violation.atMs)}${violation.nodes.length > 0 ? ` on ${violation.nodes.join(', ')}` : ''}: ${violation.detail}`;
      const hit = violation.nodes.flatMap((node) => rowByName.get(node) ?? []);
      const marks = hit.length > 0 ? hit.map((row) => row.top + rowH / 2) : [rowsTop - 5];
      for (const cy of marks) {
        const r = Math.max(3.5, Math.min(6, rowH / 2 - 1));
        parts.push(
          `<path class="violation" d="M${n(x - r)} ${n(cy - r)} h${n(2 * r)} l${n(-r)} ${n(2 * r)} z" fill="${VIOLATION_COLOR}" stroke="#ffffff" stroke-width="1"><title>${esc(tip)}</title></path>`,
        );
      }
    }
    parts.push('</g>');
  }

  parts.push('</svg>');
  return `${timelineLegend(result)}\n<div class="chart-wrap">${parts.join('\n')}</div>`;
}

function timelineLegend(result: RunResult): string {
  const statuses = new Set<string>(Object.keys(STATUS_COLORS));
  for (const op of result.operators)
    for (const change of op.statusHistory) statuses.add(change.status);
  const items = [...statuses].map(
    (status) =>
      `<span class="item"><span class="swatch" style="background:${statusColor(status)}"></span>${esc(status)}</span>`,
  );
  items.push(
    `<span class="item"><span class="swatch" style="background:${UNREGISTERED_FILL};border:1px solid #d1d5db"></span>not registered</span>`,
  );
  const kinds = [...new Set(result.faults.map((f) => f.kind))];
  const faultItems = kinds.map(
    (kind) =>
      `<span class="item"><span class="swatch hatch" style="--c:${faultColor(kind)}"></span>${esc(kind)}</span>`,
  );
  const marks = [
    '<span class="item"><span class="epoch-mark"></span>epoch boundary</span>',
    result.violations.length > 0
      ? `<span class="item"><span class="tri" style="border-top-color:${VIOLATION_COLOR}"></span>invariant violation</span>`
      : '',
  ];
  return [
    '<div class="legend">',
    `<span class="legend-title">Status</span>${items.join('')}`,
    faultItems.length > 0 ? `<span class="legend-title">Faults</span>${faultItems.join('')}` : '',
    `<span class="legend-title">Marks</span>${marks.join('')}`,
    '</div>',
    '<p class="hint">Hover a band, fault or marker for details. Network-wide faults shade every row; targeted ones hatch the affected rows.</p>',
  ].join('');
}

function latencyHtml(result: RunResult, scale: TimeScale): string {
  if (result.tasks.length === 0) return '<p class="muted">No tasks were requested.</p>';
  const entries = result.tasks.map((task) => ({
    task,
    latency: Math.max(0, (task.endedAtMs ?? scale.endMs) - task.requestedAtMs),
  }));
  const maxLatency = Math.max(1, ...entries.map((e) => e.latency));
  const positive = entries.map((e) => e.latency).filter((v) => v > 0);
  const minLatency = positive.length === 0 ? 1 : Math.min(...positive);
  const useLog = maxLatency / Math.max(1, minLatency) > 40;

  const TOP = 14;
  const PLOT_H = 240;
  const bottom = TOP + PLOT_H;
  const height = bottom + 34;
  let yOf: (ms: number) => number;
  let yTicks: number[];
  if (useLog) {
    const lo = Math.max(1, 10 ** Math.floor(Math.log10(Math.max(1, minLatency))));
    const decadeTop = 10 ** Math.floor(Math.log10(maxLatency));
    const hi =
      [1, 2, 5, 10].map((m) => m * decadeTop).find((v) => v >= maxLatency) ?? 10 * decadeTop;
    const span = Math.log10(hi) - Math.log10(lo) || 1;
    yOf = (ms) => bottom - ((Math.log10(Math.max(lo, ms)) - Math.log10(lo)) / span) * PLOT_H;
    yTicks = [];
    for (let decade = lo; decade <= hi; decade *= 10) {
      for (const m of [1, 2, 5]) if (decade * m <= hi) yTicks.push(decade * m);
    }
  } else {
    const step = niceNumberStep(maxLatency, 6);
    const hi = Math.ceil(maxLatency / step) * step;
    yOf = (ms) => bottom - (ms / hi) * PLOT_H;
    yTicks = [];
    for (let v = 0; v <= hi + 1e-9; v += step) yTicks.push(v);
  }

  const parts: string[] = [];
  parts.push(
    `<svg class="chart" viewBox="0 0 ${WIDTH} ${height}" width="100%" role="img" aria-label="Task latency over virtual time" font-family="system-ui, -apple-system, Segoe UI, Roboto, sans-serif">`,
  );
  parts.push(
    `<rect x="${LEFT}" y="${TOP}" width="${PLOT_WIDTH}" height="${PLOT_H}" fill="#fbfbfc" stroke="#e5e7eb"/>`,
  );
  // Network-wide faults and epochs for context.
  for (const fault of result.faults) {
    if (fault.targets.length > 0) continue;
    const x1 = scale.x(fault.fromMs);
    const x2 = scale.x(fault.toMs ?? scale.endMs);
    const color = faultColor(fault.kind);
    if (x2 - x1 < 1) {
      parts.push(
        `<line x1="${n(x1)}" x2="${n(x1)}" y1="${TOP}" y2="${bottom}" stroke="${color}" stroke-width="1.5" stroke-dasharray="2 2"><title>${esc(faultTitle(fault))}</title></line>`,
      );
    } else {
      parts.push(
        `<rect class="fault-shade" x="${n(x1)}" y="${TOP}" width="${n(x2 - x1)}" height="${PLOT_H}" fill="${color}" fill-opacity="0.09"><title>${esc(faultTitle(fault))}</title></rect>`,
      );
      parts.push(
        `<text x="${n(x1 + 4)}" y="${TOP + 13}" font-size="10.5" fill="${color}">${esc(fault.kind)}</text>`,
      );
    }
  }
  for (const start of result.epochStarts ?? []) {
    if (start.atMs <= 0 || start.atMs > scale.endMs) continue;
    const x = n(scale.x(start.atMs));
    parts.push(
      `<line x1="${x}" x2="${x}" y1="${TOP}" y2="${bottom}" stroke="#4b5563" stroke-dasharray="3 3" stroke-opacity="0.35"/>`,
    );
  }
  // Axes.
  parts.push('<g class="axis" font-size="11" fill="#6b7280">');
  for (const tick of yTicks) {
    const yy = n(yOf(tick));
    parts.push(
      `<line x1="${LEFT}" x2="${LEFT + PLOT_WIDTH}" y1="${yy}" y2="${yy}" stroke="#eceef1"/>`,
    );
    parts.push(
      `<text x="${LEFT - 8}" y="${yy}" dy="0.35em" text-anchor="end">${esc(latencyLabel(tick))}</text>`,
    );
  }
  for (const tick of scale.ticks) {
    const x = n(scale.x(tick));
    parts.push(`<line x1="${x}" x2="${x}" y1="${bottom}" y2="${bottom + 4}" stroke="#9ca3af"/>`);
    parts.push(
      `<text x="${x}" y="${bottom + 17}" text-anchor="${tickAnchor(tick, scale)}">${esc(axisLabel(tick, scale.stepMs))}</text>`,
    );
  }
  parts.push(
    `<text x="${LEFT - 8}" y="${bottom + 17}" text-anchor="end" font-weight="600">requested at</text>`,
    `<text transform="translate(14 ${TOP + PLOT_H / 2}) rotate(-90)" text-anchor="middle" font-weight="600">latency${useLog ? ' (log)' : ''}</text>`,
  );
  parts.push('</g>');

  // Percentile guides.
  const stats = latencyStats(result);
  parts.push('<g class="percentiles" font-size="10.5">');
  const guides = (
    [
      ['p99', stats.p99],
      ['p95', stats.p95],
      ['p50', stats.p50],
    ] as const
  ).flatMap(([label, value]) => (value === undefined ? [] : [{ label, value, y: yOf(value) }]));
  let previousLabelY = Number.NEGATIVE_INFINITY;
  for (const guide of guides) {
    const yy = n(guide.y);
    const labelY = Math.max(guide.y, previousLabelY + 12);
    previousLabelY = labelY;
    parts.push(
      `<line x1="${LEFT}" x2="${LEFT + PLOT_WIDTH}" y1="${yy}" y2="${yy}" stroke="#1f2937" stroke-opacity="0.45" stroke-dasharray="6 4"><title>${guide.label} ${formatMs(guide.value)} ms</title></line>`,
    );
    parts.push(
      `<text x="${LEFT + PLOT_WIDTH + 6}" y="${n(labelY)}" dy="0.35em" fill="#374151"><tspan font-weight="600">${guide.label}</tspan> ${esc(formatMs(guide.value))} ms</text>`,
    );
  }
  parts.push('</g>');

  // Tasks: a segment from request to end at the height of the latency, dot at the request.
  parts.push('<g class="tasks">');
  const order: Record<TaskOutcome, number> = { completed: 0, pending: 1, expired: 2, failed: 3 };
  const sorted = [...entries].sort((a, b) => order[a.task.outcome] - order[b.task.outcome]);
  for (const { task, latency } of sorted) {
    const color = OUTCOME_COLORS[task.outcome];
    const x1 = scale.x(task.requestedAtMs);
    const x2 = scale.x(task.endedAtMs ?? scale.endMs);
    const yy = n(yOf(latency));
    const segment =
      x2 - x1 >= 2
        ? `<line x1="${n(x1)}" x2="${n(x2)}" y1="${yy}" y2="${yy}" stroke="${color}" stroke-width="2" stroke-opacity="0.55"${task.outcome === 'pending' ? ' stroke-dasharray="3 2"' : ''}/>`
        : '';
    const dot =
      task.outcome === 'pending'
        ? `<circle cx="${n(x1)}" cy="${yy}" r="3" fill="#ffffff" stroke="${color}" stroke-width="1.5"/>`
        : `<circle cx="${n(x1)}" cy="${yy}" r="${task.outcome === 'completed' ? 2.6 : 3.4}" fill="${color}" fill-opacity="${task.outcome === 'completed' ? 0.75 : 0.95}"/>`;
    parts.push(
      `<g class="task" data-outcome="${task.outcome}">${segment}${dot}<title>${esc(taskTitle(task))}</title></g>`,
    );
  }
  parts.push('</g>');
  parts.push('</svg>');

  const counts = outcomeCounts(result);
  const legend = TASK_OUTCOMES.map(
    (outcome) =>
      `<span class="item"><span class="swatch dot" style="background:${OUTCOME_COLORS[outcome]}"></span>${outcome} (${formatCount(counts[outcome])})</span>`,
  ).join('');
  return [
    `<div class="legend">${legend}<span class="item"><span class="dash"></span>latency percentiles of completed tasks</span></div>`,
    '<p class="hint">Each task is a dot at the virtual time it was requested, at the height of its latency (end − request); the line runs to when it ended. Pending tasks are measured to the end of the run.</p>',
    `<div class="chart-wrap">${parts.join('\n')}</div>`,
  ].join('\n');
}

function niceNumberStep(max: number, maxTicks: number): number {
  const raw = max / maxTicks;
  const magnitude = 10 ** Math.floor(Math.log10(raw));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * magnitude >= raw) return m * magnitude;
  return 10 * magnitude;
}

function latencyLabel(ms: number): string {
  if (ms >= 60_000 && ms % 60_000 === 0) return `${ms / 60_000} min`;
  if (ms >= 1000) return `${formatCount(ms / 1000)} s`;
  return `${formatCount(ms)} ms`;
}

/** Greedy interval packing: each fault's label gets a lane where it does not overlap another. */
function assignFaultLanes(faults: readonly FaultWindow[], scale: TimeScale): number[] {
  const laneEnds: number[] = [];
  const lanes: number[] = new Array(faults.length).fill(0);
  const order = faults
    .map((fault, index) => ({ fault, index }))
    .sort((a, b) => a.fault.fromMs - b.fault.fromMs);
  for (const { fault, index } of order) {
    const instant = fault.toMs !== undefined && fault.toMs <= fault.fromMs;
    const x1 = scale.x(fault.fromMs) - (instant ? 7 : 0);
    const x2 = scale.x(fault.toMs ?? scale.endMs);
    const labelWidth = textWidth(faultLabel(fault), 11);
    const labelEnd = instant
      ? x1 + 16 + labelWidth
      : labelWidth + 10 <= x2 - x1
        ? x2
        : Math.max(x2, x1 + 2) + 4 + labelWidth;
    let lane = laneEnds.findIndex((end) => end + 4 <= x1);
    if (lane === -1) {
      if (laneEnds.length < 8) {
        lane = laneEnds.length;
        laneEnds.push(labelEnd);
      } else {
        lane = laneEnds.indexOf(Math.min(...laneEnds));
        laneEnds[lane] = labelEnd;
      }
    } else {
      laneEnds[lane] = labelEnd;
    }
    lanes[index] = lane;
  }
  return lanes;
}

function faultLabel(fault: FaultWindow): string {
  const who = fault.targets.length === 0 ? '' : ` ${compressNames(fault.targets)}`;
  const text = `${fault.kind}${who}`;
  return text.length > 40 ? `${text.slice(0, 39)}…` : text;
}

function faultTitle(fault: FaultWindow): string {
  const who = fault.targets.length === 0 ? 'whole network' : fault.targets.join(', ');
  const until = fault.toMs === undefined ? 'the end (still active)' : formatVirtualTime(fault.toMs);
  return `${fault.kind} on ${who}: ${formatVirtualTime(fault.fromMs)} → ${until}${fault.detail ? ` · ${fault.detail}` : ''}`;
}

function taskTitle(task: TaskSummary): string {
  const ended =
    task.endedAtMs === undefined
      ? 'still pending'
      : `ended ${formatVirtualTime(task.endedAtMs)} (${formatMs(task.endedAtMs - task.requestedAtMs)} ms)`;
  return `task ${task.taskId} · ${task.outcome} · requested ${formatVirtualTime(task.requestedAtMs)}, ${ended} · epoch ${task.epoch} · ${task.retries} retries · ${task.signers.length} signers`;
}

function rowTitle(row: Row): string {
  const op = row.operator;
  if (op === undefined) return `${row.name} (not an operator)`;
  const history = op.statusHistory
    .map((c) => `${formatVirtualTime(c.atMs)} ${c.status}`)
    .join(', ');
  return `${op.name} · ${op.status} · weight ${formatWeight(op.weight)} · ${op.behaviour} · missing ${op.missing} · successful ${op.successfulResponseCount}${history ? `\n${history}` : ''}`;
}

function faultPatterns(faults: readonly FaultWindow[]): string {
  const kinds = [...new Set(faults.map((f) => f.kind))];
  return kinds
    .map(
      (kind, index) =>
        `<pattern id="fault-${index}" width="7" height="7" patternUnits="userSpaceOnUse" patternTransform="rotate(45)"><rect width="7" height="7" fill="${faultColor(kind)}" fill-opacity="0.12"/><rect width="2.6" height="7" fill="${faultColor(kind)}" fill-opacity="0.75"/></pattern>`,
    )
    .join('');
}

function patternIndex(faults: readonly FaultWindow[], kind: string): number {
  return [...new Set(faults.map((f) => f.kind))].indexOf(kind);
}

function statusColor(status: string): string {
  return Object.hasOwn(STATUS_COLORS, status)
    ? (STATUS_COLORS[status] ?? UNKNOWN_STATUS_COLOR)
    : UNKNOWN_STATUS_COLOR;
}

function faultColor(kind: string): string {
  return Object.hasOwn(FAULT_COLORS, kind)
    ? (FAULT_COLORS[kind] ?? OTHER_FAULT_COLOR)
    : OTHER_FAULT_COLOR;
}

function tickAnchor(tick: number, scale: TimeScale): 'start' | 'middle' | 'end' {
  if (tick === 0) return 'start';
  return scale.endMs - tick < scale.stepMs / 4 ? 'end' : 'middle';
}

function plural(count: number, noun: string): string {
  return `${formatCount(count)} ${noun}${count === 1 ? '' : 's'}`;
}

/** Rough width of sans-serif text at `size` px (for label placement only). */
function textWidth(text: string, size: number): number {
  return text.length * size * 0.56;
}

/** A coordinate with at most one decimal. */
function n(value: number): string {
  return String(Math.round(value * 10) / 10);
}

const CSS = `
:root { color-scheme: light; --fg:#1f2937; --muted:#6b7280; --line:#e5e7eb; --bg:#f5f6f8; --card:#ffffff; }
* { box-sizing: border-box; }
body { margin: 0; background: var(--bg); color: var(--fg); font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; }
main { max-width: 1320px; margin: 0 auto; padding: 24px 28px 40px; }
header, section, footer { background: var(--card); border: 1px solid var(--line); border-radius: 10px; padding: 18px 22px; margin-bottom: 18px; }
h1 { font-size: 22px; margin: 0; word-break: break-all; }
h2 { font-size: 16px; margin: 0 0 10px; }
h3 { font-size: 12px; text-transform: uppercase; letter-spacing: .04em; color: var(--muted); margin: 0 0 6px; font-weight: 600; }
.title { display: flex; align-items: center; gap: 14px; }
.subtitle { margin: 2px 0 14px; color: var(--muted); }
.verdict { font-weight: 700; font-size: 14px; padding: 3px 12px; border-radius: 999px; color: #fff; letter-spacing: .05em; }
.verdict.pass { background: #2f9e5f; }
.verdict.fail { background: #e03131; }
.facts { display: grid; grid-template-columns: repeat(auto-fill, minmax(170px, 1fr)); gap: 8px 18px; margin: 0 0 16px; }
.facts div.wide { grid-column: span 2; }
.facts div { border-left: 3px solid var(--line); padding-left: 10px; }
.facts dt { font-size: 11px; text-transform: uppercase; letter-spacing: .04em; color: var(--muted); }
.facts dd { margin: 0; font-weight: 600; font-variant-numeric: tabular-nums; }
.strip { display: flex; flex-wrap: wrap; gap: 14px 36px; border-top: 1px solid var(--line); padding-top: 14px; }
.stats { display: flex; flex-wrap: wrap; gap: 6px 16px; }
.stat { white-space: nowrap; font-variant-numeric: tabular-nums; }
.stat b { font-size: 17px; }
.swatch { display: inline-block; width: 14px; height: 11px; border-radius: 2px; margin-right: 6px; vertical-align: -1px; }
.swatch.dot { width: 10px; height: 10px; border-radius: 50%; }
.swatch.hatch { background: repeating-linear-gradient(45deg, var(--c) 0 2px, transparent 2px 5px); border: 1px solid var(--c); }
.legend { display: flex; flex-wrap: wrap; align-items: center; gap: 6px 14px; font-size: 13px; margin-bottom: 4px; }
.legend .item { white-space: nowrap; }
.legend-title { font-size: 11px; text-transform: uppercase; letter-spacing: .04em; color: var(--muted); font-weight: 700; margin-left: 8px; }
.legend-title:first-child { margin-left: 0; }
.epoch-mark { display: inline-block; width: 0; height: 13px; border-left: 2px dashed #4b5563; margin: 0 7px -2px 4px; }
.tri { display: inline-block; width: 0; height: 0; border-left: 6px solid transparent; border-right: 6px solid transparent; border-top: 10px solid; margin-right: 6px; vertical-align: -1px; }
.dash { display: inline-block; width: 22px; border-top: 2px dashed #6b7280; margin-right: 6px; vertical-align: 3px; }
.hint { color: var(--muted); font-size: 12px; margin: 2px 0 8px; }
.chart-wrap { overflow-x: auto; }
.chart { display: block; min-width: 900px; }
table { border-collapse: collapse; width: 100%; font-size: 13px; }
th, td { text-align: left; padding: 5px 10px; border-bottom: 1px solid var(--line); vertical-align: top; }
th { font-size: 11px; text-transform: uppercase; letter-spacing: .04em; color: var(--muted); background: #fafafa; position: sticky; top: 0; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
tbody tr:hover { background: #f8fafc; }
.scroll.tall { max-height: 520px; overflow: auto; border: 1px solid var(--line); border-radius: 6px; }
code { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: 12.5px; }
code.addr { color: var(--muted); font-size: 11.5px; }
pre.replay { background: #111827; color: #e5e7eb; padding: 12px 14px; border-radius: 8px; overflow-x: auto; margin: 0 0 10px; }
.ok { color: #2f9e5f; font-weight: 600; }
.bad { color: #e03131; font-weight: 600; }
.warn { color: #e67700; }
.muted { color: var(--muted); }
`;
