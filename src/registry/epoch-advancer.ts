import { zeroAddress } from 'viem';
import { followHeads } from '../chain/follow-heads.ts';
import {
  advanceEpoch,
  type EpochChainReads,
  type OperatorEpochRead,
} from '../core/epoch-advance.ts';
import { type EpochParams, epochForBlock, startBlockForEpoch } from '../core/epoch-math.ts';
import type { EpochOperator, EpochStateRow } from '../core/epoch-state.ts';
import type { OperatorStatusChange } from '../core/operator-transitions.ts';
import type { MainChain } from '../ports/chain.ts';
import type { Clock, TimerHandle } from '../ports/clock.ts';
import type { Logger } from '../ports/logger.ts';
import { type Network, TOPICS } from '../ports/network.ts';
import { StoreConflictError } from '../store/errors.ts';
import type { OperatorEpochUpdate } from '../store/registry/apply-epoch-advance.ts';
import type { OperatorRecord } from '../store/registry/operators.ts';
import type { RegistryStore } from '../store/registry/registry-store.ts';
import { type EpochStateMessage, encodeEpochState } from '../wire/epoch.ts';
import { EpochAdvanceContendedError, RegistryStoppedError } from './errors.ts';

/** Chain reads in flight at once during an advance (two per operator). */
export const DEFAULT_MAX_CONCURRENT_READS = 8;
/** Recomputations when operator statuses change under an advance (a join, a suspension). */
const MAX_ADVANCE_ATTEMPTS = 3;

export interface EpochAdvancerDeps {
  chain: MainChain;
  store: RegistryStore;
  network: Pick<Network, 'publish'>;
  clock: Clock;
  log: Logger;
  /** The operator event watcher: an epoch is advanced only once its events are all applied. */
  watcher: {
    syncedToBlock(): bigint | undefined;
    onSynced(listener: (syncedToBlock: bigint) => void): () => void;
  };
}

export interface EpochAdvancerOptions {
  /** How often the head is polled. */
  pollIntervalMs: number;
  /** After a failed advance (RPC, store), the next attempt; default `pollIntervalMs`. */
  retryDelayMs?: number;
  maxConcurrentReads?: number;
}

/** One epoch advanced (or found already advanced) and published. */
export interface AdvancedEpoch {
  readonly epoch: number;
  /** False when the epoch was already stored (another registry won the race): nothing written. */
  readonly applied: boolean;
  /** The published message: the epoch's weights and its active operators. */
  readonly state: EpochStateMessage;
  readonly statusChanges: readonly OperatorStatusChange[];
}

export interface EpochAdvancer {
  start(): Promise<void>;
  stop(): Promise<void>;
  /** The latest advanced epoch (loaded from the store on start), undefined before the first. */
  currentEpoch(): number | undefined;
  /** Called after each epoch is stored and published, in epoch order. */
  onEpochAdvanced(listener: (advanced: AdvancedEpoch) => void): () => void;
  /** Resolves once `currentEpoch() >= epoch`; rejects on `signal` or when the advancer stops. */
  waitForEpoch(epoch: number, options?: { signal?: AbortSignal }): Promise<void>;
  /**
   * Set while this node is catching up with the chain's epochs: before its first head, or while
   * the latest advanced epoch is behind the head's epoch after a (re)start until it reached it
   * once, or by two epochs or more at any time. Undefined when up to date, which includes the
   * normal one-epoch lag of `confirmations` blocks after each boundary (operators still answer
   * the previous epoch for a grace period then). The aggregator refuses new requests meanwhile:
   * a task is stamped with the latest advanced epoch, one the rejoining operators skip.
   */
  catchingUp(): EpochCatchUp | undefined;
}

/** How far behind the chain a catching-up advancer is. */
export interface EpochCatchUp {
  /** The latest advanced epoch (undefined before the first). */
  readonly advancedEpoch: number | undefined;
  /** The epoch of the latest head seen (undefined before the first head). */
  readonly chainEpoch: number | undefined;
}

interface Waiter {
  epoch: number;
  resolve(): void;
  reject(reason: unknown): void;
}

/**
 * Advances epochs (SPEC §3 "Epoch advance"). It follows new heads; epoch `e` is advanced once the
 * head has reached `startBlock(e)` AND the event watcher's cursor is at least `startBlock(e) - 1`,
 * so that every registration and deregistration effective at `e` has been applied (in practice
 * the advance happens `confirmations` blocks after the epoch's start block). The watcher's
 * progress also triggers a check, so an advance held back by the watcher does not wait for
 * another head.
 *
 * An advance reads the epoch from the chain (see `readEpochChainReads`), runs the core's
 * `advanceEpoch`, stores it with `applyEpochAdvance` (one transaction, idempotent per epoch) and
 * publishes the EpochState on `/spotted/epoch/1`. Epochs missed while down are advanced one by
 * one in order, each stored and published. With no epoch stored yet, the first advance is
 * straight to the current epoch (the core's rules use ≤, so that lands where stepping would).
 */
