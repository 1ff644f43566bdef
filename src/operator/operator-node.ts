import type { Address, Hex } from 'viem';
import { toChecksumAddress } from '../core/address.ts';
import { InvalidAddressError } from '../core/errors.ts';
import {
  createPeerGuard,
  OPERATOR_GUARD_OPTIONS,
  type PeerGuard,
  type PeerGuardOptions,
} from '../core/peer-guard.ts';
import type { Secp256k1 } from '../crypto/secp256k1.ts';
import type { Chains } from '../ports/chain.ts';
import type { Clock } from '../ports/clock.ts';
import type { Logger } from '../ports/logger.ts';
import type { Network, PeerId } from '../ports/network.ts';
import type { RejectionReporter } from '../ports/rejections.ts';
import type { Rng } from '../ports/rng.ts';
import type { OperatorStore } from '../store/operator/operator-store.ts';
import { createBehaviour, HONEST_BEHAVIOUR_SPEC, type OperatorBehaviour } from './behaviour.ts';
import {
  type AdoptedEpoch,
  createEpochFollower,
  DEFAULT_EPOCH_FOLLOWER_OPTIONS,
  type EpochFollowerOptions,
} from './epoch-follower.ts';
import { OperatorConfigError, StoreOwnedByOtherOperatorError } from './errors.ts';
import { createHealthService, type OperatorHealth } from './health-service.ts';
import {
  createJoinClient,
  DEFAULT_JOIN_CLIENT_OPTIONS,
  type JoinClientOptions,
  type JoinSummary,
} from './join-client.ts';
import { createKeyRing, type KeyRing } from './key-ring.ts';
import { parseRegistryBootstrap } from './registry-peers.ts';
import {
  createTaskHandler,
  DEFAULT_TASK_HANDLER_OPTIONS,
  type TaskAnsweredEvent,
  type TaskHandlerOptions,
} from './task-handler.ts';

/**
 * The operator node (SPEC §3): joins the network through the registry, follows epoch states
 * checked against the chain, answers the tasks it is selected for, and reports its health. The
 * wiring file (production, simulator) builds the ports; this composes the components:
 * health service → epoch follower → task handler → join client, stopped in reverse order.
 *
 * The network is a dependency, not a component: it must be started before `start()` and is
 * stopped by whoever created it, after `stop()`.
 */

export interface OperatorNodeDeps {
  clock: Clock;
  rng: Rng;
  network: Network;
  chains: Chains;
  store: OperatorStore;
  secp256k1: Secp256k1;
  log: Logger;
  /** How decisions are turned into messages; honest unless the simulator says otherwise. */
  behaviour?: OperatorBehaviour;
  /** Told of every refused message or connection (metrics: `recordRejection`). */
  reportRejection?: RejectionReporter;
}

export interface OperatorNodeOptions {
  /** The operator's registered address (it signs nothing; its signing keys do). */
  operatorAddress: Address;
  /** Private keys of the operator's signing keys, e.g. the current one and the next after a rotation. */
  signingPrivateKeys: readonly Hex[];
  /** Registry multiaddrs, each ending in `/p2p/<peer id>`; only these peers are trusted. */
  registryBootstrapAddresses: readonly string[];
  /**
   * Further registries (peer ids) trusted for tasks and epochs but not joined directly: the
   * operator's signed join reaches them through the registries' join replication.
   */
  trustedRegistryPeerIds?: readonly PeerId[];
  join?: Partial<Omit<JoinClientOptions, 'operator' | 'registries'>>;
  epoch?: Partial<Omit<EpochFollowerOptions, 'operator' | 'registryPeerIds'>>;
  tasks?: Partial<Omit<TaskHandlerOptions, 'operator' | 'registryPeerIds'>>;
  /** Rate limits, bans and the stranger allowance (OPERATOR_GUARD_OPTIONS by default). */
  guard?: Partial<PeerGuardOptions>;
}

export interface OperatorNodeStatus {
  readonly health: OperatorHealth;
  readonly join: JoinSummary;
  readonly epoch: AdoptedEpoch | undefined;
}

export interface OperatorNode {
  readonly operator: Address;
  readonly peerId: PeerId;
  readonly keyRing: KeyRing;
  readonly behaviour: OperatorBehaviour;
  /** The connection gate and rejection counts (installed on the network by `start()`). */
  readonly guard: PeerGuard;
  start(): Promise<void>;
  stop(): Promise<void>;
  status(): OperatorNodeStatus;
  onTaskAnswered(listener: (event: TaskAnsweredEvent) => void): () => void;
}

