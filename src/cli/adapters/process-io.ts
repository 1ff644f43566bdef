import { mkdir, readFile } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import { Writable } from 'node:stream';

/**
 * Everything the CLI takes from its process: arguments, environment, streams, files, signals,
 * exit. The commands are written against this interface, so they can run in a test with a fake
 * one; this file is the one place that touches `process`.
 */
export interface CliIo {
  /** Arguments after the script name. */
  readonly argv: readonly string[];
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly cwd: string;
  readonly stdout: NodeJS.WritableStream & { isTTY?: boolean };
  readonly stderr: NodeJS.WritableStream & { isTTY?: boolean };
  readonly stdin: NodeJS.ReadableStream & { isTTY?: boolean };
  readTextFile(path: string): Promise<string>;
  /** Creates a directory and its parents (no-op when it exists). */
  ensureDirectory(path: string): Promise<void>;
  /** Reads stdin to its end. */
  readStdin(): Promise<string>;
  /** Asks on the terminal without echoing the answer; only when stdin is a terminal. */
  promptSecret(question: string): Promise<string>;
  /** Calls `handler` on SIGINT and SIGTERM; returns a function that removes it. */
  onSignal(handler: (signal: 'SIGINT' | 'SIGTERM') => void): () => void;
  /** Calls `handler` once stdin ends (a supervisor that died or closed our input). */
  onStdinClose(handler: () => void): void;
  exit(code: number): never;
  /** Sets the code the process ends with when it ends by itself. */
  setExitCode(code: number): void;
}

export function createProcessIo(): CliIo {
  return {
    argv: process.argv.slice(2),
    env: process.env,
    cwd: process.cwd(),
    stdout: process.stdout,
    stderr: process.stderr,
    stdin: process.stdin,
    readTextFile: (path) => readFile(path, 'utf8'),
    async ensureDirectory(path) {
      await mkdir(path, { recursive: true });
    },
    async readStdin() {
      const chunks: Buffer[] = [];
      for await (const chunk of process.stdin) chunks.push(Buffer.from(chunk as Buffer));
      return Buffer.concat(chunks).toString('utf8');
    },
    promptSecret(question) {
      return new Promise((resolve, reject) => {
        let muted = false;
        const output = new Writable({
          write(chunk, _encoding, callback) {
            if (!muted) process.stderr.write(chunk);
            callback();
          },
        });
        const rl = createInterface({ input: process.stdin, output, terminal: true });
        rl.on('SIGINT', () => {
          rl.close();
          process.stderr.write('\n');
          reject(new Error('cancelled'));
        });
        rl.question(question, (answer) => {
          rl.close();
          process.stderr.write('\n');
          resolve(answer);
        });
        muted = true;
      });
    },
    onSignal(handler) {
      const onInt = () => handler('SIGINT');
      const onTerm = () => handler('SIGTERM');
      process.on('SIGINT', onInt);
      process.on('SIGTERM', onTerm);
      return () => {
        process.off('SIGINT', onInt);
        process.off('SIGTERM', onTerm);
      };
    },
    onStdinClose(handler) {
      process.stdin.on('end', handler);
      process.stdin.on('close', handler);
      process.stdin.resume();
    },
    exit(code) {
      process.exit(code);
    },
    setExitCode(code) {
      process.exitCode = code;
    },
  };
}
