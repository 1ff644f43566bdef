import { describe, expect, test } from 'vitest';
import { createPeerBlacklist } from './peer-blacklist.ts';

describe('peer blacklist', () => {
  test('behavior: a ban holds until its end and then expires by itself', () => {
    const blacklist = createPeerBlacklist({ maxBans: 10 });
    blacklist.ban('a', 1000, 'malformed message');
    expect(blacklist.banOf('a', 999)).toEqual({
      peer: 'a',
      untilMs: 1000,
      reason: 'malformed message',
    });
    expect(blacklist.isBanned('a', 1000)).toBe(false);
    expect(blacklist.activeBans(1000)).toEqual([]);
  });

  test('behavior: a shorter ban does not cut a longer one short; a longer one extends it', () => {
    const blacklist = createPeerBlacklist({ maxBans: 10 });
    blacklist.ban('a', 5000, 'flood');
    blacklist.ban('a', 1000, 'oversize');
    expect(blacklist.banOf('a', 0)?.reason).toBe('flood');
    blacklist.ban('a', 9000, 'replay');
    expect(blacklist.banOf('a', 6000)?.reason).toBe('replay');
  });

  test('behavior: when full, the ban that ends first makes room; lift removes a ban', () => {
    const blacklist = createPeerBlacklist({ maxBans: 2 });
    blacklist.ban('a', 100, 'x');
    blacklist.ban('b', 300, 'x');
    blacklist.ban('c', 200, 'x');
    expect(blacklist.activeBans(0).map((ban) => ban.peer)).toEqual(['c', 'b']);
    blacklist.ban('d', 50, 'x'); // ends before every kept ban: not worth evicting one
    expect(blacklist.isBanned('d', 0)).toBe(false);
    expect(blacklist.lift('b')).toBe(true);
    expect(blacklist.isBanned('b', 0)).toBe(false);
  });

  test('bad input: maxBans is checked', () => {
    expect(() => createPeerBlacklist({ maxBans: 0 })).toThrow(/maxBans/);
  });
});
