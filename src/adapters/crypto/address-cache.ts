import type { Address } from 'viem';
import { addressFromPublicKey } from '../../crypto/signature-encoding.ts';

/**
 * Public key → checksummed address, bounded. An operator's signatures all recover to the same
 * public key, so after the first response the aggregator skips the two keccaks (address, then
 * checksum) that cost about a fifth of a verification. Oldest entries go first when full, so a
 * flood of signatures from unknown keys cannot grow it.
 */
export interface AddressCache {
  addressOf(uncompressedPublicKey: Uint8Array): Address;
  size(): number;
}

export function createAddressCache(options: { maxEntries: number }): AddressCache {
  if (!Number.isInteger(options.maxEntries) || options.maxEntries < 1) {
    throw new RangeError(`maxEntries must be a whole number ≥ 1, got ${options.maxEntries}`);
  }
  const entries = new Map<string, Address>();
  return {
    addressOf(uncompressedPublicKey) {
      const key = Buffer.from(
        uncompressedPublicKey.buffer,
        uncompressedPublicKey.byteOffset,
        uncompressedPublicKey.byteLength,
      ).toString('latin1');
      const cached = entries.get(key);
      if (cached !== undefined) return cached;
      const address = addressFromPublicKey(uncompressedPublicKey);
      if (entries.size >= options.maxEntries) {
        const oldest = entries.keys().next();
        if (oldest.done !== true) entries.delete(oldest.value);
      }
      entries.set(key, address);
      return address;
    },
    size: () => entries.size,
  };
}
