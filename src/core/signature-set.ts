import {
  type Address,
  decodeAbiParameters,
  encodeAbiParameters,
  type Hex,
  parseAbiParameters,
} from 'viem';
import { CryptoError, InvalidDigestError } from '../crypto/errors.ts';
import type { Secp256k1 } from '../crypto/secp256k1.ts';
import { digestBytes, normalizeRecoveryByte } from '../crypto/signature-encoding.ts';
import { addressKey, compareAddresses, sameAddress, toChecksumAddress } from './address.ts';
import type { EpochOperator } from './epoch-state.ts';
import { DuplicateOperatorError } from './errors.ts';
import { toEpochNumber } from './uint.ts';
import { reachesThreshold, sumWeightsWei } from './weight.ts';

/** An operator's signature over a task id, as received. */
export interface OperatorSignature {
  readonly operator: Address;
  readonly signature: Hex;
}

export type SignatureRejection =
  /** The sender is not an active operator of the reference epoch. */
  | 'unknownOperator'
  /** Not 65 bytes, v not 0/1/27/28, s above n/2, or r/s out of range. */
  | 'malformedSignature'
  /** Recovers to an address other than the operator's signing key at the epoch (or to none). */
  | 'wrongSigner';

export interface RejectedSignature {
  readonly operator: Address;
  readonly reason: SignatureRejection;
  readonly detail: string;
}

export type SignatureCheck =
  | {
      readonly valid: true;
      /** With v normalised to 27/28. */
      readonly signature: Hex;
      readonly epochOperator: EpochOperator;
    }
  | { readonly valid: false; readonly reason: SignatureRejection; readonly detail: string };

/** `isValidSignature`'s `signatureData` argument, decoded. */
export interface SignatureData {
  readonly operators: readonly Address[];
  readonly signatures: readonly Hex[];
  readonly referenceEpoch: number;
}

export interface SignatureSet extends SignatureData {
  /** `abi.encode(address[] operators, bytes[] signatures, uint32 referenceEpoch)`. */
  readonly signatureData: Hex;
  readonly signedWeightWei: bigint;
  readonly thresholdWeightWei: bigint;
  /** Whether `isValidSignature` will accept the set (signed weight ≥ threshold, ≥ 1 signer). */
  readonly reachesThreshold: boolean;
  /** Discarded responses; each counts against its sender. */
  readonly rejected: readonly RejectedSignature[];
}

const SIGNATURE_DATA_PARAMETERS = parseAbiParameters(
  'address[] operators, bytes[] signatures, uint32 referenceEpoch',
);

/**
 * Checks one signature the way the registry will: it must recover `digest` to the operator's
 * signing key at the reference epoch (not to the operator address, which signs nothing). A
 * recovery byte of 0/1 is normalised to 27/28; a high-s signature is rejected, not repaired.
 */
export function verifyOperatorSignature(args: {
  secp256k1: Secp256k1;
  digest: Hex;
  /** The sender's entry in the epoch snapshot; undefined when it is not in the snapshot. */
  epochOperator: EpochOperator | undefined;
  signature: Hex;
}): SignatureCheck {
  if (args.epochOperator === undefined) {
    return {
      valid: false,
      reason: 'unknownOperator',
      detail: 'not an active operator of the epoch',
    };
  }
  const signature = normalizeRecoveryByte(args.signature);
  let recovered: Address;
  try {
    recovered = args.secp256k1.recoverAddress(args.digest, signature);
  } catch (error) {
    // A bad digest is our bug, not the sender's.
    if (error instanceof CryptoError && !(error instanceof InvalidDigestError)) {
      const reason =
        error.code === 'INVALID_SIGNATURE_FORMAT' ? 'malformedSignature' : 'wrongSigner';
      return { valid: false, reason, detail: error.message };
    }
    throw error;
  }
  if (!sameAddress(recovered, args.epochOperator.signingKey)) {
    return {
      valid: false,
      reason: 'wrongSigner',
      detail: `recovers to ${recovered}, but the signing key at the epoch is ${args.epochOperator.signingKey}`,
    };
  }
  return { valid: true, signature, epochOperator: args.epochOperator };
}

