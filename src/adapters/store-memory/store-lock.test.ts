import { describe, expect, test } from 'vitest';
import { StoreLock } from './store-lock.ts';

describe('StoreLock', () => {
  test('behavior: an immediate call with nothing queued runs synchronously', async () => {
    const lock = new StoreLock();
    let ran = false;
    const result = lock.immediate(() => {
      ran = true;
      return 7;
    });
    expect(ran).toBe(true);
    expect(await result).toBe(7);
  });

  test('behavior: calls made while exclusive work runs wait for it, in arrival order', async () => {
    const lock = new StoreLock();
    const order: string[] = [];
    let release: () => void = () => {};
    const held = lock.exclusive(async () => {
      order.push('tx start');
      await new Promise<void>((resolve) => {
        release = resolve;
      });
      order.push('tx end');
    });
    const first = lock.immediate(() => order.push('first'));
    const second = lock.exclusive(async () => {
      order.push('second');
    });
    const third = lock.immediate(() => order.push('third'));
    await Promise.resolve();
    expect(order).toEqual(['tx start']);
    release();
    await Promise.all([held, first, second, third]);
    expect(order).toEqual(['tx start', 'tx end', 'first', 'second', 'third']);
    let after = false;
    void lock.immediate(() => {
      after = true;
    });
    expect(after).toBe(true);
  });

  test('behavior: a failure reaches its caller only and releases the lock', async () => {
    const lock = new StoreLock();
    const failed = lock.exclusive(async () => {
      throw new Error('boom');
    });
    const next = lock.immediate(() => 'ran');
    await expect(failed).rejects.toThrow('boom');
    expect(await next).toBe('ran');
    await expect(
      lock.immediate(() => {
        throw new Error('sync boom');
      }),
    ).rejects.toThrow('sync boom');
  });
});
