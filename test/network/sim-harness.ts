import { createVirtualClock } from '../../src/adapters/clock/virtual-clock.ts';
import { createSimNetworkHub } from '../../src/adapters/network-sim/sim-network.ts';
import { createSeededRng } from '../../src/adapters/rng/seeded-rng.ts';
import type { Network } from '../../src/ports/network.ts';
import type { NetworkHarness } from './compliance.ts';

/** Virtual time advanced in steps while waiting: fine enough for 5 ms links. */
const STEP_MS = 5;
const WAIT_LIMIT_MS = 60_000;
const SETTLE_MS = 100;

/** The simulator's network on a virtual clock: waits advance time instead of sleeping. */
export async function createSimHarness(seed = 1): Promise<NetworkHarness> {
  const clock = createVirtualClock();
  const hub = createSimNetworkHub({ clock, rng: createSeededRng(seed) });
  const created: Network[] = [];

  const advanceUntil = async (done: () => boolean, description: string) => {
    const limit = clock.now() + WAIT_LIMIT_MS;
    while (!done()) {
      if (clock.now() >= limit) {
        throw new Error(`virtual ${WAIT_LIMIT_MS} ms passed waiting for: ${description}`);
      }
      await clock.advanceBy(STEP_MS);
    }
  };

  return {
    async createPeers(count) {
      const peers = Array.from({ length: count }, () => hub.createPeer());
      for (const peer of peers) await peer.start();
      created.push(...peers);
      return peers;
    },
    settle: () => clock.advanceBy(SETTLE_MS),
    waitFor: (predicate, description) => advanceUntil(predicate, description),
    async complete(operation) {
      let settled = false;
      const observed = operation.finally(() => {
        settled = true;
      });
      observed.catch(() => {});
      await clock.settle();
      await advanceUntil(() => settled, 'the operation to complete');
      return observed;
    },
    async stopAll() {
      for (const peer of created) await peer.stop();
      created.length = 0;
    },
  };
}
