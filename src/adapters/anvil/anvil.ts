import { type Anvil, createAnvil } from '@viem/anvil';
import {
  type Address,
  createTestClient,
  createWalletClient,
  defineChain,
  type Hex,
  http,
  type PrivateKeyAccount,
  type PublicClient,
  type TestClient,
} from 'viem';
import { createRpcClient } from '../chain-viem/connect.ts';
import type { SigningClient, WriteContext } from '../chain-viem/writes.ts';
import { resolveAnvilBinary } from './anvil-binary.ts';

export interface StartAnvilOptions {
  chainId?: number;
  /** Mine a block per transaction (default true). Turn off to mine only through `mine()`. */
  automine?: boolean;
  /** Timestamp of the genesis block. */
  genesisTimestampSec?: bigint;
  /** Time to wait for "Listening on" before giving up. */
  startTimeoutMs?: number;
  /**
   * Each new block's timestamp is the previous one plus this, whatever the wall clock says, so
   * block hashes repeat from run to run (the simulator). Default: Anvil's wall-clock timestamps.
   */
  blockTimestampIntervalSec?: number;
  /**
   * The public client sends reads started together as one JSON-RPC batch (see
   * `createRpcClient`): the simulator starts a chain's concurrent reads together.
   */
  batchConcurrentReads?: boolean;
}

/** A running Anvil process with clients bound to it. Always `stop()` it (or `await using`). */
export interface AnvilChain extends AsyncDisposable {
  readonly chainId: number;
  readonly rpcUrl: string;
  readonly port: number;
  readonly publicClient: PublicClient;
  readonly testClient: TestClient<'anvil'>;
  /** A wallet client sending from `account` (funded automatically by `fund`). */
  walletClient(account: PrivateKeyAccount): SigningClient;
  /** Everything a write needs, sending from `account`. */
  writeContext(account: PrivateKeyAccount, label?: string): WriteContext;
  mine(blocks?: number, options?: { intervalSec?: number }): Promise<void>;
  /** Mines one block stamped `timestampSec`, in one request (`evm_mine` with a timestamp). */
  mineBlockAt(timestampSec: bigint): Promise<void>;
  setNextBlockTimestamp(timestampSec: bigint): Promise<void>;
  setAutomine(enabled: boolean): Promise<void>;
  fund(address: Address, balanceWei?: bigint): Promise<void>;
  snapshot(): Promise<Hex>;
  revert(snapshotId: Hex): Promise<void>;
  /** Replaces the last `depth` blocks with new, empty ones (a chain reorganisation). */
  reorg(depth: number): Promise<void>;
  stop(): Promise<void>;
}

const LISTENING = /Listening on ([\d.]+):(\d+)/;

/**
 * Starts Anvil on a free loopback port (Anvil binds port 0 and reports the port it got).
 * The child dies with this process (execa's cleanup), so a crashed test leaves no orphan.
 */
export async function startAnvil(options: StartAnvilOptions = {}): Promise<AnvilChain> {
  const chainId = options.chainId ?? 31337;
  const anvil: Anvil = createAnvil({
    anvilBinary: resolveAnvilBinary(),
    host: '127.0.0.1',
    port: 0,
    chainId,
    ...(options.automine === false ? { noMining: true } : {}),
    ...(options.genesisTimestampSec === undefined
      ? {}
      : { timestamp: options.genesisTimestampSec }),
    startTimeout: options.startTimeoutMs ?? 20_000,
    // @viem/anvil 0.0.10 is patched (patches/): its stop() left this timer running after every
    // stop, which kept the process alive that long (`pnpm sim` exited 5 s after its summary).
    stopTimeout: 5_000,
  });
  let port: number | undefined;
  const stopListening = anvil.on('message', (message) => {
    const match = LISTENING.exec(message);
    if (match?.[2]) port = Number(match[2]);
  });
  try {
    await anvil.start();
  } finally {
    stopListening();
  }
  if (port === undefined) {
    await anvil.stop().catch(() => {});
    throw new Error(
      `Anvil started but did not report its port; last output: ${anvil.logs.join('')}`,
    );
  }
  const chain = bindAnvil(anvil, chainId, port, options.batchConcurrentReads === true);
  if (options.blockTimestampIntervalSec !== undefined) {
    await chain.testClient.setBlockTimestampInterval({
      interval: options.blockTimestampIntervalSec,
    });
  }
  return chain;
}

function bindAnvil(
  anvil: Anvil,
  chainId: number,
  port: number,
  batchConcurrentReads: boolean,
): AnvilChain {
  const rpcUrl = `http://127.0.0.1:${port}`;
  const chain = defineChain({
    id: chainId,
    name: `anvil-${chainId}`,
    nativeCurrency: { name: 'Ether', symbol: 'ETH', decimals: 18 },
    rpcUrls: { default: { http: [rpcUrl] } },
  });
  const transport = http(rpcUrl, { retryCount: 0 });
  const publicClient = createRpcClient(rpcUrl, {
    retryCount: 0,
    batchConcurrentRequests: batchConcurrentReads,
  });
  const testClient = createTestClient({ mode: 'anvil', chain, transport, cacheTime: 0 });
  let stopped = false;

  const walletClient = (account: PrivateKeyAccount): SigningClient =>
    createWalletClient({ account, chain, transport });

  const self: AnvilChain = {
    chainId,
    rpcUrl,
    port,
    publicClient,
    testClient,
    walletClient,
    writeContext: (account, label) => ({
      publicClient,
      walletClient: walletClient(account),
      label: label ?? `chain ${chainId}`,
      rpcUrl,
    }),
    mine: (blocks = 1, opts) =>
      testClient.mine({
        blocks,
        ...(opts?.intervalSec === undefined ? {} : { interval: opts.intervalSec }),
      }),
    mineBlockAt: async (timestampSec) => {
      await testClient.request({
        method: 'evm_mine' as 'anvil_mine',
        params: [Number(timestampSec)] as unknown as [Hex, Hex],
      });
    },
    setNextBlockTimestamp: (timestampSec) =>
      testClient.setNextBlockTimestamp({ timestamp: timestampSec }),
    setAutomine: (enabled) => testClient.setAutomine(enabled),
    fund: (address, balanceWei = 10n ** 21n) =>
      testClient.setBalance({ address, value: balanceWei }),
    snapshot: () => testClient.snapshot(),
    revert: (id) => testClient.revert({ id }),
    reorg: async (depth) => {
      await testClient.request({
        method: 'anvil_reorg' as 'anvil_mine',
        params: [depth, []] as unknown as [Hex, Hex],
      });
    },
    stop: async () => {
      if (stopped) return;
      stopped = true;
      await anvil.stop();
    },
    [Symbol.asyncDispose]: () => self.stop(),
  };
  return self;
}
