import { createHash } from 'node:crypto';
import type { Clock } from '../../src/ports/clock.ts';
import type { LogData, Logger } from '../../src/ports/logger.ts';
import type { TraceEvent } from '../run-result.ts';

/** JSON with bigints as decimal strings and errors as their message. */
export function stableJson(value: unknown): string {
  // A replacer costs a call per value; most trace events hold neither bigints nor errors.
  return needsReplacer(value, 0) ? JSON.stringify(value, replaceSpecial) : JSON.stringify(value);
}

function replaceSpecial(_key: string, v: unknown): unknown {
  if (typeof v === 'bigint') return v.toString();
  if (v instanceof Error) return `${v.name}: ${v.message}`;
  return v;
}

/** Whether `value` holds a bigint or an Error (or nests deeper than any event does). */
function needsReplacer(value: unknown, depth: number): boolean {
  if (typeof value === 'bigint' || value instanceof Error) return true;
  if (value === null || typeof value !== 'object') return false;
  if (depth > 16) return true;
  for (const nested of Object.values(value)) {
    if (needsReplacer(nested, depth + 1)) return true;
  }
  return false;
}

/**
 * The run's trace: every event as one JSON line, hashed as it is written, so two runs of one
 * seed can be compared by hash and, line by line, to find the first divergence.
 */
export interface Trace {
  record(event: TraceEvent): void;
  lines(): string[];
  hash(): string;
  count(): number;
  /** Listeners see every event (progress, invariant bookkeeping). */
  onEvent(listener: (event: TraceEvent) => void): void;
}

export function createTrace(options: { keepLines?: boolean } = {}): Trace {
  const hasher = createHash('sha256');
  const kept: string[] = [];
  const listeners: ((event: TraceEvent) => void)[] = [];
  let count = 0;
  return {
    record(event) {
      const line = stableJson(event);
      hasher.update(line);
      hasher.update('\n');
      count++;
      if (options.keepLines !== false) kept.push(line);
      for (const listener of listeners) listener(event);
    },
    lines: () => kept,
    hash: () => hasher.copy().digest('hex'),
    count: () => count,
    onEvent: (listener) => listeners.push(listener),
  };
}

/** A Logger that writes node logs into the trace, stamped with virtual time. */
export function createTraceLogger(
  trace: Trace,
  clock: Pick<Clock, 'now'>,
  node: string,
  minimum: 'debug' | 'info' = 'info',
): Logger {
  const make = (component: string, context: LogData): Logger => {
    const at =
      (level: 'debug' | 'info' | 'warn' | 'error') => (message: string, data?: LogData) => {
        if (level === 'debug' && minimum !== 'debug') return;
        trace.record({
          atMs: clock.now(),
          kind: 'log',
          node,
          level,
          component,
          message,
          ...context,
          ...data,
        });
      };
    return {
      debug: at('debug'),
      info: at('info'),
      warn: at('warn'),
      error: at('error'),
      child: (name, data) =>
        make(component ? `${component}:${name}` : name, { ...context, ...data }),
    };
  };
  return make('', {});
}
