import { type Address, createPublicClient, http } from 'viem';
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { startTestbed, type Testbed } from '../../src/adapters/anvil/testbed.ts';
import { createBatchingFetch } from '../../src/adapters/chain-viem/batching-fetch.ts';
import { createRpcClient } from '../../src/adapters/chain-viem/connect.ts';
import { createViemStateChain } from '../../src/adapters/chain-viem/state-chain.ts';
import { ChainRpcError, ContractRevertError } from '../../src/chain/errors.ts';

const STATE_CHAIN_ID = 10;
let testbed: Testbed;

beforeAll(async () => {
  testbed = await startTestbed({ stateChainIds: [STATE_CHAIN_ID], manualMining: true });
});

afterAll(async () => {
  await testbed?.stop();
});

/** A fetch that records the body of every HTTP request it sends. */
function recordingFetch(): { fetch: typeof globalThis.fetch; bodies: unknown[] } {
  const bodies: unknown[] = [];
  return {
    bodies,
    fetch: (input, init) => {
      if (typeof init?.body === 'string') bodies.push(JSON.parse(init.body));
      return globalThis.fetch(input, init);
    },
  };
}

describe('createBatchingFetch against Anvil', () => {
  test('behavior: reads started together travel as one batch and each gets its own answer or error', async () => {
    const fixture = testbed.stateChains.get(STATE_CHAIN_ID);
    if (!fixture) throw new Error('state chain missing');
    const user = privateKeyToAccount(generatePrivateKey());
    const writer = await fixture.writerFor(user);
    await fixture.anvil.mine(1);
    const empty = await fixture.chain.getBlockNumber();
    await writer.setValue({ key: 7n, value: 4242n });
    await fixture.anvil.mine(1);
    const written = await fixture.chain.getBlockNumber();

    const recording = recordingFetch();
    // The fetch under test, recorded underneath, used by a viem client like in production.
    const chain = createViemStateChain({
      client: createPublicClient({
        transport: http(fixture.anvil.rpcUrl, {
          retryCount: 0,
          fetchFn: createBatchingFetch(recording.fetch),
        }),
        cacheTime: 0,
      }),
      chainId: STATE_CHAIN_ID,
      rpcUrl: fixture.anvil.rpcUrl,
      stateManagerAddress: fixture.stateManager,
    });
    const args = { user: user.address as Address, key: 7n, blockNumber: written };
    const results = await Promise.all([
      chain.getHistoryAtBlock(args),
      chain.getHistoryAtBlock({ ...args, blockNumber: empty }).catch((error: unknown) => error),
      chain.getBlockNumber(),
      chain.getHistoryAtBlock(args),
    ]);
    expect(recording.bodies).toHaveLength(1);
    expect(Array.isArray(recording.bodies[0])).toBe(true);
    expect(recording.bodies[0]).toHaveLength(4);
    expect(results[0]).toEqual(await fixture.chain.getHistoryAtBlock(args));
    expect(results[1]).toBeInstanceOf(ContractRevertError);
    expect(results[2]).toBe(written);
    expect(results[3]).toEqual(results[0]);

    // One read alone goes out as itself, at once.
    recording.bodies.length = 0;
    expect(await chain.getBlockNumber()).toBe(written);
    expect(recording.bodies).toHaveLength(1);
    expect(Array.isArray(recording.bodies[0])).toBe(false);
  });

  test('behavior: createRpcClient with batchConcurrentRequests batches through globalThis.fetch', async () => {
    const original = globalThis.fetch;
    const recording = recordingFetch();
    globalThis.fetch = (input, init) => {
      if (typeof init?.body === 'string') recording.bodies.push(JSON.parse(init.body));
      return original(input, init);
    };
    try {
      const client = createRpcClient(testbed.mainAnvil.rpcUrl, {
        retryCount: 0,
        batchConcurrentRequests: true,
      });
      const [a, b] = await Promise.all([client.getBlockNumber(), client.getChainId()]);
      expect(recording.bodies).toHaveLength(1);
      expect(recording.bodies[0]).toHaveLength(2);
      expect(a).toBe(await testbed.main.getBlockNumber());
      expect(b).toBe(testbed.mainAnvil.chainId);
    } finally {
      globalThis.fetch = original;
    }
  });

  test('behavior: a batch that cannot be sent fails every read in it as an RPC error', async () => {
    const unreachable = 'http://127.0.0.1:9/';
    const chain = createViemStateChain({
      client: createPublicClient({
        transport: http(unreachable, { retryCount: 0, fetchFn: createBatchingFetch() }),
        cacheTime: 0,
      }),
      chainId: STATE_CHAIN_ID,
      rpcUrl: unreachable,
      stateManagerAddress: testbed.stateChains.get(STATE_CHAIN_ID)?.stateManager as Address,
    });
    const failures = await Promise.all(
      [1, 2, 3].map(() => chain.getBlockNumber().catch((error: unknown) => error)),
    );
    for (const failure of failures) expect(failure).toBeInstanceOf(ChainRpcError);
  });
});
