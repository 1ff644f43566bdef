import { createRequire } from 'node:module';
import type * as Secp256k1Library from 'secp256k1';
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
import { createAddressCache } from './address-cache.ts';
import { parseSignatureFast, strictHexBytes } from './fast-signature-bytes.ts';

/** Enough for every operator of a large network and their rotated keys. */
const ADDRESS_CACHE_ENTRIES = 4096;

/**
 * The fast path: libsecp256k1 through the `secp256k1` package's native bindings. We load
 * `secp256k1/bindings.js` rather than the package root, which silently falls back to a slow
 * pure-JS implementation when the prebuild is missing: a missing prebuild should fail here, loudly.
 */
export function createNativeSecp256k1(): Secp256k1 {
  const native = createRequire(import.meta.url)('secp256k1/bindings.js') as typeof Secp256k1Library;
  const addresses = createAddressCache({ maxEntries: ADDRESS_CACHE_ENTRIES });
  return {
    implementation: 'native',
    sign(digest: Hex, privateKey: Hex): Hex {
      // libsecp256k1 signs deterministically (RFC 6979) and always emits low s.
      const { signature, recid } = native.ecdsaSign(
        digestBytes(digest),
        privateKeyBytes(privateKey),
      );
      return serializeSignature(signature, recid);
    },
    recoverAddress(digest: Hex, signature: Hex): Address {
      // The fast parsers accept exactly what the reference ones do; on anything else the
      // reference parser runs and throws its precise error.
      const hash = strictHexBytes(digest, 32) ?? digestBytes(digest);
      const parsed = parseSignatureFast(signature) ?? parseSignature(signature);
      let publicKey: Uint8Array;
      try {
        publicKey = native.ecdsaRecover(parsed.compact, parsed.recoveryBit, hash, false);
      } catch (error) {
        throw new SignatureRecoveryError({ cause: error });
      }
      return addresses.addressOf(publicKey);
    },
    addressOf(privateKey: Hex): Address {
      return addressFromPublicKey(native.publicKeyCreate(privateKeyBytes(privateKey), false));
    },
  };
}
