import pino from 'pino';
import type { LogData, Logger } from '../../ports/logger.ts';

/** JSON logs through pino (production wiring). Context is logged as data, never interpolated. */
export function createPinoLogger(options: { level?: string; name?: string } = {}): Logger {
  return wrap(
    pino({ level: options.level ?? 'info', ...(options.name ? { name: options.name } : {}) }),
  );
}

function wrap(base: pino.Logger): Logger {
  const at =
    (level: 'debug' | 'info' | 'warn' | 'error') =>
    (message: string, data?: LogData): void => {
      if (data) base[level](data, message);
      else base[level](message);
    };
  return {
    debug: at('debug'),
    info: at('info'),
    warn: at('warn'),
    error: at('error'),
    child: (component, data) => wrap(base.child({ component, ...data })),
  };
}
