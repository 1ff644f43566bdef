import type { Address } from 'viem';
import { addressKey, sameAddress } from '../core/address.ts';
import type { EpochOperator, EpochStateRow } from '../core/epoch-state.ts';
import type { MainChain } from '../ports/chain.ts';
import type { Clock } from '../ports/clock.ts';
import type { Logger } from '../ports/logger.ts';
import {
  type GossipMessage,
  type GossipVerdict,
  type Network,
  type PeerId,
  PROTOCOLS,
  TOPICS,
} from '../ports/network.ts';
import type { Rng } from '../ports/rng.ts';
import type { OperatorStore } from '../store/operator/operator-store.ts';
import { decodeEpochState, type EpochStateMessage, MAX_EPOCH_STATE_BYTES } from '../wire/epoch.ts';
import { GossipRuleError, toGossipVerdict } from '../wire/gossip-verdict.ts';
import {
  decodeSyncResponse,
  encodeSyncRequest,
  MAX_SYNC_RESPONSE_BYTES,
  type OperatorRecordMessage,
} from '../wire/sync.ts';
import { type BackoffPolicy, backoffDelayMs, checkBackoffPolicy } from './backoff.ts';
import { OperatorConfigError } from './errors.ts';
import {
  createBackgroundWork,
  createWakeUp,
  describeError,
  isAbortOf,
  sleepUnlessAborted,
} from './lifecycle.ts';
import { putLocalOperatorIfChanged } from './local-operator-record.ts';

/**
 * The epoch follower: learns each epoch's state (weights, threshold, active operators) from the
 * registry — `/spotted/epoch/1` gossip, accepted only from the configured registry peers, and
 * `/spotted/sync/1` on start, on a gap and whenever a state could not be adopted — and adopts a
 * state only after checking it against the main chain: the epoch is not in the future, and the
 * totals and this operator's own entry (weight, signing key) match the registry contract at that
 * epoch. A state that disagrees is refused and logged, never adopted; an older one is ignored.
 * The adopted state goes to `current_epoch_state`; its operator list stays in memory for tasks.
 */

/** An epoch state this node checked against the chain and now works with. */
export interface AdoptedEpoch extends EpochStateRow {
  readonly operators: readonly EpochOperator[];
  /** This operator's entry; undefined when it is not active in the epoch. */
  readonly self: EpochOperator | undefined;
  readonly publishedAtMs: number;
  readonly adoptedAtMs: number;
  /** The registry peer it came from. */
  readonly source: PeerId;
}

export type EpochOfferOutcome =
  | { readonly kind: 'adopted'; readonly epoch: AdoptedEpoch }
  /** The same epoch with the same content as the adopted one. */
  | { readonly kind: 'unchanged' }
  | { readonly kind: 'older'; readonly currentEpoch: number }
  | {
      readonly kind: 'refused';
      /** `future`: past the chain's current epoch; `chainMismatch`: disagrees with the registry contract. */
      readonly reason: 'future' | 'chainMismatch';
      readonly detail: string;
    }
  /** A chain read failed, so the state could not be checked (it is not adopted). */
  | { readonly kind: 'unverified'; readonly detail: string };

/** What the task handler needs from the follower. */
export interface EpochView {
  current(): AdoptedEpoch | undefined;
  /** The state adopted before the current one (for the previous-epoch grace). */
  previous(): AdoptedEpoch | undefined;
  /** Asks the registry for its latest state soon (coalesced with other requests). */
  requestSync(reason: string): void;
  /**
   * Resolves with the current state once one of at least `epoch` is adopted, or with whatever is
   * current after `timeoutMs`; undefined when aborted or nothing is adopted.
   */
  waitForEpoch(
    epoch: number,
    options: { timeoutMs: number; signal: AbortSignal },
  ): Promise<AdoptedEpoch | undefined>;
}

export interface EpochFollower extends EpochView {
  start(): Promise<void>;
  stop(): Promise<void>;
  /** Checks a state against the chain and adopts it; states are handled one at a time, in order. */
  offer(state: EpochStateMessage, source: PeerId): Promise<EpochOfferOutcome>;
  onAdopted(listener: (epoch: AdoptedEpoch) => void): () => void;
}

export interface EpochFollowerDeps {
  clock: Clock;
  rng: Rng;
  network: Network;
  mainChain: MainChain;
  store: OperatorStore;
  log: Logger;
}