export function createEpochAdvancer(
  deps: EpochAdvancerDeps,
  options: EpochAdvancerOptions,
): EpochAdvancer {
  const { chain, store, network, clock, watcher } = deps;
  const log = deps.log.child('epoch-advancer');
  const retryDelayMs = options.retryDelayMs ?? options.pollIntervalMs;
  const listeners = new Set<(advanced: AdvancedEpoch) => void>();
  const waiters = new Set<Waiter>();
  let controller: AbortController | undefined;
  let heads: Promise<void> | undefined;
  let params: EpochParams | undefined;
  let current: number | undefined;
  let latestHead: bigint | undefined;
  /** Whether the advanced epoch reached the head's epoch since start (see `catchingUp`). */
  let reachedHeadEpoch = false;
  let running: Promise<void> | undefined;
  let rerun = false;
  let retryTimer: TimerHandle | undefined;
  let stopWatching: (() => void) | undefined;

  /** The highest epoch both the head and the watcher allow, if any. */
  function targetEpoch(epochParams: EpochParams): number | undefined {
    const synced = watcher.syncedToBlock();
    if (latestHead === undefined || synced === undefined) return undefined;
    const firstUnsynced = synced + 1n;
    if (latestHead < epochParams.genesisBlock || firstUnsynced < epochParams.genesisBlock) {
      return undefined;
    }
    return Math.min(
      epochForBlock(epochParams, latestHead),
      epochForBlock(epochParams, firstUnsynced),
    );
  }

  async function advanceAvailable(signal: AbortSignal): Promise<void> {
    if (params === undefined) return;
    const target = targetEpoch(params);
    if (target === undefined) return;
    let next = current === undefined ? target : current + 1;
    while (next <= target && !signal.aborted) {
      let advanced: AdvancedEpoch;
      try {
        advanced = await advanceAndPublish(params, next);
      } catch (error) {
        if (!(error instanceof StoreConflictError && error.reason === 'EPOCH_ORDER')) throw error;
        // Another registry sharing this store is ahead: continue after its latest epoch.
        const latest = (await store.epochStates.getLatest())?.epoch;
        log.info('a later epoch is already stored; continuing from it', { epoch: next, latest });
        if (latest === undefined || latest < next) throw error;
        current = latest;
        next = latest + 1;
        continue;
      }
      current = advanced.epoch;
      noteReachedHead(params);
      emit(advanced);
      next = current + 1;
    }
    noteReachedHead(params);
  }

  function headEpoch(epochParams: EpochParams | undefined): number | undefined {
    if (epochParams === undefined || latestHead === undefined) return undefined;
    if (latestHead < epochParams.genesisBlock) return undefined;
    return epochForBlock(epochParams, latestHead);
  }

  function noteReachedHead(epochParams: EpochParams): void {
    const chainEpoch = headEpoch(epochParams);
    if (chainEpoch !== undefined && current !== undefined && current >= chainEpoch) {
      reachedHeadEpoch = true;
    }
  }

  async function advanceAndPublish(epochParams: EpochParams, epoch: number) {
    const result = await advanceStoredEpoch(
      { chain, store, log },
      epochParams,
      epoch,
      options.maxConcurrentReads === undefined
        ? {}
        : { maxConcurrentReads: options.maxConcurrentReads },
    );
    const state: EpochStateMessage = {
      ...result.epochState,
      operators: result.epochOperators,
      publishedAtMs: clock.now(),
    };
    for (const change of result.statusChanges) log.info('operator status changed', { ...change });
    log.info('epoch advanced', {
      epoch,
      applied: result.applied,
      activeOperators: state.operators.length,
      totalWeightWei: state.totalWeightWei,
      thresholdWeightWei: state.thresholdWeightWei,
    });
    try {
      await network.publish(TOPICS.epoch, encodeEpochState(state));
    } catch (error) {
      // Stored either way; operators that miss the message catch up through /spotted/sync/1.
      log.warn('epoch state not published', { epoch, error: String(error) });
    }
    return {
      epoch,
      applied: result.applied,
      state,
      statusChanges: result.statusChanges,
    };
  }

  function emit(advanced: AdvancedEpoch): void {
    for (const listener of listeners) {
      try {
        listener(advanced);
      } catch (error) {
        log.error('onEpochAdvanced listener threw', { error: String(error) });
      }
    }
    for (const waiter of [...waiters]) {
      if (advanced.epoch >= waiter.epoch) {
        waiters.delete(waiter);
        waiter.resolve();
      }
    }
  }

  /** Runs one advance pass at a time; a kick during a pass runs another pass after it. */
  function kick(): Promise<void> {
    const signal = controller?.signal;
    if (signal === undefined || signal.aborted) return Promise.resolve();
    if (running !== undefined) {
      rerun = true;
      return running;
    }
    running = (async () => {
      do {
        rerun = false;
        await advanceAvailable(signal);
      } while (rerun && !signal.aborted);
    })()
      .catch((error: unknown) => {
        if (signal.aborted) return;
        log.error('epoch advance failed; retrying', { error: String(error) });
        scheduleRetry();
      })
      .finally(() => {
        running = undefined;
      });
    return running;
  }

  function scheduleRetry(): void {
    if (retryTimer !== undefined) return;
    retryTimer = clock.setTimer(retryDelayMs, () => {
      retryTimer = undefined;
      void kick();
    });
  }

  return {
    async start() {
      if (controller !== undefined) return;
      controller = new AbortController();
      const { signal } = controller;
      params = await chain.getEpochParams();
      current = (await store.epochStates.getLatest())?.epoch;
      latestHead = undefined;
      reachedHeadEpoch = false;
      log.info('epoch advancer starting', { currentEpoch: current });
      stopWatching = watcher.onSynced(() => {
        void kick();
      });
      heads = followHeads(chain, {
        clock,
        pollIntervalMs: options.pollIntervalMs,
        signal,
        onHead: async (head) => {
          latestHead = head.number;
          if (params !== undefined) noteReachedHead(params);
          await kick();
        },
        onError: (error) => log.warn('head poll failed', { error: String(error) }),
      });
    },

    async stop() {
      controller?.abort();
      stopWatching?.();
      stopWatching = undefined;
      retryTimer?.cancel();
      retryTimer = undefined;
      await heads;
      await running;
      heads = undefined;
      controller = undefined;
      for (const waiter of waiters) waiter.reject(new RegistryStoppedError('epoch advancer'));
      waiters.clear();
    },

    currentEpoch: () => current,

    catchingUp() {
      const chainEpoch = headEpoch(params);
      const behind =
        params === undefined ||
        latestHead === undefined ||
        (chainEpoch !== undefined &&
          (current === undefined ||
            chainEpoch - current >= 2 ||
            (!reachedHeadEpoch && current < chainEpoch)));
      return behind ? { advancedEpoch: current, chainEpoch } : undefined;
    },

    onEpochAdvanced(listener) {
      listeners.add(listener);
      return () => {
        listeners.delete(listener);
      };
    },

    waitForEpoch(epoch, waitOptions) {
      if (current !== undefined && current >= epoch) return Promise.resolve();
      const signal = waitOptions?.signal;
      return new Promise<void>((resolve, reject) => {
        if (signal?.aborted) {
          reject(signal.reason);
          return;
        }
        const onAbort = () => {
          waiters.delete(waiter);
          reject(signal?.reason);
        };
        const waiter: Waiter = {
          epoch,
          resolve: () => {
            signal?.removeEventListener('abort', onAbort);
            resolve();
          },
          reject: (reason) => {
            signal?.removeEventListener('abort', onAbort);
            reject(reason);
          },
        };
        waiters.add(waiter);
        signal?.addEventListener('abort', onAbort, { once: true });
      });
    },
  };
}

