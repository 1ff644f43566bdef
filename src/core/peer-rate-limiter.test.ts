import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { createPeerRateLimiter } from './peer-rate-limiter.ts';

describe('per-peer rate limiter', () => {
  test('behavior: a burst is allowed, the next message is refused, tokens come back over time', () => {
    const limiter = createPeerRateLimiter({ ratePerSec: 2, burst: 3, maxTrackedPeers: 10 });
    expect([1, 2, 3, 4].map(() => limiter.tryTake('a', 0))).toEqual([true, true, true, false]);
    expect(limiter.tryTake('a', 499)).toBe(false);
    expect(limiter.tryTake('a', 500)).toBe(true);
    expect(limiter.tryTake('a', 500)).toBe(false);
  });

  test('behavior: peers have separate buckets', () => {
    const limiter = createPeerRateLimiter({ ratePerSec: 1, burst: 1, maxTrackedPeers: 10 });
    expect(limiter.tryTake('a', 0)).toBe(true);
    expect(limiter.tryTake('a', 0)).toBe(false);
    expect(limiter.tryTake('b', 0)).toBe(true);
  });

  test('behavior: tracked peers stay bounded, the least recently seen is forgotten', () => {
    const limiter = createPeerRateLimiter({ ratePerSec: 1, burst: 1, maxTrackedPeers: 2 });
    limiter.tryTake('a', 0);
    limiter.tryTake('b', 0);
    limiter.tryTake('a', 0); // a is now the most recent
    limiter.tryTake('c', 0); // evicts b
    expect(limiter.trackedPeerCount()).toBe(2);
    expect(limiter.tryTake('a', 0)).toBe(false); // still tracked, still empty
    expect(limiter.tryTake('b', 0)).toBe(true); // forgotten → fresh bucket
  });

  test('property: over any window no peer gets more than burst + rate × window', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 20 }),
        fc.integer({ min: 1, max: 10 }),
        fc.array(fc.integer({ min: 0, max: 300 }), { minLength: 1, maxLength: 200 }),
        (ratePerSec, burst, gapsMs) => {
          const limiter = createPeerRateLimiter({ ratePerSec, burst, maxTrackedPeers: 4 });
          let nowMs = 0;
          let allowed = 0;
          for (const gapMs of gapsMs) {
            nowMs += gapMs;
            if (limiter.tryTake('p', nowMs)) allowed++;
          }
          expect(allowed).toBeLessThanOrEqual(burst + Math.floor((ratePerSec * nowMs) / 1000));
        },
      ),
    );
  });

  test('bad input: rates and sizes are checked', () => {
    expect(() => createPeerRateLimiter({ ratePerSec: 0, burst: 1, maxTrackedPeers: 1 })).toThrow(
      /ratePerSec/,
    );
    expect(() => createPeerRateLimiter({ ratePerSec: 1, burst: 0, maxTrackedPeers: 1 })).toThrow(
      /burst/,
    );
    expect(() => createPeerRateLimiter({ ratePerSec: 1, burst: 1, maxTrackedPeers: 0 })).toThrow(
      /maxTrackedPeers/,
    );
  });
});
