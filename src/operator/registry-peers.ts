import type { PeerId } from '../ports/network.ts';
import { OperatorConfigError } from './errors.ts';

/** A registry node the operator bootstraps from: where to dial it, and who it is. */
export interface RegistryBootstrap {
  /** A multiaddr ending in `/p2p/<peer id>`. */
  readonly address: string;
  readonly peerId: PeerId;
}

/** More registries than any deployment runs; bounds the join loops and the sync fan-out. */
export const MAX_REGISTRY_BOOTSTRAP_ADDRESSES = 16;

const P2P_COMPONENT = '/p2p/';

/**
 * Parses the configured registry bootstrap addresses. Each must end in `/p2p/<peer id>`: the
 * operator accepts gossip on the task and epoch topics only from these peer ids, so an address
 * without one would leave it trusting no one (or anyone).
 */
export function parseRegistryBootstrap(addresses: readonly string[]): RegistryBootstrap[] {
  const field = 'registryBootstrapAddresses';
  if (addresses.length === 0) throw new OperatorConfigError(field, 'at least one is required');
  if (addresses.length > MAX_REGISTRY_BOOTSTRAP_ADDRESSES) {
    throw new OperatorConfigError(
      field,
      `${addresses.length} given, at most ${MAX_REGISTRY_BOOTSTRAP_ADDRESSES}`,
    );
  }
  const seen = new Set<string>();
  return addresses.map((address, index) => {
    const at = `${field}[${index}]`;
    const split = address.lastIndexOf(P2P_COMPONENT);
    const peerId = split < 0 ? '' : address.slice(split + P2P_COMPONENT.length);
    if (!address.startsWith('/') || peerId.length === 0 || !/^[A-Za-z0-9]+$/.test(peerId)) {
      throw new OperatorConfigError(
        at,
        `${JSON.stringify(address)} is not a multiaddr ending in /p2p/<peer id>`,
      );
    }
    if (seen.has(peerId)) throw new OperatorConfigError(at, `peer ${peerId} is listed twice`);
    seen.add(peerId);
    return { address, peerId };
  });
}
