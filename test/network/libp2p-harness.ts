import { setTimeout as sleep } from 'node:timers/promises';
import { createLibp2pNetwork } from '../../src/adapters/network-libp2p/libp2p-network.ts';
import type { Libp2pTransportKind } from '../../src/adapters/network-libp2p/options.ts';
import type { Network } from '../../src/ports/network.ts';
import type { NetworkHarness } from './compliance.ts';

/** Short heartbeats so meshes form and repair within a test's budget. */
const TEST_HEARTBEAT_INTERVAL_MS = 50;
/** Three heartbeats: enough for GRAFTs to be exchanged and a message to cross a few hops. */
const SETTLE_MS = 3 * TEST_HEARTBEAT_INTERVAL_MS;
const WAIT_FOR_LIMIT_MS = 5000;
const POLL_INTERVAL_MS = 5;

/** Real libp2p nodes on the wall clock: waits poll, settling sleeps a few heartbeats. */
export async function createLibp2pHarness(transport: Libp2pTransportKind): Promise<NetworkHarness> {
  const created: Network[] = [];
  return {
    async createPeers(count) {
      const peers = await Promise.all(
        Array.from({ length: count }, () =>
          createLibp2pNetwork({
            transport,
            gossip: { heartbeatIntervalMs: TEST_HEARTBEAT_INTERVAL_MS },
          }),
        ),
      );
      created.push(...peers);
      await Promise.all(peers.map((peer) => peer.start()));
      return peers;
    },
    async settle() {
      await sleep(SETTLE_MS);
    },
    async waitFor(predicate, description) {
      const startedAt = performance.now();
      while (!predicate()) {
        if (performance.now() - startedAt > WAIT_FOR_LIMIT_MS) {
          throw new Error(`timed out after ${WAIT_FOR_LIMIT_MS} ms waiting for: ${description}`);
        }
        await sleep(POLL_INTERVAL_MS);
      }
    },
    complete: (operation) => operation,
    async stopAll() {
      // One at a time: libp2p closes each connection gracefully and, over the memory transport,
      // waits out its 500 ms close timeout when both ends stop at the same moment.
      for (const peer of created) await peer.stop();
      created.length = 0;
    },
  };
}
