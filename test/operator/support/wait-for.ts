import { setTimeout as sleep } from 'node:timers/promises';

/** Polls `predicate` on the wall clock (for real async I/O such as PGlite) until it holds. */
export async function waitFor(
  predicate: () => boolean | Promise<boolean>,
  description: string,
  limitMs = 5_000,
): Promise<void> {
  const startedAt = performance.now();
  while (!(await predicate())) {
    if (performance.now() - startedAt > limitMs) {
      throw new Error(`timed out after ${limitMs} ms waiting for: ${description}`);
    }
    await sleep(5);
  }
}
