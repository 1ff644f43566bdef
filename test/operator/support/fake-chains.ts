import type { Address } from 'viem';
import { createChains } from '../../../src/adapters/chain-viem/connect.ts';
import { ChainRpcError, ContractRevertError } from '../../../src/chain/errors.ts';
import { addressKey } from '../../../src/core/address.ts';
import type { Chains, HistoryEntry, MainChain, StateChain } from '../../../src/ports/chain.ts';

export const ZERO_ADDRESS: Address = '0x0000000000000000000000000000000000000000';

/** One epoch as the fake registry contract holds it. */
export interface FakeEpoch {
  startBlock: bigint;
  totalWeightWei: bigint;
  thresholdWeightWei: bigint;
  /** By operator address (any case). */
  operators: Map<string, { weightWei: bigint; signingKey: Address }>;
}

/** A main chain whose registry views read from plain data the test edits. */
export interface FakeMainChain extends MainChain {
  currentEpoch: number;
  epochs: Map<number, FakeEpoch>;
  /** When set, every read throws it. */
  failure: Error | undefined;
  calls: string[];
}

export function createFakeMainChain(): FakeMainChain {
  const read = <T>(call: string, value: () => T): Promise<T> => {
    chain.calls.push(call);
    if (chain.failure !== undefined) return Promise.reject(chain.failure);
    return Promise.resolve(value());
  };
  const epochAt = (epoch: number): FakeEpoch | undefined => {
    // A checkpoint read returns the latest value at or before the epoch.
    let found: FakeEpoch | undefined;
    for (const [number, state] of [...chain.epochs].sort((a, b) => a[0] - b[0])) {
      if (number <= epoch) found = state;
    }
    return found;
  };
  const notFaked = (name: string) => () => Promise.reject(new Error(`${name} is not faked`));
  const chain: FakeMainChain = {
    chainId: 31337,
    label: 'main chain 31337',
    epochManagerAddress: '0x00000000000000000000000000000000000000e1',
    stakeRegistryAddress: '0x00000000000000000000000000000000000000e2',
    currentEpoch: 0,
    epochs: new Map(),
    failure: undefined,
    calls: [],
    getBlockNumber: notFaked('getBlockNumber'),
    getBlock: notFaked('getBlock'),
    getEpochParams: notFaked('getEpochParams'),
    getCurrentEpoch: () => read('getCurrentEpoch', () => chain.currentEpoch),
    getEffectiveEpochForBlock: notFaked('getEffectiveEpochForBlock'),
    getStartBlockForEpoch: (epoch) =>
      read(
        'getStartBlockForEpoch',
        () => chain.epochs.get(epoch)?.startBlock ?? BigInt(epoch) * 12n,
      ),
    getOperatorWeightAtEpoch: ({ operator, epoch }) =>
      read(
        'getOperatorWeightAtEpoch',
        () => epochAt(epoch)?.operators.get(addressKey(operator))?.weightWei ?? 0n,
      ),
    getOperatorSigningKeyAtEpoch: ({ operator, epoch }) =>
      read(
        'getOperatorSigningKeyAtEpoch',
        () => epochAt(epoch)?.operators.get(addressKey(operator))?.signingKey ?? ZERO_ADDRESS,
      ),
    getTotalWeightAtEpoch: (epoch) =>
      read('getTotalWeightAtEpoch', () => epochAt(epoch)?.totalWeightWei ?? 0n),
    getThresholdWeightAtEpoch: (epoch) =>
      read('getThresholdWeightAtEpoch', () => epochAt(epoch)?.thresholdWeightWei ?? 0n),
    getMinimumWeight: notFaked('getMinimumWeight'),
    getOperatorBySigningKey: notFaked('getOperatorBySigningKey'),
    getOperatorEvents: notFaked('getOperatorEvents'),
    verifySignatureSet: notFaked('verifySignatureSet'),
  };
  return chain;
}

export type HistoryQuery =
  | { by: 'block'; user: Address; key: bigint; blockNumber: bigint }
  | { by: 'timestamp'; user: Address; key: bigint; timestampSec: bigint };

/** A state chain whose history reads are answered by a function the test sets. */
export interface FakeStateChain extends StateChain {
  history: (query: HistoryQuery) => HistoryEntry;
  queries: HistoryQuery[];
}

export function createFakeStateChain(chainId: number): FakeStateChain {
  const label = `state chain ${chainId}`;
  const chain: FakeStateChain = {
    chainId,
    label,
    stateManagerAddress: '0x00000000000000000000000000000000000000f1',
    getBlockNumber: () => Promise.reject(new Error('not faked')),
    getBlock: () => Promise.reject(new Error('not faked')),
    history: () => {
      throw new ContractRevertError('NoHistoryFound', { chain: label, call: 'getHistory' });
    },
    queries: [],
    async getHistoryAtBlock({ user, key, blockNumber }) {
      const query: HistoryQuery = { by: 'block', user, key, blockNumber };
      chain.queries.push(query);
      return chain.history(query);
    },
    async getHistoryAtTimestamp({ user, key, timestampSec }) {
      const query: HistoryQuery = { by: 'timestamp', user, key, timestampSec };
      chain.queries.push(query);
      return chain.history(query);
    },
  };
  return chain;
}

export function fakeChains(main: MainChain, ...stateChains: StateChain[]): Chains {
  return createChains(main, stateChains);
}

export function noHistory(label: string, call: string): ContractRevertError {
  return new ContractRevertError('NoHistoryFound', { chain: label, call });
}

export function rpcFailure(label: string, call: string): ChainRpcError {
  return new ChainRpcError('connection refused', {
    chain: label,
    call,
    rpcUrl: 'http://127.0.0.1:1',
  });
}
