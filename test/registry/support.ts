import { setTimeout as sleep } from 'node:timers/promises';
import type { PGlite } from '@electric-sql/pglite';
import { type Address, bytesToHex, type Hex } from 'viem';
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts';
import { createSystemClock } from '../../src/adapters/clock/system-clock.ts';
import { createNativeSecp256k1 } from '../../src/adapters/crypto/native-secp256k1.ts';
import { createMemoryLogger } from '../../src/adapters/logger/memory-logger.ts';
import {
  createPglite,
  openPgliteRegistryStore,
} from '../../src/adapters/store-pglite/open-pglite-store.ts';
import type { Clock } from '../../src/ports/clock.ts';
import { joinDigest } from '../../src/protocol/join-digest.ts';
import type { RegistryStore } from '../../src/store/registry/registry-store.ts';
import type { JoinRequestMessage } from '../../src/wire/join.ts';

export const secp256k1 = createNativeSecp256k1();

/** Wall-clock timers, with `now()` that a test can move forward (for expiry checks). */
export interface TestClock extends Clock {
  advance(durationMs: number): void;
}

export function createTestClock(): TestClock {
  const system = createSystemClock();
  let offsetMs = 0;
  return {
    now: () => system.now() + offsetMs,
    sleep: system.sleep,
    setTimer: system.setTimer,
    advance: (durationMs) => {
      offsetMs += durationMs;
    },
  };
}

/** Logs kept in memory (pass `echo` to print them while debugging a test). */
export function createTestLogger(options: { echo?: boolean } = {}) {
  return createMemoryLogger(options);
}

let schemaCounter = 0;

/** A registry store in a fresh schema of `pglite` (a new in-memory PGlite when none is given). */
export async function openTestStore(
  clock: Pick<Clock, 'now'>,
  pglite?: PGlite,
): Promise<{ store: RegistryStore; pglite: PGlite; close(): Promise<void> }> {
  const db = pglite ?? (await createPglite());
  schemaCounter += 1;
  const store = await openPgliteRegistryStore(
    { pglite: db, clock },
    { schema: `registry_${process.pid}_${schemaCounter}` },
  );
  return {
    store,
    pglite: db,
    close: async () => {
      await store.close();
      if (pglite === undefined) await db.close();
    },
  };
}

export interface TestKey {
  privateKey: Hex;
  address: Address;
}

export function newKey(): TestKey {
  const privateKey = generatePrivateKey();
  return { privateKey, address: privateKeyToAccount(privateKey).address };
}

export function randomNonce(): Hex {
  return bytesToHex(crypto.getRandomValues(new Uint8Array(32)));
}

/** A join request signed with `signingKey` over the canonical join digest. */
export function signedJoin(args: {
  operator: Address;
  peerId: string;
  signingKey: Hex;
  expiresAtMs: number;
  nonce?: Hex;
  listenAddresses?: readonly string[];
}): JoinRequestMessage {
  const fields = {
    operator: args.operator,
    peerId: args.peerId,
    nonce: args.nonce ?? randomNonce(),
    expiresAtMs: args.expiresAtMs,
  };
  return {
    ...fields,
    signature: secp256k1.sign(joinDigest(fields), args.signingKey),
    listenAddresses: args.listenAddresses ?? [`/memory/${args.peerId}`],
  };
}

/** Polls `predicate` on the wall clock; fails naming `description` after `timeoutMs`. */
export async function waitFor(
  predicate: () => boolean | Promise<boolean>,
  description: string,
  timeoutMs = 10_000,
): Promise<void> {
  const startedAt = performance.now();
  while (!(await predicate())) {
    if (performance.now() - startedAt > timeoutMs) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for: ${description}`);
    }
    await sleep(5);
  }
}
