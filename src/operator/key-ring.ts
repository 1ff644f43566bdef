import type { Address, Hex } from 'viem';
import { addressKey } from '../core/address.ts';
import type { EpochOperator } from '../core/epoch-state.ts';
import { CryptoError } from '../crypto/errors.ts';
import type { Secp256k1 } from '../crypto/secp256k1.ts';
import { OperatorConfigError } from './errors.ts';

/** More signing keys than any rotation schedule needs at once. */
export const MAX_SIGNING_KEYS = 16;

/**
 * Which key signs for this operator in an epoch. The epoch state (checked against the chain by
 * the epoch follower) names the operator's signing key at that epoch; the ring signs with the
 * private key whose address is that key. After a rotation that is the new key from its effective
 * epoch on and the old one before it, without the ring knowing anything about rotations.
 */
export type EpochSigner =
  | {
      readonly kind: 'ready';
      readonly signingKey: Address;
      /** Signs a raw 32-byte digest: 65 bytes r‖s‖v, v = 27/28, low s. */
      sign(digest: Hex): Hex;
    }
  /** The operator is not among the epoch's operators. */
  | { readonly kind: 'notInEpoch' }
  /** The epoch names a signing key whose private key this node was not given. */
  | { readonly kind: 'missingKey'; readonly signingKey: Address };

export interface KeyRing {
  /** The signing key addresses held, in configuration order. */
  readonly signingKeys: readonly Address[];
  has(signingKey: Address): boolean;
  /** Signs with the private key of `signingKey`; undefined when the ring does not hold it. */
  signWith(signingKey: Address, digest: Hex): Hex | undefined;
  /** The signer for `operator` in an epoch whose operator list is `operators`. */
  signerFor(
    epoch: { readonly operators: readonly EpochOperator[] },
    operator: Address,
  ): EpochSigner;
}

export interface KeyRingDeps {
  secp256k1: Secp256k1;
}

export interface KeyRingOptions {
  /** 32-byte hex private keys; at least one, no duplicates. */
  signingPrivateKeys: readonly Hex[];
}

/** Builds the ring; malformed or duplicate keys are an OperatorConfigError (never echoing the key). */
export function createKeyRing(deps: KeyRingDeps, options: KeyRingOptions): KeyRing {
  const field = 'signingPrivateKeys';
  const keys = options.signingPrivateKeys;
  if (keys.length === 0) throw new OperatorConfigError(field, 'at least one key is required');
  if (keys.length > MAX_SIGNING_KEYS) {
    throw new OperatorConfigError(field, `${keys.length} keys given, at most ${MAX_SIGNING_KEYS}`);
  }
  const byAddress = new Map<string, { address: Address; privateKey: Hex }>();
  keys.forEach((privateKey, index) => {
    let address: Address;
    try {
      address = deps.secp256k1.addressOf(privateKey);
    } catch (error) {
      if (error instanceof CryptoError) {
        throw new OperatorConfigError(`${field}[${index}]`, 'is not a valid secp256k1 private key');
      }
      throw error;
    }
    if (byAddress.has(addressKey(address))) {
      throw new OperatorConfigError(`${field}[${index}]`, `duplicates the key of ${address}`);
    }
    byAddress.set(addressKey(address), { address, privateKey });
  });
  const signingKeys = [...byAddress.values()].map((entry) => entry.address);

  const signWith = (signingKey: Address, digest: Hex): Hex | undefined => {
    const entry = byAddress.get(addressKey(signingKey));
    return entry === undefined ? undefined : deps.secp256k1.sign(digest, entry.privateKey);
  };

  return {
    signingKeys,
    has: (signingKey) => byAddress.has(addressKey(signingKey)),
    signWith,
    signerFor(epoch, operator) {
      const key = addressKey(operator);
      const entry = epoch.operators.find((candidate) => addressKey(candidate.operator) === key);
      if (entry === undefined) return { kind: 'notInEpoch' };
      const held = byAddress.get(addressKey(entry.signingKey));
      if (held === undefined) return { kind: 'missingKey', signingKey: entry.signingKey };
      return {
        kind: 'ready',
        signingKey: held.address,
        sign: (digest) => deps.secp256k1.sign(digest, held.privateKey),
      };
    },
  };
}