export interface StoredEpochAdvance {
  /** False when the epoch was already stored: nothing was written, the stored rows are returned. */
  applied: boolean;
  epochState: EpochStateRow;
  /** The epoch's active operators, ascending by address. */
  epochOperators: EpochOperator[];
  /** Empty when not applied. */
  statusChanges: readonly OperatorStatusChange[];
}

/**
 * Advances the store to `epoch`: reads the operators, reads the chain at the epoch, runs the
 * core's `advanceEpoch` and writes it with `applyEpochAdvance`. Every refreshed operator is
 * written with its status as a precondition, so a join or suspension that lands between the
 * read and the write makes the store refuse the whole advance; it is then recomputed (up to 3
 * times). Idempotent: an epoch already stored is returned as stored (`applied: false`).
 */
export async function advanceStoredEpoch(
  deps: { chain: MainChain; store: RegistryStore; log: Logger },
  params: EpochParams,
  epoch: number,
  options: { maxConcurrentReads?: number } = {},
): Promise<StoredEpochAdvance> {
  const { chain, store, log } = deps;
  let lastConflict: unknown;
  for (let attempt = 1; attempt <= MAX_ADVANCE_ATTEMPTS; attempt++) {
    const stored = await store.epochStates.get(epoch);
    if (stored !== undefined) {
      const { updatedAtMs: _updatedAtMs, ...epochState } = stored;
      const snapshot = await store.epochOperators.list(epoch);
      return {
        applied: false,
        epochState,
        epochOperators: snapshot.map(({ operator, weightWei, signingKey }) => ({
          operator,
          weightWei,
          signingKey,
        })),
        statusChanges: [],
      };
    }
    const records = await store.operators.list();
    const reads = await readEpochChainReads(chain, params, epoch, records, { ...options, log });
    const advance = advanceEpoch(records, reads);
    const before = new Map(records.map((record) => [record.address, record]));
    const operatorUpdates: OperatorEpochUpdate[] = [];
    for (const operator of advance.operators) {
      const previous = before.get(operator.address);
      // Unactive operators are not read and do not change.
      if (previous === undefined || previous.status === 'unactive') continue;
      operatorUpdates.push({
        address: operator.address,
        expectedStatus: previous.status,
        weightWei: operator.weightWei,
        signingKey: operator.signingKey,
        ...(operator.status === previous.status ? {} : { status: operator.status }),
      });
    }
    try {
      const result = await store.applyEpochAdvance({
        epochState: advance.epochState,
        operatorUpdates,
        epochOperators: advance.epochOperators,
      });
      if (!result.applied) continue; // stored meanwhile: return it from the top of the loop
      return {
        applied: true,
        epochState: advance.epochState,
        epochOperators: [...advance.epochOperators],
        statusChanges: advance.statusChanges,
      };
    } catch (error) {
      if (!(error instanceof StoreConflictError && error.reason === 'STATUS_PRECONDITION')) {
        throw error;
      }
      lastConflict = error;
      log.info('operator statuses changed under the advance; recomputing', { epoch, attempt });
    }
  }
  throw new EpochAdvanceContendedError(epoch, MAX_ADVANCE_ATTEMPTS, lastConflict);
}

