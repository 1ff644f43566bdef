import { describe, expect, test } from 'vitest';
import { PROTOCOLS, TOPICS } from '../ports/network.ts';
import type { Rejection } from '../ports/rejections.ts';
import {
  createPeerGuard,
  DEFAULT_PEER_GUARD_OPTIONS,
  type PeerGuardOptions,
} from './peer-guard.ts';

function guardFor(options: Partial<PeerGuardOptions> = {}, admitted: string[] = ['operator']) {
  let nowMs = 0;
  const hungUp: string[] = [];
  const reported: Rejection[] = [];
  const guard = createPeerGuard(
    {
      now: () => nowMs,
      isAdmitted: (peer) => admitted.includes(peer),
      isProtected: (peer) => peer === 'registry',
      hangUp: (peer) => hungUp.push(peer),
      report: (rejection) => reported.push(rejection),
    },
    {
      ...DEFAULT_PEER_GUARD_OPTIONS,
      openChannels: [PROTOCOLS.join, PROTOCOLS.health],
      unknownPeerGraceMs: 1000,
      ...options,
    },
  );
  return {
    guard,
    hungUp,
    reported,
    advance: (ms: number) => {
      nowMs += ms;
    },
  };
}

describe('peer guard', () => {
  test('behavior: admitted peers use every channel; unknown peers only the open ones, while they keep using them', () => {
    const { guard, advance } = guardFor();
    expect(guard.refusePeer('operator')).toBeUndefined();
    expect(guard.refuseMessage('operator', PROTOCOLS.response)).toBeUndefined();

    expect(guard.refusePeer('newcomer')).toBeUndefined();
    expect(guard.refuseMessage('newcomer', PROTOCOLS.join)).toBeUndefined();
    expect(guard.refuseMessage('newcomer', PROTOCOLS.response)).toBe('not_admitted');
    // Each use of an open channel renews the grace: an honest operator retrying its join stays in.
    advance(900);
    expect(guard.refuseMessage('newcomer', PROTOCOLS.join)).toBeUndefined();
    advance(900);
    expect(guard.refuseMessage('newcomer', PROTOCOLS.health)).toBeUndefined();
    advance(1001);
    expect(guard.refuseMessage('newcomer', PROTOCOLS.join)).toBe('not_admitted');
    expect(guard.refusePeer('newcomer')).toBe('not_admitted');
    expect(guard.countOf('not_admitted')).toBe(3);
    expect(guard.countOf('not_admitted', 'connection')).toBe(1);
  });

  test('behavior: over the per-peer rate a message is refused as rate_limited, per peer and channel', () => {
    const { guard, advance } = guardFor(
      { rateLimits: { [TOPICS.task]: { ratePerSec: 1, burst: 2 } } },
      ['a', 'b'],
    );
    expect([1, 2, 3].map(() => guard.refuseMessage('a', TOPICS.task))).toEqual([
      undefined,
      undefined,
      'rate_limited',
    ]);
    expect(guard.refuseMessage('b', TOPICS.task)).toBeUndefined();
    expect(guard.refuseMessage('a', PROTOCOLS.sync)).toBeUndefined();
    advance(1000);
    expect(guard.refuseMessage('a', TOPICS.task)).toBeUndefined();
  });

  test('behavior: repeated hostile rejections ban the peer, hang it up, and the ban expires', () => {
    const { guard, hungUp, advance, reported } = guardFor(
      { strikesBeforeBan: 3, strikeRefillPerSec: 0.001, banMs: 5000 },
      ['operator'],
    );
    for (let i = 0; i < 3; i++)
      guard.report({ reason: 'malformed', channel: PROTOCOLS.response, peer: 'operator' });
    expect(guard.isBanned('operator')).toBe(false);
    guard.report({ reason: 'malformed', channel: PROTOCOLS.response, peer: 'operator' });
    expect(guard.isBanned('operator')).toBe(true);
    expect(hungUp).toEqual(['operator']);
    expect(guard.refusePeer('operator')).toBe('blacklisted');
    expect(guard.refuseMessage('operator', PROTOCOLS.response)).toBe('blacklisted');
    expect(reported.at(-1)).toEqual({
      reason: 'blacklisted',
      channel: PROTOCOLS.response,
      peer: 'operator',
    });
    advance(5001);
    expect(guard.refusePeer('operator')).toBeUndefined();
  });

  test('behavior: a reason that proves hostility bans at once; protected peers are still never banned', () => {
    const { guard, hungUp } = guardFor({ banAtOnce: ['not_registry'] }, ['stranger', 'registry']);
    guard.report({ reason: 'not_registry', channel: TOPICS.task, peer: 'stranger' });
    expect(guard.isBanned('stranger')).toBe(true);
    expect(hungUp).toEqual(['stranger']);
    guard.report({ reason: 'not_registry', channel: TOPICS.task, peer: 'registry' });
    expect(guard.isBanned('registry')).toBe(false);
  });

  test('behavior: honest-looking rejections and protected peers never lead to a ban', () => {
    const { guard } = guardFor({ strikesBeforeBan: 1, strikeRefillPerSec: 0.001 }, [
      'operator',
      'registry',
    ]);
    for (let i = 0; i < 5; i++) {
      guard.report({ reason: 'unknown_task', channel: PROTOCOLS.response, peer: 'operator' });
      guard.report({ reason: 'malformed', channel: TOPICS.task, peer: 'registry' });
    }
    expect(guard.isBanned('operator')).toBe(false);
    expect(guard.isBanned('registry')).toBe(false);
    expect(guard.countOf('malformed', TOPICS.task)).toBe(5);
  });

  test('behavior: grace periods of many unknown peers stay bounded', () => {
    const { guard, advance } = guardFor({ maxTrackedPeers: 2 });
    guard.refusePeer('x');
    advance(600);
    guard.refusePeer('y');
    guard.refusePeer('z'); // forgets x
    advance(1001);
    expect(guard.refusePeer('y')).toBe('not_admitted');
    // x was forgotten: it gets a fresh grace period (only ever for the open channels).
    expect(guard.refusePeer('x')).toBeUndefined();
  });

  test('behavior: new strangers share one allowance; known peers and admitted strangers do not use it', () => {
    const { guard, advance, reported } = guardFor({
      strangerAdmissions: { ratePerSec: 1, burst: 2 },
    });
    expect(guard.refusePeer('s1')).toBeUndefined();
    expect(guard.refusePeer('s2')).toBeUndefined();
    expect(guard.refusePeer('s3')).toBe('too_many_strangers');
    expect(guard.refusePeer('operator')).toBeUndefined();
    // Strangers already in keep their place (and their open channels).
    expect(guard.refusePeer('s1')).toBeUndefined();
    expect(guard.refuseMessage('s2', PROTOCOLS.join)).toBeUndefined();
    expect(guard.refuseMessage('s3', PROTOCOLS.join)).toBe('too_many_strangers');
    advance(1000);
    expect(guard.refusePeer('s3')).toBeUndefined();
    expect(guard.refusePeer('s4')).toBe('too_many_strangers');
    expect(guard.countOf('too_many_strangers', 'connection')).toBe(2);
    expect(reported.filter((r) => r.reason === 'too_many_strangers')).toHaveLength(3);
  });

  test('behavior: each refusal is counted once: per connection attempt, per message, never by isRefused', () => {
    const { guard } = guardFor({ banAtOnce: ['not_registry'] }, ['operator']);
    guard.report({ reason: 'not_registry', channel: TOPICS.task, peer: 'operator' });
    expect(guard.isRefused('operator')).toBe(true);
    expect(guard.isRefused('operator')).toBe(true);
    expect(guard.countOf('blacklisted')).toBe(0);
    expect(guard.refusePeer('operator')).toBe('blacklisted');
    expect(guard.countOf('blacklisted', 'connection')).toBe(1);
    expect(guard.refuseMessage('operator', TOPICS.task)).toBe('blacklisted');
    expect(guard.countOf('blacklisted', TOPICS.task)).toBe(1);
    expect(guard.countOf('blacklisted')).toBe(2);
    expect(guard.isRefused('other-operator')).toBe(false);
  });
});
