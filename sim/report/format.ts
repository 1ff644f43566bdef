/**
 * Shared number/time formatting and statistics for the terminal summary and the HTML report.
 * Pure functions of their arguments: nothing here reads the clock or the environment.
 */
import type { RunResult, TaskOutcome } from '../run-result.ts';

export const TASK_OUTCOMES: readonly TaskOutcome[] = ['completed', 'failed', 'expired', 'pending'];

/**
 * Nearest-rank percentile: the smallest value such that at least `p` percent of the values are
 * less than or equal to it (p = 0 gives the minimum). Undefined for an empty list.
 */
export function percentile(values: readonly number[], p: number): number | undefined {
  if (!Number.isFinite(p) || p < 0 || p > 100) {
    throw new RangeError(`percentile must be within [0, 100], got ${p}`);
  }
  if (values.length === 0) return undefined;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return sorted[rank - 1];
}

/** Virtual time as `mm:ss.mmm` (`h:mm:ss.mmm` from an hour on), e.g. `03:25.400`. */
export function formatVirtualTime(ms: number): string {
  if (!Number.isFinite(ms)) return '--:--.---';
  const sign = ms < 0 ? '-' : '';
  const total = Math.round(Math.abs(ms));
  const millis = total % 1000;
  const seconds = Math.floor(total / 1000) % 60;
  const minutes = Math.floor(total / 60_000) % 60;
  const hours = Math.floor(total / 3_600_000);
  const mmss = `${pad2(minutes)}:${pad2(seconds)}.${String(millis).padStart(3, '0')}`;
  return hours > 0 ? `${sign}${hours}:${mmss}` : `${sign}${mmss}`;
}

