import type { LinkConditions, SimNetworkHub } from '../../src/adapters/network-sim/sim-network.ts';
import type { Network, PeerId } from '../../src/ports/network.ts';

/** Which network a simulator run uses. */
export type NetworkMode = 'sim' | 'libp2p';

export const NETWORK_MODES: readonly NetworkMode[] = ['sim', 'libp2p'];

/**
 * The network of a simulated deployment as the harness drives it, whichever stack carries the
 * messages: peers to hand to nodes, the scenario's faults (link conditions, partitions), and
 * what `settle()` must wait for before virtual time moves on.
 */
export interface ClusterNetwork {
  readonly mode: NetworkMode;
  /** A new peer, not started; `name` (alphanumeric) names it in traces. */
  createPeer(name: string): Promise<Network>;
  setConditions(conditions: Partial<LinkConditions>): void;
  conditions(): LinkConditions;
  /** Peers in different groups cannot reach each other; peers in no group reach only ungrouped peers. */
  partition(groups: readonly (readonly PeerId[])[]): void;
  heal(): void;
  /** True while network work that runs on real time is under way (never on the sim network). */
  busy(): boolean;
  /** Resolves once `busy()` is false. */
  idle(): Promise<void>;
  /** Addresses an operator is configured with to reach `peer` (ending in `/p2p/<peer id>`). */
  bootstrapAddresses(peer: Network): string[];
  /**
   * Before virtual time starts: connects `from` to `to` directly (libp2p only; on the sim network
   * nodes dial on the virtual clock themselves).
   */
  preconnect(from: Network, to: Network): Promise<void>;
  /**
   * Runs `work` (starting nodes and settling) with a long bound on stalled deliveries: a hundred
   * libp2p nodes handshaking at once take seconds of wall time that no message should be
   * dropped for.
   */
  duringStartup(work: () => Promise<void>): Promise<void>;
  /** Deliveries that stopped holding virtual time because they took too long (libp2p only). */
  stallCount(): number;
  /** Releases what the network itself holds (peers are stopped by their owners first). */
  stop(): Promise<void>;
}

/** The deterministic sim network: everything happens on the virtual clock, nothing to wait for. */
export function simClusterNetwork(hub: SimNetworkHub): ClusterNetwork {
  return {
    mode: 'sim',
    createPeer: async (name) => hub.createPeer(name),
    setConditions: (conditions) => hub.setConditions(conditions),
    conditions: () => hub.conditions(),
    partition: (groups) => hub.partition(groups),
    heal: () => hub.heal(),
    busy: () => false,
    idle: () => Promise.resolve(),
    bootstrapAddresses: (peer) => peer.listenAddresses(),
    preconnect: async () => {},
    duringStartup: (work) => work(),
    stallCount: () => 0,
    stop: async () => {},
  };
}
