/**
 * The terminal view of a run (SPEC §7 "Output"): a plain-text summary table and the one-line
 * live progress. Monospace, no colours unless asked for (`{ color: true }` adds ANSI codes).
 */
import type { OperatorSummary, RunResult } from '../run-result.ts';
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
  traceNote,
} from './format.ts';

export { formatVirtualTime, percentile } from './format.ts';

export interface SummaryOptions {
  /** Add ANSI colours (verdict, outcomes, ✓/✗). Off by default. */
  color?: boolean;
  /** With more operators than this, rows that match in every column are grouped. Default 30. */
  groupOperatorsAbove?: number;
  /** At most this many rows of violations and faults; the rest are counted. Default 25. */
  maxListRows?: number;
}

export interface ProgressInfo {
  atMs: number;
  epoch: number;
  tasksDone: number;
  tasksPending: number;
  activeFaults: string[];
}

type Style = 'bold' | 'dim' | 'green' | 'red' | 'yellow' | 'cyan';

const ANSI: Record<Style, string> = {
  bold: '\u001b[1m',
  dim: '\u001b[2m',
  green: '\u001b[32m',
  red: '\u001b[31m',
  yellow: '\u001b[33m',
  cyan: '\u001b[36m',
};
const RESET = '\u001b[0m';

const OUTCOME_STYLE: Record<string, Style> = {
  completed: 'green',
  failed: 'red',
  expired: 'yellow',
  pending: 'dim',
};

const STATUS_STYLE: Record<string, Style> = {
  active: 'green',
  suspended: 'red',
  waitingJoin: 'yellow',
  waitingActive: 'cyan',
  unactive: 'dim',
};

/** A cell: its text, and optionally how to paint it once padded. */
type Cell = string | { text: string; style: Style | undefined };

interface Column {
  header: string;
  align?: 'left' | 'right';
}

/** The whole summary, sections separated by blank lines, ending with the replay command. */
export function formatSummary(result: RunResult, options: SummaryOptions = {}): string {
  const paint = painter(options.color === true);
  const maxRows = options.maxListRows ?? 25;
  const sections = [
    headerSection(result, paint),
    tasksSection(result, paint),
    operatorsSection(result, paint, options.groupOperatorsAbove ?? 30),
    faultsSection(result, paint, maxRows),
    assertionsSection(result, paint),
    violationsSection(result, paint, maxRows),
    replaySection(result, paint),
  ];
  return `${sections.filter((section) => section.length > 0).join('\n\n')}\n`;
}

/** One line of live progress: `[03:25.400] epoch 7 │ tasks 35 done, 2 pending │ faults: …`. */
export function formatProgressLine(progress: ProgressInfo): string {
  const faults = progress.activeFaults.map((fault) => oneLine(fault, 40));
  const shown = faults.slice(0, 3).join('; ');
  const more = faults.length > 3 ? ` (+${faults.length - 3} more)` : '';
  return (
    `[${formatVirtualTime(progress.atMs)}] epoch ${progress.epoch}` +
    ` │ tasks ${formatCount(progress.tasksDone)} done, ${formatCount(progress.tasksPending)} pending` +
    ` │ faults: ${faults.length === 0 ? 'none' : `${shown}${more}`}`
  );
}

function headerSection(result: RunResult, paint: Painter): string {
  const verdict = result.passed ? paint('PASS', 'green', 'bold') : paint('FAIL', 'red', 'bold');
  const lines = [
    `${paint('Spotted simulation', 'bold')}  ${oneLine(result.scenario, 80)}  ${verdict}`,
    `  seed ${result.seed} · network ${describeNetwork(result)} · final epoch ${result.finalEpoch}`,
    `  virtual ${formatVirtualTime(result.virtualDurationMs)} · wall ${formatDuration(result.wallDurationMs)}` +
      ` · ${formatRatio(result.compressionRatio)} real time`,
    `  trace ${shortHash(result.traceHash)} (${formatCount(result.traceEventCount)} events${traceNote(result)})` +
      (result.tracePath === undefined ? '' : ` → ${result.tracePath}`),
  ];
  if (result.reportPath !== undefined) lines.push(`  report → ${result.reportPath}`);
  return lines.join('\n');
}

