import { epochForBlock } from '../../core/epoch-math.ts';
import type {
  BlockHeader,
  ChainReader,
  EpochParams,
  MainChain,
  StateChain,
} from '../../ports/chain.ts';

/**
 * A read-through cache for chain reads whose answer can no longer change, shared by every node
 * that reads through it (the simulator wraps its chains once for all of its nodes):
 *
 * - pure functions of the EpochManager's immutables: `getEpochParams`, `getStartBlockForEpoch`,
 *   `getEffectiveEpochForBlock`, `getCurrentEpoch` at an explicit block;
 * - the registry at an epoch that has started: every registry write lands at
 *   `getEffectiveEpoch()`, at least one epoch after the head's, so weights, signing keys, total
 *   and threshold at an epoch ≤ the head's epoch are final (`getOperatorWeightAtEpoch`,
 *   `getOperatorSigningKeyAtEpoch`, `getTotalWeightAtEpoch`, `getThresholdWeightAtEpoch`);
 * - reads at an explicit block at or below the head: `getBlock(n)`, `getMinimumWeight` at a
 *   block, and, when `cacheStateHistory` is set, `getHistoryAtBlock`.
 *
 * "The head" is the highest block number this layer has seen the chain return, so it never runs
 * ahead of the chain — or, when the only producer of blocks announces each block it mines
 * (`announceHead`: the simulator mines every block itself), that block: reads "at the head" are
 * then reads at a known block and are answered here too (`getBlockNumber`, `getBlock('latest')`,
 * `getCurrentEpoch()`). A reorg can rewrite all of that: whoever reorganises the chain calls
 * `clear()` (the simulator does, on its `reorg` fault). Only successful reads are kept; a call
 * that is in flight is shared by everyone asking the same while it runs; cached objects are
 * handed out as copies, so no reader can change what another sees.
 */
export interface ImmutableReadCache {
  /** Wraps a main chain so its final reads go through this cache. */
  main(chain: MainChain): MainChain;
  /** Wraps a state chain likewise. */
  state(chain: StateChain): StateChain;
  /**
   * The producer of every block of `chainId` says its head is now `blockNumber`. Only a sole
   * producer may call it (nothing else mines that chain): from then on reads at the head do not
   * reach the chain until `clear()`.
   */
  announceHead(chainId: number, blockNumber: bigint): void;
  /** Forgets everything (announced heads too): after a reorg. */
  clear(): void;
  stats(): { hits: number; misses: number; entries: number };
}

export interface ImmutableReadCacheOptions {
  /**
   * Also cache `getHistoryAtBlock` below the head. Every operator re-reads the value it signs;
   * with this on, only the first of them reaches the chain, which models every operator sharing
   * one RPC cache, not the independent reads of a deployment.
   */
  cacheStateHistory?: boolean;
}