/** Builds the node; bad options throw OperatorConfigError here, before anything runs. */
export function createOperatorNode(
  deps: OperatorNodeDeps,
  options: OperatorNodeOptions,
): OperatorNode {
  const operator = checkOperatorAddress(options.operatorAddress);
  const registries = parseRegistryBootstrap(options.registryBootstrapAddresses);
  const registryPeerIds = [
    ...new Set([
      ...registries.map((registry) => registry.peerId),
      ...(options.trustedRegistryPeerIds ?? []),
    ]),
  ];
  const log = deps.log.child('operator', { operator });
  const registrySet = new Set(registryPeerIds);
  const guard = createPeerGuard(
    {
      now: () => deps.clock.now(),
      // Registries, and operators a registry named at our join; later joiners are strangers
      // until then (see OPERATOR_GUARD_OPTIONS). `join` is built below, before any gate check.
      isAdmitted: (peer) => registrySet.has(peer) || join.isDiscoveryPeer(peer),
      isProtected: (peer) => registrySet.has(peer),
      hangUp: (peer) => {
        log.warn('peer banned', { peer });
        void deps.network.hangUp(peer).catch(() => {});
      },
      report: deps.reportRejection,
    },
    { ...OPERATOR_GUARD_OPTIONS, ...options.guard },
  );
  const behaviour = deps.behaviour ?? createBehaviour(HONEST_BEHAVIOUR_SPEC);
  const keyRing = createKeyRing(
    { secp256k1: deps.secp256k1 },
    { signingPrivateKeys: options.signingPrivateKeys },
  );

  const follower = createEpochFollower(
    {
      clock: deps.clock,
      rng: deps.rng,
      network: deps.network,
      mainChain: deps.chains.main,
      store: deps.store,
      log,
    },
    { ...DEFAULT_EPOCH_FOLLOWER_OPTIONS, ...options.epoch, operator, registryPeerIds },
  );
  const tasks = createTaskHandler(
    {
      clock: deps.clock,
      rng: deps.rng,
      network: deps.network,
      chains: deps.chains,
      store: deps.store,
      secp256k1: deps.secp256k1,
      keyRing,
      epochs: follower,
      behaviour,
      log,
      reportRejection: guard.report,
    },
    { ...DEFAULT_TASK_HANDLER_OPTIONS, ...options.tasks, operator, registryPeerIds },
  );
  const join = createJoinClient(
    {
      clock: deps.clock,
      rng: deps.rng,
      network: deps.network,
      mainChain: deps.chains.main,
      store: deps.store,
      secp256k1: deps.secp256k1,
      keyRing,
      log,
    },
    { ...DEFAULT_JOIN_CLIENT_OPTIONS, ...options.join, operator, registries },
  );

  const health = (): OperatorHealth => {
    const summary = join.summary();
    const epoch = follower.current();
    const status =
      summary.phase === 'refused'
        ? summary.reason
        : summary.phase === 'joined' && epoch !== undefined
          ? 'ok'
          : 'starting';
    return { status, epoch: epoch?.epoch ?? 0 };
  };
  const healthService = createHealthService({ network: deps.network, log, health }, { operator });

  let unsubscribeJoin: (() => void) | undefined;
  let running = false;

  return {
    operator,
    peerId: deps.network.peerId,
    keyRing,
    behaviour,
    guard,

    async start() {
      if (running) return;
      const local = await deps.store.localOperator.get();
      if (local !== undefined && local.address.toLowerCase() !== operator.toLowerCase()) {
        throw new StoreOwnedByOtherOperatorError(local.address, operator);
      }
      running = true;
      log.info('operator node starting', {
        peerId: deps.network.peerId,
        registries: registryPeerIds,
        signingKeys: keyRing.signingKeys,
        behaviour: behaviour.label,
      });
      // Once a registry has us, it also answers sync: catch up with its epoch state now.
      unsubscribeJoin = join.onChange((registry, state) => {
        if (state.phase === 'joined') follower.requestSync(`joined registry ${registry}`);
      });
      deps.network.setConnectionGate(guard);
      await healthService.start();
      await follower.start();
      await tasks.start();
      await join.start();
    },

    async stop() {
      if (!running) return;
      running = false;
      await join.stop();
      unsubscribeJoin?.();
      unsubscribeJoin = undefined;
      await tasks.stop();
      await follower.stop();
      await healthService.stop();
      deps.network.setConnectionGate(undefined);
      log.info('operator node stopped');
    },

    status: () => ({ health: health(), join: join.summary(), epoch: follower.current() }),
    onTaskAnswered: (listener) => tasks.onAnswered(listener),
  };
}

function checkOperatorAddress(address: Address): Address {
  try {
    return toChecksumAddress('operatorAddress', address);
  } catch (error) {
    if (error instanceof InvalidAddressError) {
      throw new OperatorConfigError(
        'operatorAddress',
        `${JSON.stringify(address)} is not an address`,
      );
    }
    throw error;
  }
}
