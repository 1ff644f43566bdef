/**
 * Typed errors of the signing interface, with stable codes. Messages never contain key material.
 */
export type CryptoErrorCode =
  | 'INVALID_SIGNATURE_FORMAT'
  | 'INVALID_DIGEST'
  | 'INVALID_PRIVATE_KEY'
  | 'SIGNATURE_RECOVERY_FAILED';

export abstract class CryptoError extends Error {
  abstract readonly code: CryptoErrorCode;
}

/** Why a signature is not in the only form the registry accepts (65 bytes r‖s‖v, v = 27/28, low s). */
export type SignatureFormatProblem = 'length' | 'recoveryByte' | 'highS' | 'scalarOutOfRange';

export class SignatureFormatError extends CryptoError {
  readonly code = 'INVALID_SIGNATURE_FORMAT';
  override readonly name = 'SignatureFormatError';
  readonly problem: SignatureFormatProblem;

  constructor(problem: SignatureFormatProblem, detail: string) {
    super(`signature rejected (${problem}): ${detail}`);
    this.problem = problem;
  }
}

export class InvalidDigestError extends CryptoError {
  readonly code = 'INVALID_DIGEST';
  override readonly name = 'InvalidDigestError';

  constructor(detail: string) {
    super(`digest must be 32 bytes of hex: ${detail}`);
  }
}

export class InvalidPrivateKeyError extends CryptoError {
  readonly code = 'INVALID_PRIVATE_KEY';
  override readonly name = 'InvalidPrivateKeyError';

  constructor(detail: string) {
    super(`private key must be 32 bytes of hex in [1, n-1]: ${detail}`);
  }
}

/** A well-formed signature from which no public key can be recovered (r is not on the curve). */
export class SignatureRecoveryError extends CryptoError {
  readonly code = 'SIGNATURE_RECOVERY_FAILED';
  override readonly name = 'SignatureRecoveryError';

  constructor(options?: { cause?: unknown }) {
    super('no public key recovers from this signature and digest', options);
  }
}
