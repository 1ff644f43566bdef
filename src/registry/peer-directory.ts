import type { Address } from 'viem';
import { addressKey } from '../core/address.ts';
import type { PeerId } from '../ports/network.ts';
import type { RegistryStore } from '../store/registry/registry-store.ts';

/** One operator's bound peer and the listen addresses it gave when it joined. */
export interface PeerEntry {
  readonly operator: Address;
  readonly peerId: PeerId;
  /** Empty after a registry restart until the operator joins again (addresses are not stored). */
  readonly addresses: readonly string[];
}

export interface PeerDirectoryDeps {
  store: Pick<RegistryStore, 'operators'>;
}

/**
 * Which libp2p peer speaks for which operator, as bound by accepted joins (`operators.peer_id`).
 * The aggregator accepts `/spotted/response/1` only from a peer bound here to the responding
 * operator; the join service hands the entries out for discovery.
 *
 * One peer per operator and one operator per peer: binding a peer moves it away from any other
 * operator (whoever sent an authenticated join from that peer id controls its key, so an older
 * binding to it means nothing). The directory is memory only; the join service persists the same
 * change in `operators.peer_id` in its transaction, and `start()` reloads the bindings from there.
 * Listen addresses are not stored, so after a restart an entry has none until its operator
 * rejoins. Bounded by the number of registered operators.
 */
export interface PeerDirectory {
  /** Loads the bindings from the store. */
  start(): Promise<void>;
  stop(): Promise<void>;
  operatorOf(peerId: PeerId): Address | undefined;
  peerOf(operator: Address): PeerId | undefined;
  entryOf(operator: Address): PeerEntry | undefined;
  /** Every binding, in no particular order. */
  list(): PeerEntry[];
  /** Binds; returns the operator the peer was bound to before, if another one. */
  bind(entry: PeerEntry): { previousOperator: Address | undefined };
  unbind(operator: Address): void;
}

export function createPeerDirectory(deps: PeerDirectoryDeps): PeerDirectory {
  /** By operator address key. */
  const byOperator = new Map<string, PeerEntry>();
  /** Peer id → operator address key. */
  const byPeer = new Map<PeerId, string>();

  function unbind(operator: Address): void {
    const key = addressKey(operator);
    const entry = byOperator.get(key);
    if (entry === undefined) return;
    byOperator.delete(key);
    if (byPeer.get(entry.peerId) === key) byPeer.delete(entry.peerId);
  }

  function bind(entry: PeerEntry): { previousOperator: Address | undefined } {
    const key = addressKey(entry.operator);
    const holderKey = byPeer.get(entry.peerId);
    const previous = holderKey === undefined ? undefined : byOperator.get(holderKey);
    const previousOperator =
      previous !== undefined && holderKey !== key ? previous.operator : undefined;
    if (previousOperator !== undefined) unbind(previousOperator);
    unbind(entry.operator);
    const stored: PeerEntry = {
      operator: entry.operator,
      peerId: entry.peerId,
      addresses: [...entry.addresses],
    };
    byOperator.set(key, stored);
    byPeer.set(entry.peerId, key);
    return { previousOperator };
  }

  return {
    async start() {
      byOperator.clear();
      byPeer.clear();
      for (const record of await deps.store.operators.list()) {
        if (record.peerId !== null) {
          bind({ operator: record.address, peerId: record.peerId, addresses: [] });
        }
      }
    },
    async stop() {},
    operatorOf(peerId) {
      const key = byPeer.get(peerId);
      return key === undefined ? undefined : byOperator.get(key)?.operator;
    },
    peerOf(operator) {
      return byOperator.get(addressKey(operator))?.peerId;
    },
    entryOf(operator) {
      return byOperator.get(addressKey(operator));
    },
    list() {
      return [...byOperator.values()];
    },
    bind,
    unbind,
  };
}
