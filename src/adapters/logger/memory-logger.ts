import type { LogData, Logger } from '../../ports/logger.ts';

export interface LogEntry {
  level: 'debug' | 'info' | 'warn' | 'error';
  component: string;
  message: string;
  data: LogData;
}

/**
 * Keeps log entries in memory (tests, simulator traces). Bounded: the oldest entries are
 * dropped past `maxEntries`.
 */
export function createMemoryLogger(
  options: { maxEntries?: number; echo?: boolean } = {},
): Logger & {
  entries: LogEntry[];
} {
  const entries: LogEntry[] = [];
  const maxEntries = options.maxEntries ?? 10_000;
  const make = (component: string, context: LogData): Logger => {
    const at =
      (level: LogEntry['level']) =>
      (message: string, data?: LogData): void => {
        const entry = { level, component, message, data: { ...context, ...data } };
        entries.push(entry);
        if (entries.length > maxEntries) entries.shift();
        if (options.echo)
          console.log(JSON.stringify(entry, (_k, v) => (typeof v === 'bigint' ? v.toString() : v)));
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
  return Object.assign(make('', {}), { entries });
}
