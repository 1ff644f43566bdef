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

  test('behavior: ordinary timers due at one instant all fire before the clock waits; an exclusive one fires alone', async () => {
    const log: string[] = [];
    let settles = 0;
    const clock = createVirtualClock({
      sameInstantTogether: true,
      settle: async () => {
        settles++;
        log.push('settle');
        await Promise.resolve();
      },
    });
    clock.setTimer(10, () => log.push('a'));
    clock.setTimer(10, () => log.push('b'));
    clock.setExclusiveTimer(10, () => log.push('exclusive'));
    clock.setTimer(10, () => log.push('c'));
    clock.setTimer(20, () => log.push('d'));
    await clock.advanceTo(30);
    expect(log).toEqual([
      'settle',
      'a',
      'b',
      'settle',
      'exclusive',
      'settle',
      'c',
      'settle',
      'd',
      'settle',
      'settle',
    ]);
    expect(settles).toBe(6);
  });

  test('behavior: a timer cancelled by an earlier timer of the same instant does not fire', async () => {
    const clock = createVirtualClock({ sameInstantTogether: true });
    const fired: string[] = [];
    clock.setTimer(5, () => {
      fired.push('first');
      second.cancel();
    });
    const second = clock.setTimer(5, () => fired.push('second'));
    await clock.advanceBy(10);
    expect(fired).toEqual(['first']);
  });

  test('behavior: fireDueNow fires the timers that became due at the current instant, only while advancing', async () => {
    const fired: string[] = [];
    let fireDuringSettle: boolean[] = [];
    const clock = createVirtualClock({
      sameInstantTogether: true,
      settle: async () => {
        fireDuringSettle.push(clock.fireDueNow());
      },
    });
    clock.setTimer(0, () => fired.push('before the advance'));
    expect(clock.fireDueNow()).toBe(false);
    expect(fired).toEqual([]);

    clock.setTimer(10, () => {
      fired.push('at 10');
      // A message on an instant link, then a step of the harness, then another message.
      clock.setTimer(0, () => fired.push('zero delay'));
      clock.setExclusiveTimer(0, () => fired.push('exclusive'));
      clock.setTimer(0, () => fired.push('after the exclusive'));
      clock.setTimer(1, () => fired.push('at 11'));
    });
    fireDuringSettle = [];
    await clock.advanceTo(10);
    // The settle after 'at 10' fired the zero-delay timer, but not past the exclusive one.
    expect(fired).toEqual([
      'before the advance',
      'at 10',
      'zero delay',
      'exclusive',
      'after the exclusive',
    ]);
    expect(fireDuringSettle).toContain(true);
    expect(clock.now()).toBe(10);
    expect(clock.pendingTimerCount()).toBe(1);
    expect(clock.fireDueNow()).toBe(false);
  });

  test('behavior: without sameInstantTogether the clock waits after every timer and fireDueNow does nothing', async () => {
    const log: string[] = [];
    const clock = createVirtualClock({
      settle: async () => {
        log.push(`settle ${clock.fireDueNow()}`);
      },
    });
    clock.setTimer(10, () => {
      log.push('a');
      clock.setTimer(0, () => log.push('zero delay'));
    });
    clock.setTimer(10, () => log.push('b'));
    await clock.advanceTo(10);
    expect(log).toEqual([
      'settle false',
      'a',
      'settle false',
      'b',
      'settle false',
      'zero delay',
      'settle false',
      'settle false',
    ]);
  });
});
