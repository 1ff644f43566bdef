import ora from 'ora';

/**
 * A spinner with elapsed time on stderr while the CLI waits (ora). When stderr is not a terminal
 * there is no animation and no colour: one plain line at the start and one at the end.
 */
export interface Progress {
  succeed(text: string): void;
  fail(text: string): void;
  stop(): void;
}

export function startProgress(
  stream: NodeJS.WritableStream & { isTTY?: boolean },
  text: string,
): Progress {
  const startedAt = Date.now();
  const elapsed = () => `${((Date.now() - startedAt) / 1_000).toFixed(1)} s`;
  if (stream.isTTY !== true) {
    stream.write(`… ${text}\n`);
    return {
      succeed: (message) => stream.write(`✔ ${message} in ${elapsed()}\n`),
      fail: (message) => stream.write(`✖ ${message} after ${elapsed()}\n`),
      stop: () => {},
    };
  }
  const spinner = ora({ text, stream, discardStdin: false }).start();
  const timer = setInterval(() => {
    spinner.text = `${text} (${((Date.now() - startedAt) / 1_000).toFixed(0)} s)`;
  }, 1_000);
  return {
    succeed(message) {
      clearInterval(timer);
      spinner.succeed(`${message} in ${elapsed()}`);
    },
    fail(message) {
      clearInterval(timer);
      spinner.fail(`${message} after ${elapsed()}`);
    },
    stop() {
      clearInterval(timer);
      spinner.stop();
    },
  };
}
