import { type Address, bytesToHex, getAddress } from 'viem';
import { type Network, PROTOCOLS, TOPICS } from '../../src/ports/network.ts';
import type { Rng } from '../../src/ports/rng.ts';
import { MAX_JOIN_REQUEST_BYTES, MAX_JOIN_RESPONSE_BYTES } from '../../src/wire/join.ts';
import { encodeTask, MAX_TASK_BYTES } from '../../src/wire/task.ts';
import { encodeTaskResponse, MAX_TASK_RESPONSE_ACK_BYTES } from '../../src/wire/task-response.ts';
import type { ClusterNetwork } from './cluster-network.ts';

/**
 * The simulator's hostile peer (`hostile` action, swarm menu "hostile peer"): a peer that never
 * joined, on the same network as the nodes, sending what the hardening must refuse by name
 * without a crash while honest traffic continues:
 *
 * - `malformedJoin`: bytes that are not a JoinRequest, on `/spotted/join/1` (refused `malformed`);
 * - `oversizeJoin`: a join over its byte cap (refused `oversize` before decoding);
 * - `strangerResponse`: a well-formed task response from a peer that never joined, on
 *   `/spotted/response/1` (refused `not_admitted` by the registry's gate);
 * - `bogusTaskFlood`: well-formed tasks on the operators' task topic, published by a peer that
 *   is not a registry (refused `not_registry`; repeat offenders are banned and hung up on);
 * - `oversizeTask`: a task over the topic's byte cap (refused `oversize`).
 *
 * Randomness comes from the run's seeded Rng, so sim-network runs stay reproducible.
 */
export const HOSTILE_ATTACKS = [
  'malformedJoin',
  'oversizeJoin',
  'strangerResponse',
  'bogusTaskFlood',
  'oversizeTask',
] as const;

export type HostileAttack = (typeof HOSTILE_ATTACKS)[number];

/** At most this many messages per action: a scenario cannot make the harness spin forever. */
export const MAX_HOSTILE_COUNT = 5_000;

export interface HostileTargets {
  /** Running registries' networks. */
  registries(): Network[];
  /** Running operators' networks and addresses. */
  operators(): { network: Network; address: Address }[];
  /** The current epoch (bogus tasks claim it, so only their sender gives them away). */
  epoch(): number;
  chainId: number;
}

export interface HostilePeer {
  /** Sends `count` messages of `attack`; resolves with how many the network took or refused. */
  attack(attack: HostileAttack, count: number): Promise<{ sent: number; failed: number }>;
  stop(): Promise<void>;
}

export function createHostilePeer(deps: {
  net: ClusterNetwork;
  rng: Rng;
  targets: HostileTargets;
}): HostilePeer {
  let peer: Network | undefined;
  const { rng, targets } = deps;
  const REQUEST = { timeoutMs: 5_000, maxResponseBytes: MAX_JOIN_RESPONSE_BYTES };

  /** The peer, started and (re)connected to every running node. */
  async function ready(): Promise<Network> {
    if (peer === undefined) {
      peer = await deps.net.createPeer('hostile');
      await peer.start();
      peer.subscribe(TOPICS.task, () => 'ignore', { maxMessageBytes: MAX_TASK_BYTES });
    }
    const network = peer;
    const nodes = [...targets.registries(), ...targets.operators().map((op) => op.network)];
    const connected = new Set(network.connectedPeers());
    for (const node of nodes) {
      if (connected.has(node.peerId)) continue;
      for (const address of deps.net.bootstrapAddresses(node)) {
        // A node that banned us refuses the dial: that is the point.
        if (
          await network.dial(address).then(
            () => true,
            () => false,
          )
        )
          break;
      }
    }
    return network;
  }

  const randomHex = (bytes: number) => bytesToHex(rng.bytes(bytes));

  function bogusTask(size: 'fits' | 'oversize'): Uint8Array {
    if (size === 'oversize') return rng.bytes(MAX_TASK_BYTES + 1);
    const selected = targets
      .operators()
      .map((op) => getAddress(op.address))
      .sort((a, b) => (a.toLowerCase() < b.toLowerCase() ? -1 : 1));
    return encodeTask({
      taskId: randomHex(32),
      chainId: targets.chainId,
      targetAddress: getAddress(randomHex(20)),
      key: BigInt(rng.int(1_000_000)),
      blockNumber: 1n,
      timestampSec: 0n,
      byTimestamp: false,
      value: 0n,
      epoch: targets.epoch(),
      round: 0,
      respondByMs: 4_000_000_000_000,
      selectedOperators: selected,
      historyBlockNumber: 1n,
      historyTimestampSec: 0n,
    });
  }

  async function once(network: Network, attack: HostileAttack): Promise<boolean> {
    const registry = targets.registries()[0];
    const operator = targets.operators()[0];
    switch (attack) {
      case 'malformedJoin':
      case 'oversizeJoin':
      case 'strangerResponse': {
        if (registry === undefined) return false;
        const bytes =
          attack === 'malformedJoin'
            ? new Uint8Array([0xff, 0xff, 0xff, 0x0f, ...rng.bytes(8)])
            : attack === 'oversizeJoin'
              ? rng.bytes(MAX_JOIN_REQUEST_BYTES + 1)
              : encodeTaskResponse({
                  kind: 'signed',
                  taskId: randomHex(32),
                  operator: operator?.address ?? getAddress(randomHex(20)),
                  epoch: targets.epoch(),
                  round: 0,
                  signature: `0x${'11'.repeat(64)}1b`,
                });
        const protocol = attack === 'strangerResponse' ? PROTOCOLS.response : PROTOCOLS.join;
        return network
          .request(registry.peerId, protocol, bytes, {
            ...REQUEST,
            ...(protocol === PROTOCOLS.response
              ? { maxResponseBytes: MAX_TASK_RESPONSE_ACK_BYTES }
              : {}),
          })
          .then(
            () => true,
            () => false,
          );
      }
      case 'bogusTaskFlood':
      case 'oversizeTask':
        return network
          .publish(TOPICS.task, bogusTask(attack === 'oversizeTask' ? 'oversize' : 'fits'))
          .then(
            () => true,
            () => false,
          );
    }
  }

  return {
    async attack(attack, count) {
      if (!Number.isInteger(count) || count < 1 || count > MAX_HOSTILE_COUNT)
        throw new RangeError(`hostile count must be 1…${MAX_HOSTILE_COUNT}, got ${count}`);
      const network = await ready();
      let sent = 0;
      let failed = 0;
      for (let index = 0; index < count; index++) {
        if (await once(network, attack)) sent++;
        else failed++;
      }
      return { sent, failed };
    },
    async stop() {
      await peer?.stop();
      peer = undefined;
    },
  };
}
