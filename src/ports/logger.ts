/**
 * Structured logging as node code sees it: a message plus context as data
 * (`log.info('task signed', { taskId })`), one logger per component.
 */
export type LogData = Record<string, unknown>;

export interface Logger {
  debug(message: string, data?: LogData): void;
  info(message: string, data?: LogData): void;
  warn(message: string, data?: LogData): void;
  error(message: string, data?: LogData): void;
  /** A logger for a sub-component: `log.child('aggregator')` logs with `component: 'aggregator'`. */
  child(component: string, data?: LogData): Logger;
}