export interface EpochFollowerOptions {
  operator: Address;
  /** Epoch states are accepted from these peers only (gossip and sync). */
  registryPeerIds: readonly PeerId[];
  syncRequestTimeoutMs: number;
  /** Between sync attempts that failed or brought a state that could not be adopted. */
  syncRetry: BackoffPolicy;
  /** Gossiped states waiting for their chain check; more are dropped (ignored, not penalised). */
  maxQueuedStates: number;
}

export const DEFAULT_EPOCH_FOLLOWER_OPTIONS: Omit<
  EpochFollowerOptions,
  'operator' | 'registryPeerIds'
> = {
  syncRequestTimeoutMs: 5_000,
  syncRetry: { initialDelayMs: 250, maxDelayMs: 10_000, multiplier: 2, jitterRatio: 0.2 },
  maxQueuedStates: 8,
};

const MESSAGE_TYPE = 'EpochState';

export function createEpochFollower(
  deps: EpochFollowerDeps,
  options: EpochFollowerOptions,
): EpochFollower {
  checkEpochFollowerOptions(options);
  const { clock, rng, network, mainChain, store } = deps;
  const log = deps.log.child('epoch');
  const registryPeers = new Set(options.registryPeerIds);
  const adoptedListeners = new Set<(epoch: AdoptedEpoch) => void>();
  const waiters = new Set<{ epoch: number; resolve: () => void }>();
  const syncWanted = createWakeUp();
  const work = createBackgroundWork((name, error) =>
    log.error('epoch follower task failed', { task: name, error: describeError(error) }),
  );
  let current: AdoptedEpoch | undefined;
  let previous: AdoptedEpoch | undefined;
  /** The epoch stored before this start: older states are ignored even before one is adopted. */
  let storedEpoch: number | undefined;
  let offers: Promise<unknown> = Promise.resolve();
  let queuedOffers = 0;
  let controller: AbortController | undefined;
  let cutRetryWait: (() => void) | undefined;

  function offer(state: EpochStateMessage, source: PeerId): Promise<EpochOfferOutcome> {
    queuedOffers += 1;
    const result = offers.then(() => verifyAndAdopt(state, source));
    offers = result.then(
      () => undefined,
      () => undefined,
    );
    void offers.then(() => {
      queuedOffers -= 1;
    });
    return result;
  }

  async function verifyAndAdopt(
    state: EpochStateMessage,
    source: PeerId,
  ): Promise<EpochOfferOutcome> {
    const floor = current?.epoch ?? storedEpoch;
    if (floor !== undefined && state.epoch < floor) {
      return { kind: 'older', currentEpoch: floor };
    }
    if (current !== undefined && state.epoch === current.epoch && sameEpochState(current, state)) {
      return { kind: 'unchanged' };
    }
    // The registry republishes an epoch when an operator joins mid-epoch; gossip may deliver the
    // versions out of order, so within one epoch only a later publication replaces the adopted one.
    if (
      current !== undefined &&
      state.epoch === current.epoch &&
      state.publishedAtMs < current.publishedAtMs
    ) {
      return { kind: 'older', currentEpoch: current.epoch };
    }
    const check = await checkAgainstChain(state);
    if (check.kind !== 'ok') {
      log.warn(
        check.kind === 'refused' ? 'epoch state refused' : 'epoch state could not be checked',
        {
          epoch: state.epoch,
          source,
          ...(check.kind === 'refused' ? { reason: check.reason } : {}),
          detail: check.detail,
        },
      );
      return check;
    }
    const self = state.operators.find((entry) => sameAddress(entry.operator, options.operator));
    const adopted: AdoptedEpoch = {
      epoch: state.epoch,
      startBlock: state.startBlock,
      minimumWeightWei: state.minimumWeightWei,
      totalWeightWei: state.totalWeightWei,
      thresholdWeightWei: state.thresholdWeightWei,
      operators: state.operators,
      self,
      publishedAtMs: state.publishedAtMs,
      adoptedAtMs: clock.now(),
      source,
    };
    try {
      await store.currentEpochState.put({
        epoch: adopted.epoch,
        startBlock: adopted.startBlock,
        minimumWeightWei: adopted.minimumWeightWei,
        totalWeightWei: adopted.totalWeightWei,
        thresholdWeightWei: adopted.thresholdWeightWei,
      });
    } catch (error) {
      // The state is checked against the chain: work with it; only the local copy is behind.
      log.error('could not store the epoch state', {
        epoch: adopted.epoch,
        error: describeError(error),
      });
    }
    if (current !== undefined && current.epoch < adopted.epoch) previous = current;
    current = adopted;
    await refreshLocalOperator(adopted);
    log.info('epoch state adopted', {
      epoch: adopted.epoch,
      operators: adopted.operators.length,
      active: self !== undefined,
      source,
    });
    for (const waiter of [...waiters]) {
      if (adopted.epoch >= waiter.epoch) waiter.resolve();
    }
    for (const listener of adoptedListeners) {
      try {
        listener(adopted);
      } catch (error) {
        log.error('epoch listener threw', { error: describeError(error) });
      }
    }
    return { kind: 'adopted', epoch: adopted };
  }

  type ChainCheck =
    | { kind: 'ok' }
    | Extract<EpochOfferOutcome, { kind: 'refused' }>
    | Extract<EpochOfferOutcome, { kind: 'unverified' }>;

  async function checkAgainstChain(state: EpochStateMessage): Promise<ChainCheck> {
    const self = state.operators.find((entry) => sameAddress(entry.operator, options.operator));
    const listedWeightWei = state.operators.reduce((sum, entry) => sum + entry.weightWei, 0n);
    if (listedWeightWei > state.totalWeightWei) {
      return {
        kind: 'refused',
        reason: 'chainMismatch',
        detail: `the operators' weights add up to ${listedWeightWei}, above the total weight ${state.totalWeightWei}`,
      };
    }
    try {
      const chainEpoch = await mainChain.getCurrentEpoch();
      if (state.epoch > chainEpoch) {
        return {
          kind: 'refused',
          reason: 'future',
          detail: `epoch ${state.epoch} is ahead of the chain's current epoch ${chainEpoch}`,
        };
      }
      // One read at a time, in a fixed order: the simulator replays chain calls exactly.
      const startBlock = await mainChain.getStartBlockForEpoch(state.epoch);
      const totalWeightWei = await mainChain.getTotalWeightAtEpoch(state.epoch);
      const thresholdWeightWei = await mainChain.getThresholdWeightAtEpoch(state.epoch);
      const own =
        self === undefined
          ? undefined
          : ([
              await mainChain.getOperatorWeightAtEpoch({
                operator: self.operator,
                epoch: state.epoch,
              }),
              await mainChain.getOperatorSigningKeyAtEpoch({
                operator: self.operator,
                epoch: state.epoch,
              }),
            ] as const);
      const mismatches: string[] = [];
      const compare = (field: string, published: unknown, onChain: unknown, same: boolean) => {
        if (!same) mismatches.push(`${field} is ${published}, the chain says ${onChain}`);
      };
      compare('startBlock', state.startBlock, startBlock, state.startBlock === startBlock);
      compare(
        'totalWeightWei',
        state.totalWeightWei,
        totalWeightWei,
        state.totalWeightWei === totalWeightWei,
      );
      compare(
        'thresholdWeightWei',
        state.thresholdWeightWei,
        thresholdWeightWei,
        state.thresholdWeightWei === thresholdWeightWei,
      );
      if (self !== undefined && own !== undefined) {
        const [weightWei, signingKey] = own;
        compare('own weightWei', self.weightWei, weightWei, self.weightWei === weightWei);
        compare(
          'own signingKey',
          self.signingKey,
          signingKey,
          sameAddress(self.signingKey, signingKey),
        );
      }
      if (mismatches.length > 0) {
        return {
          kind: 'refused',
          reason: 'chainMismatch',
          detail: `epoch ${state.epoch}: ${mismatches.join('; ')}`,
        };
      }
      return { kind: 'ok' };
    } catch (error) {
      return { kind: 'unverified', detail: describeError(error) };
    }
  }

  /**
   * Keeps `local_operator` in step with the adopted epoch (weight, key; waitingActive → active);
   * writes only when one of them changed.
   */
  async function refreshLocalOperator(adopted: AdoptedEpoch): Promise<void> {
    if (adopted.self === undefined) return;
    try {
      const local = await store.localOperator.get();
      if (local === undefined) return;
      await putLocalOperatorIfChanged(store, local, {
        address: local.address,
        signingKey: adopted.self.signingKey,
        weightWei: adopted.self.weightWei,
        activeEpoch: local.activeEpoch,
        status: local.status === 'waitingActive' ? 'active' : local.status,
      });
    } catch (error) {
      log.error('could not update the local operator record', { error: describeError(error) });
    }
  }

  /**
   * The registry's record of this operator, from a sync answer: it is the authority on status.
   * Written only when it differs from the stored one.
   */
  async function applyOwnRecord(record: OperatorRecordMessage): Promise<void> {
    try {
      await putLocalOperatorIfChanged(store, await store.localOperator.get(), {
        address: options.operator,
        signingKey: record.signingKey,
        weightWei: record.weightWei,
        activeEpoch: record.activeEpoch,
        status: record.status,
      });
    } catch (error) {
      log.error('could not update the local operator record', { error: describeError(error) });
    }
  }

  function handleGossip(message: GossipMessage): GossipVerdict {
    try {
      if (!registryPeers.has(message.from)) {
        throw new GossipRuleError(
          'UNKNOWN_SENDER',
          MESSAGE_TYPE,
          `published by ${message.from}, which is not a configured registry`,
        );
      }
      const state = decodeEpochState(message.data);
      const floor = current?.epoch ?? storedEpoch;
      if (floor !== undefined && state.epoch < floor) {
        throw new GossipRuleError(
          'STALE',
          MESSAGE_TYPE,
          `epoch ${state.epoch} is older than ${floor}`,
        );
      }
      if (
        current !== undefined &&
        state.epoch === current.epoch &&
        sameEpochState(current, state)
      ) {
        throw new GossipRuleError('DUPLICATE', MESSAGE_TYPE, `epoch ${state.epoch} again`);
      }
      if (current !== undefined && state.epoch > current.epoch + 1) {
        requestSync(`gap: epoch ${current.epoch} → ${state.epoch}`);
      }
      if (queuedOffers >= options.maxQueuedStates) {
        log.warn('epoch state dropped: too many waiting for their chain check', {
          epoch: state.epoch,
        });
        return 'ignore';
      }
      const signal = controller?.signal;
      work.run(`offer epoch ${state.epoch}`, async () => {
        const outcome = await offer(state, message.from);
        if ((outcome.kind === 'refused' || outcome.kind === 'unverified') && !signal?.aborted) {
          requestSync(`epoch ${state.epoch} not adopted (${outcome.kind})`);
        }
      });
      return toGossipVerdict(undefined);
    } catch (error) {
      if (error instanceof GossipRuleError && error.code === 'UNKNOWN_SENDER') {
        log.warn('epoch state from a peer that is not a registry', { from: message.from });
      }
      return toGossipVerdict(error);
    }
  }

  function requestSync(reason: string): void {
    log.debug('sync requested', { reason });
    syncWanted.notify();
    cutRetryWait?.();
  }

  /** Waits out a retry delay; a sync request (e.g. the join just succeeded) cuts it short. */
  async function retryWait(delayMs: number, signal: AbortSignal): Promise<void> {
    const wait = new AbortController();
    const onAbort = () => wait.abort(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    cutRetryWait = () => wait.abort(new Error('sync requested'));
    try {
      await sleepUnlessAborted(clock, delayMs, wait.signal);
    } finally {
      cutRetryWait = undefined;
      signal.removeEventListener('abort', onAbort);
    }
  }

  /** One round over the registries; true once a state was adopted (or was already current). */
  async function syncOnce(signal: AbortSignal): Promise<boolean> {
    for (const registry of options.registryPeerIds) {
      if (signal.aborted) return false;
      let answer: ReturnType<typeof decodeSyncResponse>;
      try {
        const bytes = await network.request(
          registry,
          PROTOCOLS.sync,
          encodeSyncRequest({ fromEpoch: current?.epoch ?? storedEpoch ?? 0, stateHash: null }),
          {
            timeoutMs: options.syncRequestTimeoutMs,
            maxResponseBytes: MAX_SYNC_RESPONSE_BYTES,
            signal,
          },
        );
        answer = decodeSyncResponse(bytes);
      } catch (error) {
        if (signal.aborted) return false;
        log.debug('sync request failed', { registry, error: describeError(error) });
        continue;
      }
      const own = answer.operators.find((record) => sameAddress(record.address, options.operator));
      if (own !== undefined) await applyOwnRecord(own);
      if (answer.latestEpoch === null) {
        log.debug('the registry has no epoch state yet', { registry });
        continue;
      }
      let outcome: EpochOfferOutcome;
      try {
        outcome = await offer(answer.latestEpoch, registry);
      } catch (error) {
        log.error('epoch state from sync could not be handled', { error: describeError(error) });
        continue;
      }
      if (outcome.kind === 'adopted' || outcome.kind === 'unchanged' || outcome.kind === 'older') {
        return true;
      }
    }
    return false;
  }

  async function syncLoop(signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      await syncWanted.wait(signal);
      let failures = 0;
      while (!(await syncOnce(signal))) {
        if (signal.aborted) return;
        failures += 1;
        const delayMs = backoffDelayMs(options.syncRetry, failures, rng);
        log.debug('sync did not bring an adoptable state; retrying', { failures, delayMs });
        await retryWait(delayMs, signal);
      }
    }
  }

  return {
    async start() {
      if (controller !== undefined) return;
      const own = new AbortController();
      controller = own;
      storedEpoch = (await store.currentEpochState.get())?.epoch;
      network.subscribe(TOPICS.epoch, handleGossip, { maxMessageBytes: MAX_EPOCH_STATE_BYTES });
      work.run('sync loop', async () => {
        try {
          await syncLoop(own.signal);
        } catch (error) {
          if (!isAbortOf(own.signal, error)) throw error;
        }
      });
      requestSync('start');
    },

    async stop() {
      if (controller === undefined) return;
      network.unsubscribe(TOPICS.epoch);
      controller.abort(new Error('epoch follower stopped'));
      for (const waiter of [...waiters]) waiter.resolve();
      await work.settle();
      await offers;
      controller = undefined;
    },

    offer,
    current: () => current,
    previous: () => previous,
    requestSync,

    async waitForEpoch(epoch, { timeoutMs, signal }) {
      if ((current?.epoch ?? -1) >= epoch || signal.aborted) return current;
      await new Promise<void>((resolve) => {
        const waiter = {
          epoch,
          resolve: () => {
            waiters.delete(waiter);
            timer.cancel();
            signal.removeEventListener('abort', waiter.resolve);
            resolve();
          },
        };
        const timer = clock.setTimer(timeoutMs, waiter.resolve);
        signal.addEventListener('abort', waiter.resolve, { once: true });
        waiters.add(waiter);
      });
      return signal.aborted ? undefined : current;
    },

    onAdopted(listener) {
      adoptedListeners.add(listener);
      return () => adoptedListeners.delete(listener);
    },
  };
}

