/**
 * Writes a run's outputs next to each other: the JSONL trace, the HTML report and the plain-text
 * summary (SPEC §7 "Output").
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { RunResult } from '../run-result.ts';
import { renderHtmlReport } from './html-report.ts';
import { formatSummary } from './summary-table.ts';

export interface RunOutputPaths {
  dir: string;
  trace: string;
  report: string;
  summary: string;
}

/**
 * Creates `dir` if needed and writes `trace.jsonl` (each line followed by `\n`, so the file's
 * sha256 is the trace hash), `report.html` and `summary.txt` (no colours). The report and summary
 * name the trace and report paths; epoch boundaries come from the trace's `epoch` events when the
 * result has none.
 */
export async function writeRunOutputs(
  result: RunResult,
  traceLines: readonly string[],
  dir: string,
): Promise<RunOutputPaths> {
  const absolute = resolve(dir);
  const paths: RunOutputPaths = {
    dir: absolute,
    trace: join(absolute, 'trace.jsonl'),
    report: join(absolute, 'report.html'),
    summary: join(absolute, 'summary.txt'),
  };
  await mkdir(absolute, { recursive: true });
  const shown: RunResult = {
    ...result,
    tracePath: paths.trace,
    reportPath: paths.report,
    ...(result.epochStarts === undefined ? { epochStarts: epochStartsFromTrace(traceLines) } : {}),
  };
  await writeFile(paths.trace, traceLines.map((line) => `${line}\n`).join(''));
  await writeFile(paths.report, renderHtmlReport(shown));
  await writeFile(paths.summary, formatSummary(shown));
  return paths;
}

/** The `{"kind":"epoch","epoch":N}` events of a trace, as epoch start times. */
export function epochStartsFromTrace(
  traceLines: readonly string[],
): { epoch: number; atMs: number }[] {
  const starts: { epoch: number; atMs: number }[] = [];
  for (const line of traceLines) {
    if (!line.includes('"kind":"epoch"')) continue;
    let event: unknown;
    try {
      event = JSON.parse(line);
    } catch {
      continue;
    }
    if (typeof event !== 'object' || event === null) continue;
    const record = event as Record<string, unknown>;
    if (
      record['kind'] === 'epoch' &&
      typeof record['epoch'] === 'number' &&
      typeof record['atMs'] === 'number'
    ) {
      starts.push({ epoch: record['epoch'], atMs: record['atMs'] });
    }
  }
  return starts;
}