export function createImmutableReadCache(
  options: ImmutableReadCacheOptions = {},
): ImmutableReadCache {
  const entries = new Map<string, Promise<unknown>>();
  const heads = new Map<number, bigint>();
  /** Heads announced by the sole block producer: the chain's head, not just the highest seen. */
  const announced = new Map<number, bigint>();
  let hits = 0;
  let misses = 0;

  const sawBlock = (chainId: number, blockNumber: bigint) => {
    const head = heads.get(chainId);
    if (head === undefined || blockNumber > head) heads.set(chainId, blockNumber);
  };
  const atOrBelowHead = (chainId: number, blockNumber: bigint) => {
    const head = heads.get(chainId);
    return head !== undefined && blockNumber <= head;
  };

  /** The cached answer of `read`, keyed by chain, call and arguments. */
  function cached<T>(chainId: number, key: string, read: () => Promise<T>): Promise<T> {
    const fullKey = `${chainId}:${key}`;
    const entry = entries.get(fullKey);
    if (entry !== undefined) {
      hits++;
      return entry as Promise<T>;
    }
    misses++;
    const pending = read();
    entries.set(fullKey, pending);
    // A failed read is not an answer: the next caller asks the chain again.
    pending.catch(() => {
      if (entries.get(fullKey) === pending) entries.delete(fullKey);
    });
    return pending;
  }

  /** Head tracking shared by both kinds of chain. */
  function readerOverrides(chain: ChainReader) {
    return {
      async getBlockNumber(): Promise<bigint> {
        const known = announced.get(chain.chainId);
        if (known !== undefined) {
          hits++;
          return known;
        }
        const head = await chain.getBlockNumber();
        sawBlock(chain.chainId, head);
        return head;
      },
      async getBlock(requested: bigint | 'latest'): Promise<BlockHeader> {
        const blockNumber =
          requested === 'latest' ? (announced.get(chain.chainId) ?? requested) : requested;
        if (blockNumber !== 'latest' && atOrBelowHead(chain.chainId, blockNumber)) {
          const header = await cached(chain.chainId, `getBlock:${blockNumber}`, () =>
            chain.getBlock(blockNumber),
          );
          return { ...header };
        }
        const header = await chain.getBlock(blockNumber);
        sawBlock(chain.chainId, header.number);
        return header;
      },
    };
  }

  function main(chain: MainChain): MainChain {
    let params: Promise<EpochParams> | undefined;
    const epochParams = () => {
      if (params === undefined) {
        const pending = cached(chain.chainId, 'getEpochParams', () => chain.getEpochParams());
        params = pending;
        pending.catch(() => {
          if (params === pending) params = undefined;
        });
      }
      return params;
    };
    /** True when `epoch` has started at the highest head seen: its registry state is final. */
    const epochStarted = async (epoch: number) => {
      const head = heads.get(chain.chainId);
      if (head === undefined) return false;
      const resolved = await epochParams();
      return head >= resolved.genesisBlock && epoch <= epochForBlock(resolved, head);
    };
    const atEpoch = async <T>(epoch: number, key: string, read: () => Promise<T>): Promise<T> =>
      (await epochStarted(epoch)) ? cached(chain.chainId, key, read) : read();

    const overrides: Partial<MainChain> = {
      ...readerOverrides(chain),
      getEpochParams: async () => ({ ...(await epochParams()) }),
      getStartBlockForEpoch: (epoch) =>
        cached(chain.chainId, `getStartBlockForEpoch:${epoch}`, () =>
          chain.getStartBlockForEpoch(epoch),
        ),
      getEffectiveEpochForBlock: (blockNumber) =>
        cached(chain.chainId, `getEffectiveEpochForBlock:${blockNumber}`, () =>
          chain.getEffectiveEpochForBlock(blockNumber),
        ),
      getCurrentEpoch: (args) => {
        const blockNumber = args?.blockNumber ?? announced.get(chain.chainId);
        if (blockNumber === undefined) return chain.getCurrentEpoch(args);
        return cached(chain.chainId, `getCurrentEpoch:${blockNumber}`, () =>
          chain.getCurrentEpoch({ blockNumber }),
        );
      },
      getMinimumWeight: (args) => {
        const blockNumber = args?.blockNumber;
        if (blockNumber === undefined || !atOrBelowHead(chain.chainId, blockNumber)) {
          return chain.getMinimumWeight(args);
        }
        return cached(chain.chainId, `getMinimumWeight:${blockNumber}`, () =>
          chain.getMinimumWeight(args),
        );
      },
      getOperatorWeightAtEpoch: (args) =>
        atEpoch(
          args.epoch,
          `getOperatorWeightAtEpoch:${args.operator.toLowerCase()}:${args.epoch}`,
          () => chain.getOperatorWeightAtEpoch(args),
        ),
      getOperatorSigningKeyAtEpoch: (args) =>
        atEpoch(
          args.epoch,
          `getOperatorSigningKeyAtEpoch:${args.operator.toLowerCase()}:${args.epoch}`,
          () => chain.getOperatorSigningKeyAtEpoch(args),
        ),
      getTotalWeightAtEpoch: (epoch) =>
        atEpoch(epoch, `getTotalWeightAtEpoch:${epoch}`, () => chain.getTotalWeightAtEpoch(epoch)),
      getThresholdWeightAtEpoch: (epoch) =>
        atEpoch(epoch, `getThresholdWeightAtEpoch:${epoch}`, () =>
          chain.getThresholdWeightAtEpoch(epoch),
        ),
    };
    return delegate(chain, overrides);
  }

  function state(chain: StateChain): StateChain {
    const overrides: Partial<StateChain> = { ...readerOverrides(chain) };
    if (options.cacheStateHistory === true) {
      overrides.getHistoryAtBlock = async (args) => {
        if (!atOrBelowHead(chain.chainId, args.blockNumber)) return chain.getHistoryAtBlock(args);
        const entry = await cached(
          chain.chainId,
          `getHistoryAtBlock:${args.user.toLowerCase()}:${args.key}:${args.blockNumber}`,
          () => chain.getHistoryAtBlock(args),
        );
        return { ...entry };
      };
    }
    return delegate(chain, overrides);
  }

  return {
    main,
    state,
    announceHead(chainId, blockNumber) {
      announced.set(chainId, blockNumber);
      sawBlock(chainId, blockNumber);
    },
    clear() {
      entries.clear();
      heads.clear();
      announced.clear();
    },
    stats: () => ({ hits, misses, entries: entries.size }),
  };
}

/** `target` with some methods replaced; everything else (fields, other methods) read through. */
function delegate<T extends object>(target: T, overrides: Partial<T>): T {
  return new Proxy(target, {
    get(object, property, receiver) {
      if (Object.hasOwn(overrides, property)) {
        return overrides[property as keyof T];
      }
      return Reflect.get(object, property, receiver);
    },
  });
}