/** A wall-clock (or any) duration for a person: `850 ms`, `1.43 s`, `2m 03.1s`, `1h 02m 03s`. */
export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms)) return '?';
  if (ms < 0) return `-${formatDuration(-ms)}`;
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(ms < 10_000 ? 2 : 1)} s`;
  const totalSeconds = ms / 1000;
  if (ms < 3_600_000) {
    const minutes = Math.floor(totalSeconds / 60);
    return `${minutes}m ${(totalSeconds - minutes * 60).toFixed(1).padStart(4, '0')}s`;
  }
  const hours = Math.floor(totalSeconds / 3600);
  const minutes = Math.floor((totalSeconds - hours * 3600) / 60);
  const seconds = Math.floor(totalSeconds - hours * 3600 - minutes * 60);
  return `${hours}h ${pad2(minutes)}m ${pad2(seconds)}s`;
}

/** Virtual/wall ratio: `143x`, `4.2x`, `0.35x`. */
export function formatRatio(ratio: number): string {
  if (!Number.isFinite(ratio) || ratio <= 0) return '-';
  if (ratio >= 10) return `${Math.round(ratio).toLocaleString('en-US')}x`;
  if (ratio >= 1) return `${ratio.toFixed(1)}x`;
  return `${ratio.toFixed(2)}x`;
}

/** Thousands separators, integers only (`12,345`); other numbers keep up to 1 decimal. */
export function formatCount(value: number): string {
  return value.toLocaleString('en-US', { maximumFractionDigits: 1 });
}

/** Milliseconds as an integer with separators, `-` when undefined. */
export function formatMs(value: number | undefined): string {
  return value === undefined ? '-' : Math.round(value).toLocaleString('en-US');
}

/**
 * Operator weights are wei-scale integers; long ones are shortened: `32e18`, `1.5e18`, `7.21e20`.
 * Anything that is not a plain decimal integer is shown as given.
 */
export function formatWeight(weight: string): string {
  if (!/^\d+$/.test(weight)) return weight;
  const digits = weight.replace(/^0+(?=\d)/, '');
  if (digits.length <= 12) return BigInt(digits).toLocaleString('en-US');
  const exponent = 18;
  const scale = 10n ** BigInt(exponent);
  const value = BigInt(digits);
  if (value % (scale / 1000n) === 0n && value / scale < 100_000n) {
    const whole = value / scale;
    const fraction = (value % scale) / (scale / 1000n);
    const fractionText =
      fraction === 0n ? '' : `.${String(fraction).padStart(3, '0').replace(/0+$/, '')}`;
    return `${whole}${fractionText}e${exponent}`;
  }
  const mantissa = `${digits[0]}.${digits.slice(1, 3)}`.replace(/\.?0+$/, '');
  return `${mantissa}e${digits.length - 1}`;
}

/** The first `length` characters of a hash, or `-` when there is none. */
export function shortHash(hash: string, length = 12): string {
  return hash.length === 0 ? '-' : hash.slice(0, length);
}

/** Which network carried the run, as the summary and the report name it. */
export function describeNetwork(result: RunResult): string {
  if (result.network === 'sim') return 'sim';
  const stalls = result.networkStalls ?? 0;
  return `libp2p (memory transport${stalls > 0 ? `, ${stalls} stalled deliveries` : ''})`;
}

/** The trace hash identifies a run only on the sim network; on libp2p interleavings vary. */
export function traceNote(result: RunResult): string {
  return result.network === 'sim' ? '' : ' · not reproducible on libp2p';
}

export type OutcomeCounts = Record<TaskOutcome, number>;

export function outcomeCounts(result: RunResult): OutcomeCounts {
  const counts: OutcomeCounts = { completed: 0, failed: 0, expired: 0, pending: 0 };
  for (const task of result.tasks) counts[task.outcome]++;
  return counts;
}

export interface LatencyStats {
  /** How many completed tasks have an end time. */
  count: number;
  p50: number | undefined;
  p95: number | undefined;
  p99: number | undefined;
  max: number | undefined;
}

/** Latency (endedAtMs − requestedAtMs, virtual ms) of completed tasks. */
export function completedLatencies(result: RunResult): number[] {
  const latencies: number[] = [];
  for (const task of result.tasks) {
    if (task.outcome === 'completed' && task.endedAtMs !== undefined) {
      latencies.push(task.endedAtMs - task.requestedAtMs);
    }
  }
  return latencies;
}

export function latencyStats(result: RunResult): LatencyStats {
  const latencies = completedLatencies(result);
  return {
    count: latencies.length,
    p50: percentile(latencies, 50),
    p95: percentile(latencies, 95),
    p99: percentile(latencies, 99),
    max: percentile(latencies, 100),
  };
}

/** How many operators are in each status (in first-seen order). */
export function statusCounts(result: RunResult): Map<string, number> {
  const counts = new Map<string, number>();
  for (const operator of result.operators) {
    counts.set(operator.status, (counts.get(operator.status) ?? 0) + 1);
  }
  return counts;
}

/**
 * Compresses a list of names into ranges where they share a prefix and count up:
 * `op01, op02, op03, op07` → `op01–op03, op07`.
 */
export function compressNames(names: readonly string[]): string {
  const parts: string[] = [];
  let index = 0;
  while (index < names.length) {
    const first = names[index] ?? '';
    let last = index;
    while (last + 1 < names.length && follows(names[last] ?? '', names[last + 1] ?? '')) last++;
    if (last - index >= 2) parts.push(`${first}–${names[last] ?? ''}`);
    else for (let i = index; i <= last; i++) parts.push(names[i] ?? '');
    index = last + 1;
  }
  return parts.join(', ');
}

function follows(previous: string, next: string): boolean {
  const a = /^(.*?)(\d+)$/.exec(previous);
  const b = /^(.*?)(\d+)$/.exec(next);
  if (a === null || b === null || a[1] !== b[1]) return false;
  return Number(b[2]) === Number(a[2]) + 1;
}

/** End of the drawn time axis: the run's duration or the latest time any data mentions. */
export function timeDomainEnd(result: RunResult): number {
  let end = Math.max(0, result.virtualDurationMs);
  for (const task of result.tasks) end = Math.max(end, task.requestedAtMs, task.endedAtMs ?? 0);
  for (const fault of result.faults) end = Math.max(end, fault.fromMs, fault.toMs ?? 0);
  for (const operator of result.operators) {
    for (const change of operator.statusHistory) end = Math.max(end, change.atMs);
  }
  for (const violation of result.violations) end = Math.max(end, violation.atMs);
  return Math.max(1, end);
}

function pad2(value: number): string {
  return String(value).padStart(2, '0');
}
