import type { Address, Hex } from 'viem';
import { describe, expect, test } from 'vitest';
import type { JoinRequestMessage } from '../wire/join.ts';
import { compareJoins, createJoinLog } from './join-log.ts';

const ALICE = '0x00000000000000000000000000000000000000a1' as Address;
const BOB = '0x00000000000000000000000000000000000000b2' as Address;

function joinOf(operator: Address, expiresAtMs: number, nonceByte = 1): JoinRequestMessage {
  return {
    operator,
    peerId: `peer${expiresAtMs}`,
    nonce: `0x${nonceByte.toString(16).padStart(2, '0').repeat(32)}` as Hex,
    expiresAtMs,
    signature: `0x${'11'.repeat(65)}`,
    listenAddresses: [],
  };
}

describe('join log', () => {
  test('behavior: keeps the newest join per operator by its signed expiry, then nonce', () => {
    const log = createJoinLog();
    expect(log.record(joinOf(ALICE, 1_000))).toBe(true);
    expect(log.record(joinOf(ALICE, 900))).toBe(false);
    expect(log.record(joinOf(ALICE, 1_000))).toBe(false);
    expect(log.isNewer(joinOf(ALICE, 1_000, 2))).toBe(true);
    expect(log.record(joinOf(ALICE, 2_000))).toBe(true);
    expect(log.record(joinOf(BOB, 500))).toBe(true);
    expect(log.latestSeq()).toBe(3);
    expect(log.listAfter(0, 10).map((entry) => [entry.seq, entry.join.expiresAtMs])).toEqual([
      [2, 2_000],
      [3, 500],
    ]);
    expect(log.listAfter(2, 10).map((entry) => entry.join.operator)).toEqual([BOB]);
    expect(log.listAfter(0, 1)).toHaveLength(1);
  });

  test('behavior: compareJoins orders by expiry first, nonce second, case-insensitively', () => {
    expect(compareJoins(joinOf(ALICE, 1, 9), joinOf(ALICE, 2, 1))).toBeLessThan(0);
    expect(compareJoins(joinOf(ALICE, 2, 1), joinOf(ALICE, 2, 9))).toBeLessThan(0);
    const upper = { ...joinOf(ALICE, 2, 0xab), nonce: joinOf(ALICE, 2, 0xab).nonce.toUpperCase() };
    expect(compareJoins(upper as JoinRequestMessage, joinOf(ALICE, 2, 0xab))).toBe(0);
  });
});
