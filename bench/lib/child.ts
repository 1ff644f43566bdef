/**
 * Runs one bench worker in its own Node process (so memory figures do not mix), forwards its
 * progress lines indented, enforces a wall-time limit, and reads the JSON result it wrote.
 */
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { createInterface } from 'node:readline';

export class WorkerFailedError extends Error {
  readonly code = 'BENCH_WORKER_FAILED';
}

export async function runWorker<T>(args: {
  script: string;
  config: unknown;
  resultPath: string;
  timeoutMs: number;
  /** Extra Node flags, e.g. `--cpu-prof`. */
  nodeFlags?: string[];
}): Promise<T> {
  rmSync(args.resultPath, { force: true });
  const child = spawn(
    process.execPath,
    [
      ...(args.nodeFlags ?? []),
      args.script,
      '--config',
      JSON.stringify(args.config),
      '--result',
      args.resultPath,
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const lastLines: string[] = [];
  for (const stream of [child.stdout, child.stderr]) {
    createInterface({ input: stream }).on('line', (line) => {
      process.stdout.write(`    ${line}\n`);
      lastLines.push(line);
      if (lastLines.length > 20) lastLines.shift();
    });
  }
  let timedOut = false;
  let killTimer: NodeJS.Timeout | undefined;
  const limit = setTimeout(() => {
    timedOut = true;
    child.kill('SIGTERM');
    killTimer = setTimeout(() => child.kill('SIGKILL'), 10_000);
  }, args.timeoutMs);
  const exitCode = await new Promise<number | null>((resolve) => {
    child.on('exit', (code) => resolve(code));
  });
  clearTimeout(limit);
  if (killTimer) clearTimeout(killTimer);
  if (timedOut) {
    throw new WorkerFailedError(`timed out after ${Math.round(args.timeoutMs / 1000)} s`);
  }
  if (exitCode !== 0 || !existsSync(args.resultPath)) {
    const detail = lastLines.filter((line) => line.includes('FAILED')).at(-1) ?? lastLines.at(-1);
    throw new WorkerFailedError(`exited with ${exitCode}${detail ? `: ${detail}` : ''}`);
  }
  return JSON.parse(readFileSync(args.resultPath, 'utf8')) as T;
}