/** Same epoch, same numbers, same operators in the same order. */
function sameEpochState(adopted: AdoptedEpoch, state: EpochStateMessage): boolean {
  if (
    adopted.epoch !== state.epoch ||
    adopted.startBlock !== state.startBlock ||
    adopted.minimumWeightWei !== state.minimumWeightWei ||
    adopted.totalWeightWei !== state.totalWeightWei ||
    adopted.thresholdWeightWei !== state.thresholdWeightWei ||
    adopted.operators.length !== state.operators.length
  ) {
    return false;
  }
  return adopted.operators.every((entry, index) => {
    const other = state.operators[index];
    return (
      other !== undefined &&
      addressKey(entry.operator) === addressKey(other.operator) &&
      addressKey(entry.signingKey) === addressKey(other.signingKey) &&
      entry.weightWei === other.weightWei
    );
  });
}

function checkEpochFollowerOptions(options: EpochFollowerOptions): void {
  if (options.registryPeerIds.length === 0) {
    throw new OperatorConfigError('registryPeerIds', 'at least one registry peer is required');
  }
  for (const field of ['syncRequestTimeoutMs', 'maxQueuedStates'] as const) {
    if (!Number.isSafeInteger(options[field]) || options[field] <= 0) {
      throw new OperatorConfigError(
        `epoch.${field}`,
        `must be a positive integer, got ${options[field]}`,
      );
    }
  }
  checkBackoffPolicy('epoch.syncRetry', options.syncRetry);
}
