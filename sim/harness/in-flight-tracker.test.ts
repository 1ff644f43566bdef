import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, test } from 'vitest';
import { createInFlightTracker } from './in-flight-tracker.ts';

/** Resolves to how long (wall ms) `promise` took, or rejects after `limitMs`. */
async function timed(promise: Promise<void>, limitMs = 2_000): Promise<number> {
  const startedAt = performance.now();
  await Promise.race([
    promise,
    sleep(limitMs).then(() => {
      throw new Error(`not resolved within ${limitMs} ms`);
    }),
  ]);
  return performance.now() - startedAt;
}

describe('in-flight tracker', () => {
  test('behavior: idle at once when nothing is counted; busy from begin until end', async () => {
    const tracker = createInFlightTracker({ stallAfterMs: 10_000 });
    expect(tracker.busy()).toBe(false);
    await timed(tracker.idle(), 50);
    const work = tracker.begin('request a→b');
    expect(tracker.busy()).toBe(true);
    let idle = false;
    const waiting = tracker.idle().then(() => {
      idle = true;
    });
    await sleep(20);
    expect(idle).toBe(false);
    work.end();
    await timed(waiting, 100);
    expect(tracker.busy()).toBe(false);
    work.end(); // idempotent
    expect(tracker.inFlight()).toBe(0);
  });

  test('behavior: paused work does not count until it resumes', async () => {
    const tracker = createInFlightTracker({ stallAfterMs: 10_000 });
    const work = tracker.begin('request a→b');
    work.pause();
    expect(tracker.busy()).toBe(false);
    await timed(tracker.idle(), 50);
    work.resume();
    expect(tracker.busy()).toBe(true);
    work.end();
    work.resume(); // ended work stays ended
    expect(tracker.busy()).toBe(false);
  });

  test('behavior: a condition counts until it holds', async () => {
    const tracker = createInFlightTracker({ stallAfterMs: 10_000, pollIntervalMs: 2 });
    let holds = false;
    tracker.waitFor('subscription known', () => holds);
    expect(tracker.busy()).toBe(true);
    setTimeout(() => {
      holds = true;
    }, 30);
    const tookMs = await timed(tracker.idle(), 1_000);
    expect(tookMs).toBeGreaterThanOrEqual(25);
    expect(tracker.busy()).toBe(false);
    tracker.waitFor('already true', () => true);
    expect(tracker.inFlight()).toBe(0);
  });

  test('behavior: a condition added while idle() waits on long work is polled at once', async () => {
    const tracker = createInFlightTracker({ stallAfterMs: 5_000, pollIntervalMs: 2 });
    const work = tracker.begin('dial a→b');
    const waiting = tracker.idle();
    let holds = false;
    tracker.waitFor('subscription known', () => holds);
    work.end();
    setTimeout(() => {
      holds = true;
    }, 20);
    // Without re-arming, the next check would come only at the 5 s stall deadline.
    expect(await timed(waiting, 1_000)).toBeLessThan(1_000);
  });

  test('behavior: work counted past the stall bound stops holding idle() and is reported once', async () => {
    const stalled: string[] = [];
    const tracker = createInFlightTracker({
      stallAfterMs: 40,
      onStall: (label) => stalled.push(label),
    });
    const lost = tracker.begin('gossip registry→op01');
    const tookMs = await timed(tracker.idle(), 1_000);
    expect(tookMs).toBeGreaterThanOrEqual(35);
    expect(stalled).toEqual(['gossip registry→op01']);
    expect(tracker.stallCount()).toBe(1);
    expect(tracker.busy()).toBe(false);
    expect(tracker.inFlight()).toBe(1);
    lost.end();
    expect(tracker.inFlight()).toBe(0);
    expect(tracker.stallCount()).toBe(1);
  });

  test('behavior: a longer stall bound (startup) keeps slow work counted until it ends', async () => {
    const tracker = createInFlightTracker({ stallAfterMs: 30 });
    tracker.setStallAfterMs(5_000);
    const handshake = tracker.begin('dial op99→registry');
    setTimeout(() => handshake.end(), 80);
    expect(await timed(tracker.idle(), 1_000)).toBeGreaterThanOrEqual(75);
    expect(tracker.stallCount()).toBe(0);
    tracker.setStallAfterMs(30);
    tracker.begin('gossip registry→op01');
    await timed(tracker.idle(), 1_000);
    expect(tracker.stallCount()).toBe(1);
  });

  test('behavior: clear() ends everything and releases waiters', async () => {
    const tracker = createInFlightTracker({ stallAfterMs: 10_000 });
    tracker.begin('request a→b');
    tracker.waitFor('never', () => false);
    const waiting = tracker.idle();
    tracker.clear();
    await timed(waiting, 100);
    expect(tracker.inFlight()).toBe(0);
  });
});
