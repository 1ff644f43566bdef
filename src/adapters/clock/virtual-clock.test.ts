import { describe, expect, test } from 'vitest';
import { createVirtualClock } from './virtual-clock.ts';

describe('virtual clock', () => {
  test('behavior: timers fire in due order, ties in creation order, at their own instant', async () => {
    const clock = createVirtualClock({ startMs: 1_000 });
    const fired: string[] = [];
    clock.setTimer(50, () => fired.push(`b@${clock.now()}`));
    clock.setTimer(10, () => fired.push(`a@${clock.now()}`));
    clock.setTimer(50, () => fired.push(`c@${clock.now()}`));
    clock.setTimer(500, () => fired.push('late'));
    await clock.advanceBy(100);
    expect(fired).toEqual(['a@1010', 'b@1050', 'c@1050']);
    expect(clock.now()).toBe(1_100);
    expect(clock.pendingTimerCount()).toBe(1);
  });

  test('behavior: async work started by a timer completes before the next timer fires', async () => {
    const clock = createVirtualClock();
    const order: string[] = [];
    clock.setTimer(1, () => {
      void (async () => {
        await Promise.resolve();
        await new Promise((resolve) => setImmediate(resolve));
        order.push('first done');
      })();
    });
    clock.setTimer(2, () => order.push('second'));
    await clock.advanceBy(5);
    expect(order).toEqual(['first done', 'second']);
  });

  test('behavior: sleep resolves at virtual time and rejects when aborted; cancel removes a timer', async () => {
    const clock = createVirtualClock();
    const controller = new AbortController();
    let woke = -1;
    void clock.sleep(30).then(() => {
      woke = clock.now();
    });
    const aborted = clock.sleep(1_000, { signal: controller.signal }).catch(() => 'aborted');
    const handle = clock.setTimer(10, () => {
      throw new Error('cancelled timer fired');
    });
    handle.cancel();
    await clock.advanceBy(40);
    expect(woke).toBe(30);
    controller.abort();
    expect(await aborted).toBe('aborted');
    expect(clock.pendingTimerCount()).toBe(0);
  });

  test('behavior: timers set while advancing fire in the same advance when due', async () => {
    const clock = createVirtualClock();
    const ticks: number[] = [];
    const tick = () => {
      ticks.push(clock.now());
      if (ticks.length < 5) clock.setTimer(10, tick);
    };
    clock.setTimer(10, tick);
    await clock.advanceTo(35);
    expect(ticks).toEqual([10, 20, 30]);
    await expect(clock.advanceTo(0)).rejects.toThrow(RangeError);
  });
});
