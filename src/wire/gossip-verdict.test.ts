import { describe, expect, test } from 'vitest';
import { MessageTooLargeError, NetworkError } from '../ports/network-errors.ts';
import { WireValidationError } from './errors.ts';
import { GossipRuleError, toGossipVerdict } from './gossip-verdict.ts';
import { decodeTask } from './task.ts';

function thrownBy(run: () => unknown): unknown {
  try {
    run();
  } catch (error) {
    return error;
  }
  throw new Error('expected an error');
}

describe('toGossipVerdict', () => {
  test('behavior: a message that passed validation is accepted', () => {
    expect(toGossipVerdict(undefined)).toBe('accept');
  });

  test('behavior: malformed bytes are rejected, whatever the rule that caught them', () => {
    expect(toGossipVerdict(thrownBy(() => decodeTask(Uint8Array.of(0x0f))))).toBe('reject');
    expect(toGossipVerdict(thrownBy(() => decodeTask(new Uint8Array(0))))).toBe('reject');
    expect(
      toGossipVerdict(
        new WireValidationError({ code: 'NOT_SORTED', messageType: 'Task', detail: 'x' }),
      ),
    ).toBe('reject');
    expect(toGossipVerdict(new MessageTooLargeError('gossip message', 10, 5))).toBe('reject');
  });

  test.each([
    ['DUPLICATE', 'ignore'],
    ['STALE', 'ignore'],
    ['PREMATURE', 'ignore'],
    ['UNKNOWN_SENDER', 'reject'],
    ['BAD_SIGNATURE', 'reject'],
  ] as const)('behavior: rule %s → %s', (code, verdict) => {
    expect(toGossipVerdict(new GossipRuleError(code, 'Task', 'detail'))).toBe(verdict);
  });

  test('behavior: our own failures (store, chain, bugs) ignore the message without blaming the sender', () => {
    expect(toGossipVerdict(new Error('database unavailable'))).toBe('ignore');
    expect(toGossipVerdict(new NetworkError('REQUEST_TIMEOUT', 'chain read timed out'))).toBe(
      'ignore',
    );
    expect(toGossipVerdict('a thrown string')).toBe('ignore');
  });
});