/**
 * What an advance to `epoch` reads from the main chain: the epoch's total and threshold weight
 * (checkpointed by epoch), the minimum weight in force at the epoch's start block (not
 * checkpointed; the latest value if the node cannot serve that block's state), and, for every
 * operator that is not `unactive`, its weight and signing key at the epoch. Operators whose
 * registration takes effect later than `epoch` are not read: they count with weight 0 and keep
 * the signing key of their registration event (the registry's key history has nothing for them
 * at `epoch`, or only a previous registration's), which is the key their join must be signed with.
 * Every value a checkpointed read returns for `epoch` was fixed before `startBlock(epoch)`
 * (changes are written at the next effective epoch), so the reads are reproducible.
 */
export async function readEpochChainReads(
  chain: MainChain,
  params: EpochParams,
  epoch: number,
  records: readonly OperatorRecord[],
  options: { maxConcurrentReads?: number; log?: Logger } = {},
): Promise<EpochChainReads> {
  const maxConcurrent = options.maxConcurrentReads ?? DEFAULT_MAX_CONCURRENT_READS;
  const startBlock = startBlockForEpoch(params, epoch);
  const [totalWeightWei, thresholdWeightWei, minimumWeightWei] = await Promise.all([
    chain.getTotalWeightAtEpoch(epoch),
    chain.getThresholdWeightAtEpoch(epoch),
    chain.getMinimumWeight({ blockNumber: startBlock }).catch((error: unknown) => {
      options.log?.warn('minimum weight at the epoch start block unavailable; reading latest', {
        epoch,
        startBlock,
        error: String(error),
      });
      return chain.getMinimumWeight();
    }),
  ]);
  const readOne = async (record: OperatorRecord): Promise<OperatorEpochRead> => {
    if (record.activeEpoch > epoch) {
      return { operator: record.address, weightWei: 0n, signingKey: record.signingKey };
    }
    const [weightWei, signingKey] = await Promise.all([
      chain.getOperatorWeightAtEpoch({ operator: record.address, epoch }),
      chain.getOperatorSigningKeyAtEpoch({ operator: record.address, epoch }),
    ]);
    return {
      operator: record.address,
      weightWei,
      signingKey: signingKey === zeroAddress ? record.signingKey : signingKey,
    };
  };
  const toRead = records.filter((record) => record.status !== 'unactive');
  const operators: OperatorEpochRead[] = [];
  for (let index = 0; index < toRead.length; index += maxConcurrent) {
    operators.push(...(await Promise.all(toRead.slice(index, index + maxConcurrent).map(readOne))));
  }
  return { epoch, startBlock, minimumWeightWei, totalWeightWei, thresholdWeightWei, operators };
}
