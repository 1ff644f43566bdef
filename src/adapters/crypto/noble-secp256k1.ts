import { secp256k1 } from '@noble/curves/secp256k1';
import type { Address, Hex } from 'viem';
import { SignatureRecoveryError } from '../../crypto/errors.ts';
import type { Secp256k1 } from '../../crypto/secp256k1.ts';
import {
  addressFromPublicKey,
  digestBytes,
  parseSignature,
  privateKeyBytes,
  serializeSignature,
} from '../../crypto/signature-encoding.ts';

/**
 * The fallback: @noble/curves, audited pure JavaScript (the library viem itself signs with).
 * Slower than the native bindings but runs anywhere.
 */
export function createNobleSecp256k1(): Secp256k1 {
  return {
    implementation: 'noble',
    sign(digest: Hex, privateKey: Hex): Hex {
      // RFC 6979 without extra entropy, low s: byte-identical to libsecp256k1.
      const signature = secp256k1.sign(digestBytes(digest), privateKeyBytes(privateKey), {
        lowS: true,
      });
      return serializeSignature(signature.toCompactRawBytes(), signature.recovery);
    },
    recoverAddress(digest: Hex, signature: Hex): Address {
      const hash = digestBytes(digest);
      const parsed = parseSignature(signature);
      let publicKey: Uint8Array;
      try {
        publicKey = secp256k1.Signature.fromCompact(parsed.compact)
          .addRecoveryBit(parsed.recoveryBit)
          .recoverPublicKey(hash)
          .toRawBytes(false);
      } catch (error) {
        throw new SignatureRecoveryError({ cause: error });
      }
      return addressFromPublicKey(publicKey);
    },
    addressOf(privateKey: Hex): Address {
      return addressFromPublicKey(secp256k1.getPublicKey(privateKeyBytes(privateKey), false));
    },
  };
}