function tasksSection(result: RunResult, paint: Painter): string {
  const counts = outcomeCounts(result);
  const outcomeTable = table(
    [
      { header: 'tasks', align: 'right' },
      ...TASK_OUTCOMES.map((o) => ({ header: o, align: 'right' as const })),
    ],
    [
      [
        formatCount(result.tasks.length),
        ...TASK_OUTCOMES.map((outcome) => ({
          text: formatCount(counts[outcome]),
          style: counts[outcome] > 0 ? OUTCOME_STYLE[outcome] : 'dim',
        })),
      ],
    ],
    paint,
  );
  const stats = latencyStats(result);
  const latency =
    stats.count === 0
      ? '  latency: no completed tasks'
      : `  latency of ${formatCount(stats.count)} completed (virtual ms):` +
        ` p50 ${formatMs(stats.p50)} · p95 ${formatMs(stats.p95)} · p99 ${formatMs(stats.p99)}` +
        ` · max ${formatMs(stats.max)}`;
  return [paint('Tasks', 'bold'), indent(outcomeTable), latency].join('\n');
}

function operatorsSection(result: RunResult, paint: Painter, groupAbove: number): string {
  const operators = result.operators;
  const counts = [...statusCounts(result)]
    .map(([status, count]) => `${status} ${count}`)
    .join(', ');
  const title = `${paint('Operators', 'bold')} (${operators.length}${operators.length > 0 ? `: ${counts}` : ''})`;
  if (operators.length === 0) return `${title}\n  none`;
  const rowCells = (operator: OperatorSummary): Cell[] => [
    { text: operator.status, style: STATUS_STYLE[operator.status] },
    formatWeight(operator.weight),
    oneLine(operator.behaviour, 28),
    { text: String(operator.missing), style: operator.missing > 0 ? 'yellow' : undefined },
    formatCount(operator.successfulResponseCount),
  ];
  const tail: Column[] = [
    { header: 'status' },
    { header: 'weight', align: 'right' },
    { header: 'behaviour' },
    { header: 'missing', align: 'right' },
    { header: 'successful', align: 'right' },
  ];
  if (operators.length <= groupAbove) {
    const body = table(
      [{ header: 'name' }, ...tail],
      operators.map((operator) => [oneLine(operator.name, 24), ...rowCells(operator)]),
      paint,
    );
    return `${title}\n${indent(body)}`;
  }
  const groups = new Map<string, OperatorSummary[]>();
  for (const operator of operators) {
    const key = JSON.stringify([
      operator.status,
      operator.weight,
      operator.behaviour,
      operator.missing,
      operator.successfulResponseCount,
    ]);
    const group = groups.get(key);
    if (group === undefined) groups.set(key, [operator]);
    else group.push(operator);
  }
  const rows: Cell[][] = [];
  for (const group of groups.values()) {
    const first = group[0];
    if (first === undefined) continue;
    rows.push([
      wrapList(compressNames(group.map((operator) => oneLine(operator.name, 24))).split(', '), 44),
      String(group.length),
      ...rowCells(first),
    ]);
  }
  const body = table(
    [{ header: 'operators' }, { header: 'n', align: 'right' }, ...tail],
    rows,
    paint,
  );
  return `${title}\n${paint('  (identical rows grouped)', 'dim')}\n${indent(body)}`;
}

function faultsSection(result: RunResult, paint: Painter, maxRows: number): string {
  if (result.faults.length === 0) return '';
  const rows: Cell[][] = result.faults
    .slice(0, maxRows)
    .map((fault) => [
      fault.kind,
      fault.targets.length === 0
        ? { text: '(network)', style: 'dim' }
        : oneLine(compressNames(fault.targets), 30),
      formatVirtualTime(fault.fromMs),
      fault.toMs === undefined ? 'end' : formatVirtualTime(fault.toMs),
      oneLine(fault.detail, 60),
    ]);
  const body = table(
    [
      { header: 'kind' },
      { header: 'targets' },
      { header: 'from' },
      { header: 'to' },
      { header: 'detail' },
    ],
    rows,
    paint,
  );
  return [
    `${paint('Faults', 'bold')} (${result.faults.length})`,
    indent(body),
    more(result.faults.length, maxRows),
  ]
    .filter((line) => line.length > 0)
    .join('\n');
}

function assertionsSection(result: RunResult, paint: Painter): string {
  const failed = result.assertions.filter((assertion) => !assertion.passed).length;
  const title = `${paint('Assertions', 'bold')} (${result.assertions.length}, ${failed} failed)`;
  if (result.assertions.length === 0) return `${title}\n  none`;
  const lines = result.assertions.map((assertion) => {
    const mark = assertion.passed ? paint('✓', 'green') : paint('✗', 'red', 'bold');
    const detail = assertion.detail.length === 0 ? '' : ` — ${oneLine(assertion.detail, 120)}`;
    const text = `${oneLine(assertion.description, 120)}${detail}`;
    return `  ${mark} ${assertion.passed ? text : paint(text, 'red')}`;
  });
  return [title, ...lines].join('\n');
}

