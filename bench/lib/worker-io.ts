/**
 * The contract between `bench/run.ts` and its workers: the parent passes one JSON config and a
 * result path on the command line; the worker prints progress lines on stderr and writes its
 * result as JSON to the path (not stdout, which libraries may write to).
 */
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

export interface WorkerArgs<T> {
  config: T;
  resultPath: string;
}

export function readWorkerArgs<T>(): WorkerArgs<T> {
  const { values } = parseArgs({
    options: { config: { type: 'string' }, result: { type: 'string' } },
  });
  if (values.config === undefined || values.result === undefined) {
    throw new Error(
      'bench worker: expects --config <json> --result <path> (run it via pnpm bench)',
    );
  }
  return { config: JSON.parse(values.config) as T, resultPath: values.result };
}

export function writeWorkerResult(resultPath: string, result: unknown): void {
  writeFileSync(resultPath, `${JSON.stringify(result, null, 2)}\n`);
}

/** One progress line for a person watching `pnpm bench` (the parent indents and forwards it). */
export function progress(message: string): void {
  process.stderr.write(`${message}\n`);
}

/** Peak and current resident set size of this process, in MiB. */
export function memoryMiB(): { peakRssMiB: number; rssMiB: number; heapUsedMiB: number } {
  const usage = process.memoryUsage();
  return {
    // maxRSS is in KiB on Linux and macOS.
    peakRssMiB: process.resourceUsage().maxRSS / 1024,
    rssMiB: usage.rss / 2 ** 20,
    heapUsedMiB: usage.heapUsed / 2 ** 20,
  };
}
