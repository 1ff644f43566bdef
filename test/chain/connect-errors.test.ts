import { createServer } from 'node:net';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { startTestbed, type Testbed } from '../../src/adapters/anvil/testbed.ts';
import { connectChains } from '../../src/adapters/chain-viem/connect.ts';
import {
  ChainIdMismatchError,
  ChainRpcError,
  ContractNotFoundError,
  UnknownChainError,
} from '../../src/chain/errors.ts';

let testbed: Testbed;

beforeAll(async () => {
  testbed = await startTestbed({ stateChainIds: [10] });
});

afterAll(async () => {
  await testbed?.stop();
});

const config = () => {
  const stateChain = testbed.stateChains.get(10);
  if (!stateChain) throw new Error('missing state chain');
  return {
    main: {
      rpcUrl: testbed.mainAnvil.rpcUrl,
      chainId: 31337,
      epochManager: testbed.deployment.epochManager,
      stakeRegistry: testbed.deployment.stakeRegistry,
    },
    stateChains: [
      { rpcUrl: stateChain.anvil.rpcUrl, chainId: 10, stateManager: stateChain.stateManager },
    ],
    retryCount: 0,
  };
};

const stateChainPort = () => testbed.stateChains.get(10)?.anvil.port ?? 0;

/** A loopback port with nothing listening on it. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (typeof address !== 'object' || address === null) throw new Error('no port');
  return address.port;
}

describe('connectChains', () => {
  test('behavior: a correct configuration connects and serves reads', async () => {
    const chains = await connectChains(config());
    expect(chains.stateChainIds).toEqual([10]);
    expect((await chains.main.getEpochParams()).epochLengthBlocks).toBe(12n);
    expect(chains.state(10).label).toBe('state chain 10');
  });

  test('behavior: an unknown chain id names the id and the configured ones', async () => {
    const chains = await connectChains(config());
    expect(() => chains.state(42)).toThrow(UnknownChainError);
    expect(() => chains.state(42)).toThrow(
      'chain 42: state: chain id 42 is not configured (configured state chains: 10)',
    );
  });

  test('behavior: an unreachable RPC names the chain, the call and the URL', async () => {
    const port = await closedPort();
    const error = await connectChains({
      ...config(),
      main: { ...config().main, rpcUrl: `http://127.0.0.1:${port}` },
    }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ChainRpcError);
    expect((error as Error).message).toMatch(
      new RegExp(
        `^main chain 31337: connect: RPC request to http://127.0.0.1:${port} failed: HTTP request failed`,
      ),
    );
  });

  test('behavior: a wrong registry address (no code) names the contract and the address', async () => {
    const wrong = '0x000000000000000000000000000000000000dEaD';
    const error = await connectChains({
      ...config(),
      main: { ...config().main, stakeRegistry: wrong },
    }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ContractNotFoundError);
    expect((error as Error).message).toBe(
      `main chain 31337: getMinimumWeight: no ECDSAStakeRegistry contract at ${wrong} (check the configured ECDSAStakeRegistry address)`,
    );
  });

  test('behavior: a state-manager address that holds another contract is refused', async () => {
    const error = await connectChains({
      ...config(),
      stateChains: [
        {
          rpcUrl: testbed.mainAnvil.rpcUrl.replace(/\d+$/, String(stateChainPort())),
          chainId: 10,
          stateManager: testbed.deployment.stakeRegistry,
        },
      ],
    }).catch((e: unknown) => e);
    // On chain 10 the registry's address holds nothing; on the main chain it holds the wrong contract.
    expect(error).toBeInstanceOf(ContractNotFoundError);
    const onMain = await connectChains({
      ...config(),
      stateChains: [
        {
          rpcUrl: testbed.mainAnvil.rpcUrl,
          chainId: 31337,
          stateManager: testbed.deployment.epochManager,
        },
      ],
    }).catch((e: unknown) => e);
    expect(onMain).toBeInstanceOf(ContractNotFoundError);
    expect((onMain as Error).message).toContain(
      `no StateManager contract at ${testbed.deployment.epochManager}`,
    );
  });

  test('behavior: an RPC serving another chain id is refused', async () => {
    const error = await connectChains({
      ...config(),
      main: { ...config().main, chainId: 1 },
    }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ChainIdMismatchError);
    expect((error as Error).message).toBe(
      `chain 1: connect: RPC ${testbed.mainAnvil.rpcUrl} serves chain id 31337, but chain id 1 was configured`,
    );
  });
});