function violationsSection(result: RunResult, paint: Painter, maxRows: number): string {
  const title = `${paint('Invariant violations', 'bold')} (${result.violations.length})`;
  if (result.violations.length === 0) return `${title}\n  ${paint('none', 'green')}`;
  const rows: Cell[][] = result.violations
    .slice(0, maxRows)
    .map((violation) => [
      { text: violation.invariant, style: 'red' },
      formatVirtualTime(violation.atMs),
      violation.nodes.length === 0 ? '-' : oneLine(compressNames(violation.nodes), 30),
      oneLine(violation.detail, 80),
    ]);
  const body = table(
    [{ header: 'invariant' }, { header: 'at' }, { header: 'nodes' }, { header: 'detail' }],
    rows,
    paint,
  );
  return [title, indent(body), more(result.violations.length, maxRows)]
    .filter((line) => line.length > 0)
    .join('\n');
}

function replaySection(result: RunResult, paint: Painter): string {
  return `${paint('Replay', 'bold')}\n  ${result.replayCommand}`;
}

function more(total: number, shown: number): string {
  return total > shown ? `  … and ${total - shown} more (see report.html)` : '';
}

/** Columns padded to their widest cell; a rule under the header. */
function table(columns: readonly Column[], rows: readonly Cell[][], paint: Painter): string {
  // A cell's text may hold several lines; the row then takes that many lines.
  const lines = (cell: Cell | undefined) =>
    (cell === undefined ? '' : typeof cell === 'string' ? cell : cell.text).split('\n');
  const widths = columns.map((column, index) =>
    Math.max(
      column.header.length,
      ...rows.flatMap((row) => lines(row[index]).map((line) => line.length)),
    ),
  );
  const pad = (value: string, index: number) => {
    const width = widths[index] ?? 0;
    if (columns[index]?.align === 'right') return value.padStart(width);
    // No trailing padding on the last column (so lines do not end in spaces, painted or not).
    return index === columns.length - 1 ? value : value.padEnd(width);
  };
  const header = columns.map((column, index) => paint(pad(column.header, index), 'dim')).join('  ');
  const rule = paint(widths.map((width) => '─'.repeat(width)).join('  '), 'dim');
  const body = rows.flatMap((row) => {
    const height = Math.max(1, ...columns.map((_column, index) => lines(row[index]).length));
    return Array.from({ length: height }, (_line, lineIndex) =>
      columns
        .map((_column, index) => {
          const cell = row[index];
          const padded = pad(lines(cell)[lineIndex] ?? '', index);
          return cell !== undefined && typeof cell !== 'string' && cell.style !== undefined
            ? paint(padded, cell.style)
            : padded;
        })
        .join('  ')
        .trimEnd(),
    );
  });
  return [header.trimEnd(), rule, ...body].join('\n');
}

/** Joins items with ", " into lines of at most `width` characters (longer items stay whole). */
function wrapList(items: readonly string[], width: number): string {
  const out: string[] = [];
  let line = '';
  for (const item of items) {
    const next = line.length === 0 ? item : `${line}, ${item}`;
    if (next.length + 1 > width && line.length > 0) {
      out.push(`${line},`);
      line = item;
    } else {
      line = next;
    }
  }
  if (line.length > 0) out.push(line);
  return out.join('\n');
}

type Painter = (text: string, ...styles: Style[]) => string;

function painter(color: boolean): Painter {
  if (!color) return (text) => text;
  return (text, ...styles) =>
    styles.length === 0 ? text : `${styles.map((style) => ANSI[style]).join('')}${text}${RESET}`;
}

function indent(text: string): string {
  return text
    .split('\n')
    .map((line) => `  ${line}`)
    .join('\n');
}

/** Collapses whitespace (no newlines or tabs in a table) and cuts to `max` characters. */
function oneLine(value: string, max: number): string {
  const printable = Array.from(value, (char) => {
    const code = char.charCodeAt(0);
    return code < 0x20 || code === 0x7f ? ' ' : char;
  }).join('');
  const flat = printable.replace(/\s+/g, ' ').trim();
  return flat.length > max ? `${flat.slice(0, max - 1)}…` : flat;
}