/**
 * Builds the signature set a user passes to `isValidSignature(digest, signatureData)`: verifies
 * every response against the epoch's signing keys (discarding and reporting bad ones), orders
 * the operators strictly ascending by address as a 160-bit number (not by signing key, not as
 * strings: the contract reverts NotSorted otherwise) and ABI-encodes them with the reference
 * epoch. A duplicate operator is a caller bug and throws DuplicateOperatorError.
 */
export function buildSignatureSet(args: {
  secp256k1: Secp256k1;
  digest: Hex;
  referenceEpoch: number;
  responses: readonly OperatorSignature[];
  epochOperators: readonly EpochOperator[];
  thresholdWeightWei: bigint;
  /**
   * Responses the caller has already checked with `verifyOperatorSignature` against the same
   * digest and epoch operators (the aggregator checks each answer as it arrives): their
   * signature is not recovered a second time. Only an exact (operator, signature) match counts.
   */
  verified?: ReadonlyMap<string, Hex>;
}): SignatureSet {
  const referenceEpoch = toEpochNumber('referenceEpoch', args.referenceEpoch);
  digestBytes(args.digest); // a malformed digest is our bug: throws InvalidDigestError
  const epochOperators = indexUnique(
    args.epochOperators,
    (entry) => entry.operator,
    'the epoch operators',
  );
  indexUnique(args.responses, (response) => response.operator, 'the responses');

  const accepted: { operator: Address; signature: Hex; weightWei: bigint }[] = [];
  const rejected: RejectedSignature[] = [];
  for (const response of args.responses) {
    const epochOperator = epochOperators.get(addressKey(response.operator));
    const check: SignatureCheck =
      epochOperator !== undefined &&
      args.verified?.get(addressKey(response.operator)) === response.signature
        ? { valid: true, signature: response.signature, epochOperator }
        : verifyOperatorSignature({
            secp256k1: args.secp256k1,
            digest: args.digest,
            epochOperator,
            signature: response.signature,
          });
    if (check.valid) {
      accepted.push({
        operator: toChecksumAddress('operator', check.epochOperator.operator),
        signature: check.signature,
        weightWei: check.epochOperator.weightWei,
      });
    } else {
      rejected.push({ operator: response.operator, reason: check.reason, detail: check.detail });
    }
  }
  accepted.sort((a, b) => compareAddresses(a.operator, b.operator));

  const operators = accepted.map((entry) => entry.operator);
  const signatures = accepted.map((entry) => entry.signature);
  const signedWeightWei = sumWeightsWei(accepted.map((entry) => entry.weightWei));
  return {
    operators,
    signatures,
    referenceEpoch,
    signatureData: encodeSignatureData({ operators, signatures, referenceEpoch }),
    signedWeightWei,
    thresholdWeightWei: args.thresholdWeightWei,
    reachesThreshold: reachesThreshold({
      signedWeightWei,
      thresholdWeightWei: args.thresholdWeightWei,
      signerCount: operators.length,
    }),
    rejected,
  };
}

export function encodeSignatureData(data: SignatureData): Hex {
  return encodeAbiParameters(SIGNATURE_DATA_PARAMETERS, [
    data.operators,
    data.signatures,
    data.referenceEpoch,
  ]);
}

export function decodeSignatureData(signatureData: Hex): SignatureData {
  const [operators, signatures, referenceEpoch] = decodeAbiParameters(
    SIGNATURE_DATA_PARAMETERS,
    signatureData,
  );
  return { operators, signatures, referenceEpoch };
}

function indexUnique<T>(
  entries: readonly T[],
  addressOf: (entry: T) => Address,
  where: string,
): Map<string, T> {
  const byKey = new Map<string, T>();
  for (const entry of entries) {
    const key = addressKey(addressOf(entry));
    if (byKey.has(key)) throw new DuplicateOperatorError(addressOf(entry), where);
    byKey.set(key, entry);
  }
  return byKey;
}
