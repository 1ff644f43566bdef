import fc from 'fast-check';
import type { Hex } from 'viem';
import { describe, expect, test } from 'vitest';
import { createJoinNonceCache } from './join-nonces.ts';

const nonce = (n: number): Hex => `0x${n.toString(16).padStart(64, '0')}`;

describe('join nonce cache', () => {
  test('behavior: a nonce is refused until its expiry, then forgotten', () => {
    const cache = createJoinNonceCache();
    expect(cache.claim(nonce(1), 1000, 0)).toBe(true);
    expect(cache.claim(nonce(1), 1000, 500)).toBe(false);
    expect(cache.claim(nonce(1).toUpperCase().replace('0X', '0x') as Hex, 1000, 999)).toBe(false);
    expect(cache.claim(nonce(1), 1000, 1000)).toBe(false);
    expect(cache.claim(nonce(1), 3000, 1001)).toBe(true);
  });

  test('behavior: bounded; when full of live nonces the soonest-expiring one is dropped', () => {
    const cache = createJoinNonceCache({ maxEntries: 3 });
    cache.claim(nonce(1), 500, 0);
    cache.claim(nonce(2), 100, 0);
    cache.claim(nonce(3), 900, 0);
    expect(cache.claim(nonce(4), 900, 0)).toBe(true);
    expect(cache.size()).toBe(3);
    expect(cache.claim(nonce(2), 100, 0)).toBe(true); // nonce 2 had been dropped
    expect(cache.claim(nonce(3), 900, 0)).toBe(false);
  });

  test('behavior: expired entries are pruned before anything live is dropped', () => {
    const cache = createJoinNonceCache({ maxEntries: 2 });
    cache.claim(nonce(1), 10, 0);
    cache.claim(nonce(2), 1000, 0);
    expect(cache.claim(nonce(3), 1000, 50)).toBe(true);
    expect(cache.claim(nonce(2), 1000, 50)).toBe(false);
    expect(cache.size()).toBe(2);
  });

  test('property: without eviction pressure it agrees with a model that remembers everything', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.record({
            nonce: fc.integer({ min: 0, max: 5 }),
            ttlMs: fc.integer({ min: 0, max: 100 }),
            stepMs: fc.integer({ min: 0, max: 40 }),
          }),
          { maxLength: 60 },
        ),
        (steps) => {
          const cache = createJoinNonceCache({ maxEntries: 100 });
          const model = new Map<number, number>();
          let now = 0;
          for (const step of steps) {
            now += step.stepMs;
            const until = model.get(step.nonce);
            const expected = until === undefined || until < now;
            expect(cache.claim(nonce(step.nonce), now + step.ttlMs, now)).toBe(expected);
            if (expected) model.set(step.nonce, now + step.ttlMs);
          }
        },
      ),
    );
  });
});
