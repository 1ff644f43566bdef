import { encodeAbiParameters, type Hex, keccak256, stringToHex } from 'viem';
import type { EpochOperator, EpochStateRow } from '../core/epoch-state.ts';

/** Domain tag: a state hash can never collide with another keccak256 the protocol computes. */
const STATE_HASH_DOMAIN = keccak256(stringToHex('spotted.registry.epoch-state.v1'));

/**
 * The registry state hash of epoch `e` (src/registry/README.md "Replication"): keccak256 over the
 * ABI encoding of a domain tag, the epoch state (epoch, start block, minimum, total and threshold
 * weight) and the epoch's operator snapshot (operator, weight, signing key), the snapshot sorted
 * by operator address as a number. Everything in it is derived from the chain, so honest
 * registries that applied the same events compute the same hash whatever order they stored
 * things in; the store's `updatedAt` and the message's `publishedAtMs` are left out on purpose.
 */
export function epochStateHash(state: EpochStateRow, operators: readonly EpochOperator[]): Hex {
  const sorted = [...operators]
    .map((entry) => ({
      operator: entry.operator.toLowerCase() as Hex,
      weight: entry.weightWei,
      signingKey: entry.signingKey.toLowerCase() as Hex,
    }))
    .sort((a, b) => {
      const left = BigInt(a.operator);
      const right = BigInt(b.operator);
      return left < right ? -1 : left > right ? 1 : 0;
    });
  return keccak256(
    encodeAbiParameters(
      [
        { type: 'bytes32' },
        { type: 'uint32' },
        { type: 'uint64' },
        { type: 'uint256' },
        { type: 'uint256' },
        { type: 'uint256' },
        {
          type: 'tuple[]',
          components: [
            { name: 'operator', type: 'address' },
            { name: 'weight', type: 'uint256' },
            { name: 'signingKey', type: 'address' },
          ],
        },
      ],
      [
        STATE_HASH_DOMAIN,
        state.epoch,
        state.startBlock,
        state.minimumWeightWei,
        state.totalWeightWei,
        state.thresholdWeightWei,
        sorted,
      ],
    ),
  );
}
