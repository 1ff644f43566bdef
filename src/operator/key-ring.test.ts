import { type Address, getAddress, type Hex } from 'viem';
import { describe, expect, test } from 'vitest';
import { createNativeSecp256k1 } from '../adapters/crypto/native-secp256k1.ts';
import { computeTaskId } from '../core/task-id.ts';
import { privateKeyNumber } from '../core/test-fixtures.ts';
import { OperatorConfigError } from './errors.ts';
import { createKeyRing } from './key-ring.ts';

const secp256k1 = createNativeSecp256k1();
const operator: Address = getAddress('0x00000000000000000000000000000000000000a1');
const oldKey = privateKeyNumber(1);
const newKey = privateKeyNumber(2);
const oldAddress = secp256k1.addressOf(oldKey);
const newAddress = secp256k1.addressOf(newKey);
const digest = computeTaskId({
  user: operator,
  chainId: 10,
  blockNumber: 5n,
  timestampSec: 0n,
  epoch: 3,
  key: 1n,
  value: 2n,
});

/** The operator's epoch states around a rotation that takes effect in epoch 4. */
const epochWithKey = (signingKey: Address) => ({
  operators: [
    {
      operator: getAddress('0x00000000000000000000000000000000000000b2'),
      weightWei: 1n,
      signingKey: newAddress,
    },
    { operator, weightWei: 5n, signingKey },
  ],
});

function signedBy(sign: (digest: Hex) => Hex): Address {
  return secp256k1.recoverAddress(digest, sign(digest));
}

describe('key ring', () => {
  test('behavior: signs with the old key before the rotation epoch and the new key from it on', () => {
    const ring = createKeyRing({ secp256k1 }, { signingPrivateKeys: [newKey, oldKey] });
    const before = ring.signerFor(epochWithKey(oldAddress), operator);
    const after = ring.signerFor(epochWithKey(newAddress), operator);
    if (before.kind !== 'ready' || after.kind !== 'ready') throw new Error('expected signers');
    expect(before.signingKey).toBe(oldAddress);
    expect(signedBy(before.sign)).toBe(oldAddress);
    expect(after.signingKey).toBe(newAddress);
    expect(signedBy(after.sign)).toBe(newAddress);
  });

  test('behavior: a signing key the ring does not hold is missingKey, naming the key', () => {
    const ring = createKeyRing({ secp256k1 }, { signingPrivateKeys: [oldKey] });
    expect(ring.signerFor(epochWithKey(newAddress), operator)).toEqual({
      kind: 'missingKey',
      signingKey: newAddress,
    });
  });

  test('behavior: an operator absent from the epoch is notInEpoch', () => {
    const ring = createKeyRing({ secp256k1 }, { signingPrivateKeys: [oldKey] });
    expect(ring.signerFor({ operators: [] }, operator)).toEqual({ kind: 'notInEpoch' });
  });

  test('behavior: signatures are 65 bytes with v = 27/28 and verify (lookup is case-insensitive)', () => {
    const ring = createKeyRing({ secp256k1 }, { signingPrivateKeys: [oldKey] });
    const signature = ring.signWith(oldAddress.toLowerCase() as Address, digest);
    expect(signature).toMatch(/^0x[0-9a-f]{128}(1b|1c)$/);
    expect(secp256k1.recoverAddress(digest, signature as Hex)).toBe(oldAddress);
    expect(ring.signWith(newAddress, digest)).toBeUndefined();
    expect(ring.has(oldAddress)).toBe(true);
    expect(ring.signingKeys).toEqual([oldAddress]);
  });

  test('behavior: no keys, a malformed key or a duplicate key is a config error', () => {
    const build = (keys: Hex[]) => () => createKeyRing({ secp256k1 }, { signingPrivateKeys: keys });
    expect(build([])).toThrow(OperatorConfigError);
    expect(build(['0x1234'])).toThrow(
      /signingPrivateKeys\[0\]: is not a valid secp256k1 private key/,
    );
    expect(build([oldKey, oldKey])).toThrow(/signingPrivateKeys\[1\]: duplicates the key of/);
  });
});
