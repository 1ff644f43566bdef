import type { Address, Hex } from 'viem';
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts';
import {
  createVirtualClock,
  type VirtualClock,
  yieldTurns,
} from '../../../src/adapters/clock/virtual-clock.ts';
import { createNativeSecp256k1 } from '../../../src/adapters/crypto/native-secp256k1.ts';
import { createMemoryLogger } from '../../../src/adapters/logger/memory-logger.ts';
import {
  type Aggregator,
  type AggregatorDeps,
  type AggregatorOptions,
  createAggregator,
  type DeliveryRequest,
  type ProofRequestOutcome,
} from '../../../src/aggregator/aggregator.ts';
import {
  type ConsumerChain,
  createConsumerChains,
  type WebhookSender,
} from '../../../src/aggregator/delivery-ports.ts';
import { UnknownChainError } from '../../../src/chain/errors.ts';
import type { Chains, MainChain, StateChain } from '../../../src/ports/chain.ts';
import type { Clock } from '../../../src/ports/clock.ts';
import {
  type InboundRequest,
  type Network,
  type PeerId,
  PROTOCOLS,
  type RequestHandler,
  TOPICS,
} from '../../../src/ports/network.ts';
import type { ProofQuery } from '../../../src/protocol/task-fields.ts';
import type { RegistryStore } from '../../../src/store/registry/registry-store.ts';
import { decodeTask } from '../../../src/wire/task.ts';
import { encodeTaskResponse } from '../../../src/wire/task-response.ts';

export const STATE_CHAIN_ID = 10;
export const START_MS = 1_700_000_000_000;
const secp256k1 = createNativeSecp256k1();

/** A node's port call, as crash hooks see it. `path` is e.g. `queue.ack`, `tx.completeTask`. */
export interface CallEvent {
  seq: number;
  path: string;
  phase: 'before' | 'after';
  args: readonly unknown[];
}

/** Thrown by every port of a node that was killed: nothing it does reaches the world any more. */
export class NodeKilledError extends Error {
  readonly code = 'NODE_KILLED';
  override readonly name = 'NodeKilledError';
}

/**
 * One run of a node (a process). Killing it is abrupt: calls in flight complete in the world
 * (a committed transaction stays committed) but their results never reach the node, every later
 * call throws, its timers never fire and its sleeps never end.
 */
export interface Life {
  readonly id: number;
  killed: boolean;
  /** Port calls made so far (numbered from 1). */
  calls: number;
  kill(): void;
  onCall: ((event: CallEvent, life: Life) => void) | undefined;
}

/** Counts I/O in flight, so virtual time only moves once the system is quiet. */
export interface IoTracker {
  track<T>(call: Promise<T>): Promise<T>;
  inFlight(): number;
  idle(): Promise<void>;
}

export function createIoTracker(): IoTracker {
  let inFlight = 0;
  let waiters: (() => void)[] = [];
  return {
    track(call) {
      inFlight += 1;
      return call.finally(() => {
        inFlight -= 1;
        if (inFlight === 0) {
          const ready = waiters;
          waiters = [];
          for (const resolve of ready) resolve();
        }
      });
    },
    inFlight: () => inFlight,
    idle: () =>
      inFlight === 0 ? Promise.resolve() : new Promise<void>((resolve) => waiters.push(resolve)),
  };
}

/**
 * Wraps every async method of `target` (and of nested objects, and the `tx` a `transaction`
 * callback gets) so it is numbered, tracked, reported to `life.onCall` before and after, and
 * fails once `life` is killed.
 */
export function killable<T extends object>(target: T, life: Life, io: IoTracker, prefix = ''): T {
  const cache = new Map<PropertyKey, unknown>();
  return new Proxy(target, {
    get(object, property, receiver) {
      if (cache.has(property)) return cache.get(property);
      const value = Reflect.get(object, property, receiver) as unknown;
      if (typeof property !== 'string') return value;
      const path = `${prefix}${property}`;
      let wrapped: unknown = value;
      if (typeof value === 'function') {
        const fn = value as (...args: unknown[]) => unknown;
        wrapped = (...args: unknown[]) => {
          if (life.killed) return Promise.reject(new NodeKilledError(`${path}: node killed`));
          const seq = ++life.calls;
          try {
            // A hook may throw to fail this call (an injected fault) without running it.
            life.onCall?.({ seq, path, phase: 'before', args }, life);
          } catch (fault) {
            return Promise.reject(fault);
          }
          if (life.killed) return Promise.reject(new NodeKilledError(`${path}: node killed`));
          const callArgs =
            property === 'transaction' && typeof args[0] === 'function'
              ? [
                  (tx: object) =>
                    (args[0] as (tx: object) => Promise<unknown>)(killable(tx, life, io, 'tx.')),
                ]
              : args;
          const result = fn.apply(object, callArgs);
          if (!(result instanceof Promise)) return result;
          return io.track(
            result.then((resolved) => {
              if (!life.killed) life.onCall?.({ seq, path, phase: 'after', args }, life);
              if (life.killed) throw new NodeKilledError(`${path}: node killed`);
              return resolved;
            }),
          );
        };
      } else if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
        wrapped = killable(value as object, life, io, `${path}.`);
      }
      cache.set(property, wrapped);
      return wrapped;
    },
  });
}

export interface RigOperator {
  address: Address;
  signingKey: Hex;
  signer: Address;
  weight: bigint;
  peerId: PeerId;
  /** Honest operators sign every task they are asked; silent ones never answer. */
  behaviour: 'honest' | 'silent';
}

/** A test receiver of callbacks: records every POST and answers what `respond` says. */
export interface WebhookReceiver extends WebhookSender {
  posts: { url: string; body: string; headers: Record<string, string>; atMs: number }[];
  respond: (url: string, attempt: number) => number | Error;
}

export function createWebhookReceiver(clock: Pick<Clock, 'now'>): WebhookReceiver {
  const receiver: WebhookReceiver = {
    posts: [],
    respond: () => 200,
    async post(url, body, { headers }) {
      await yieldTurns(1);
      receiver.posts.push({ url, body, headers: { ...headers }, atMs: clock.now() });
      const answer = receiver.respond(
        url,
        receiver.posts.filter((post) => post.url === url).length,
      );
      if (answer instanceof Error) throw answer;
      return { status: answer };
    },
  };
  return receiver;
}

/** One running aggregator process of the rig. */
export interface Incarnation {
  name: string;
  life: Life;
  aggregator: Aggregator;
  /** What `requestProof` resolved with (accepted = durable). */
  request(query: ProofQuery, deliveries?: DeliveryRequest): Promise<ProofRequestOutcome>;
}

export interface RigOptions {
  /** Opens the registry store all incarnations share, on the rig's clock; the caller closes it. */
  openStore(clock: Pick<Clock, 'now'>): Promise<RegistryStore>;
  operators: readonly Omit<RigOperator, 'peerId' | 'behaviour'>[];
  behaviours?: readonly RigOperator['behaviour'][];
  /** Delivery ports; each incarnation gets its own killable view of the same chain. */
  consumer?: () => ConsumerChain;
  aggregator?: AggregatorOptions;
  /** Operators answer this long after a task is published (virtual ms). */
  replyDelayMs?: number;
}

export interface Rig {
  clock: VirtualClock;
  io: IoTracker;
  store: RegistryStore;
  operators: RigOperator[];
  webhooks: WebhookReceiver;
  log: ReturnType<typeof createMemoryLogger>;
  /** Every TaskEnded event any incarnation emitted. */
  ended: { taskId: Hex; status: string; life: number }[];
  /** Starts a node named `name` (the name fixes its peer id, so its worker id, across restarts). */
  start(
    name?: string,
    options?: {
      onCall?: Life['onCall'];
      aggregator?: AggregatorOptions;
      /** This node's own handle on the database (another process, another pool). */
      store?: RegistryStore;
      /** A node configured without a webhook sender. */
      withoutWebhooks?: boolean;
      /**
       * Operators connect to this node this long after it starts (virtual ms, one entry per
       * operator, or one for all): until then they do not hear its tasks, as after a registry
       * restart before they rejoin. Default: connected at once.
       */
      operatorsConnectAfterMs?: number | readonly number[];
      /** The epoch advancer's catch-up state the aggregator sees (default: never catching up). */
      epochs?: AggregatorDeps['epochs'];
    },
  ): Promise<Incarnation>;
  /** Moves virtual time by `durationMs` in `stepMs` steps, settling I/O at every step. */
  advance(durationMs: number, stepMs?: number): Promise<void>;
  /** Advances until `predicate` holds; fails naming `description` after `limitMs` virtual ms. */
  runUntil(
    predicate: () => boolean | Promise<boolean>,
    description: string,
    limitMs?: number,
  ): Promise<void>;
  /** A fresh query for key `n`: a new task per key. */
  query(n: number): ProofQuery;
  chainValueOf(key: bigint): bigint;
}

export function makeOperators(
  weights: readonly bigint[],
): Omit<RigOperator, 'peerId' | 'behaviour'>[] {
  return weights.map((weight) => {
    const signingKey = generatePrivateKey();
    return {
      address: privateKeyToAccount(generatePrivateKey()).address,
      signingKey,
      signer: privateKeyToAccount(signingKey).address,
      weight,
    };
  });
}

/**
 * Aggregators over a shared store, on virtual time, with a fake operator network and killable
 * ports: the harness of the crash-recovery tests. Operators answer published tasks themselves
 * (honest ones sign, at most once per task and round, like real operator nodes).
 */
export async function createRig(options: RigOptions): Promise<Rig> {
  const io = createIoTracker();
  const settle = async () => {
    for (let round = 0; round < 10_000; round++) {
      await yieldTurns(2);
      if (io.inFlight() === 0) {
        await yieldTurns(3);
        if (io.inFlight() === 0) return;
      }
      await io.idle();
    }
  };
  const clock = createVirtualClock({ startMs: START_MS, settle });
  const baseStore = await options.openStore(clock);
  // Each rig proves values of its own user, so task ids never repeat across rigs sharing a chain.
  const user = privateKeyToAccount(generatePrivateKey()).address;
  const log = createMemoryLogger({ echo: process.env['SPOTTED_TEST_LOGS'] === '1' });
  const operators: RigOperator[] = options.operators.map((op, index) => ({
    ...op,
    peerId: `operator-${index}`,
    behaviour: options.behaviours?.[index] ?? 'honest',
  }));
  const byPeer = new Map(operators.map((op) => [op.peerId, op]));
  const webhooks = createWebhookReceiver(clock);
  const ended: Rig['ended'] = [];
  const replyDelayMs = options.replyDelayMs ?? 20;
  const answered = new Set<string>();
  let lives = 0;

  const stateChain: StateChain = {
    chainId: STATE_CHAIN_ID,
    label: `state chain ${STATE_CHAIN_ID}`,
    stateManagerAddress: '0x0000000000000000000000000000000000000abc',
    getBlockNumber: async () => 1_000n,
    getBlock: async () => {
      throw new Error('not used');
    },
    getHistoryAtBlock: async ({ key, blockNumber }) => ({
      value: chainValueOf(key),
      blockNumber,
      timestampSec: 1_700_000_000n,
    }),
    getHistoryAtTimestamp: async ({ key, timestampSec }) => ({
      value: chainValueOf(key),
      blockNumber: 900n,
      timestampSec,
    }),
  };
  const chains: Chains = {
    main: {} as MainChain,
    stateChainIds: [STATE_CHAIN_ID],
    state(chainId) {
      if (chainId !== STATE_CHAIN_ID)
        throw new UnknownChainError(chainId, [STATE_CHAIN_ID], 'state');
      return stateChain;
    },
  };
  function chainValueOf(key: bigint): bigint {
    return 10n ** 18n + key;
  }

  function clockFor(life: Life): Clock {
    return {
      now: () => clock.now(),
      setTimer: (delayMs, callback) =>
        clock.setTimer(delayMs, () => {
          if (!life.killed) callback();
        }),
      sleep: (durationMs, sleepOptions) =>
        clock
          .sleep(durationMs, sleepOptions)
          .then(() => (life.killed ? new Promise<void>(() => {}) : undefined)),
    };
  }

  /**
   * `connected` holds the operators' peers that hear this node's gossip now (its topic peers):
   * a task published before an operator connected never reaches it.
   */
  function networkFor(name: string, life: Life, connected: ReadonlySet<PeerId>): Network {
    const handlers = new Map<string, RequestHandler>();
    const network: Network = {
      peerId: `registry-${name}`,
      start: async () => {},
      stop: async () => {},
      listenAddresses: () => [],
      dial: async () => {
        throw new Error('not used');
      },
      hangUp: async () => {},
      connectedPeers: () => [],
      setPeerEvents: () => {},
      setConnectionGate: () => {},
      subscribe: () => {},
      unsubscribe: () => {},
      topicPeers: (topic) => (topic === TOPICS.task ? [...connected].sort() : []),
      async publish(topic, data) {
        if (life.killed) throw new NodeKilledError('publish: node killed');
        if (topic !== TOPICS.task) return;
        const task = decodeTask(data);
        for (const address of task.selectedOperators) {
          const operator = operators.find((op) => op.address === address);
          const key = `${task.taskId}#${task.round}#${address}`;
          if (operator?.behaviour !== 'honest' || answered.has(key)) continue;
          if (!connected.has(operator.peerId)) continue; // not connected: never heard it
          answered.add(key);
          clock.setTimer(replyDelayMs, () => {
            const handler = handlers.get(PROTOCOLS.response);
            if (!handler || life.killed) return; // sent to a dead process: lost
            const request: InboundRequest = {
              protocol: PROTOCOLS.response,
              from: operator.peerId,
              data: encodeTaskResponse({
                kind: 'signed',
                taskId: task.taskId,
                operator: operator.address,
                epoch: task.epoch,
                round: task.round,
                signature: secp256k1.sign(task.taskId, operator.signingKey),
              }),
              signal: new AbortController().signal,
            };
            // Reported as the call `response` (before and after the node handled it), so a test
            // can kill the node mid-collection once answers arrived (buffered, stored later).
            const seq = ++life.calls;
            life.onCall?.({ seq, path: 'response', phase: 'before', args: [address] }, life);
            if (life.killed) return;
            void io.track(
              handler(request)
                .then((ack) => {
                  if (!life.killed) {
                    life.onCall?.({ seq, path: 'response', phase: 'after', args: [address] }, life);
                  }
                  return ack;
                })
                .catch(() => new Uint8Array()),
            );
          });
        }
      },
      async handle(protocol, handler) {
        if (life.killed) throw new NodeKilledError('handle: node killed');
        handlers.set(protocol, handler);
      },
      async unhandle(protocol) {
        handlers.delete(protocol);
      },
      request: async () => {
        throw new Error('not used');
      },
    };
    return network;
  }

  const rig: Rig = {
    clock,
    io,
    store: baseStore,
    operators,
    webhooks,
    log,
    ended,
    async start(name = 'A', startOptions = {}) {
      lives += 1;
      const life: Life = {
        id: lives,
        killed: false,
        calls: 0,
        kill() {
          life.killed = true;
        },
        onCall: startOptions.onCall,
      };
      const store = killable(startOptions.store ?? baseStore, life, io);
      const connected = new Set<PeerId>();
      operators.forEach((operator, index) => {
        const delays = startOptions.operatorsConnectAfterMs ?? 0;
        const delayMs = typeof delays === 'number' ? delays : (delays[index] ?? 0);
        if (delayMs <= 0) connected.add(operator.peerId);
        else
          clock.setTimer(delayMs, () => {
            if (!life.killed) connected.add(operator.peerId);
          });
      });
      const consumer = options.consumer ? killable(options.consumer(), life, io) : undefined;
      const aggregator = createAggregator(
        {
          clock: clockFor(life),
          network: networkFor(name, life, connected),
          chains,
          store,
          secp256k1,
          log: log.child(`${name}#${life.id}`),
          peers: {
            operatorOf: (peer) => byPeer.get(peer)?.address,
            peerOf: (address) => operators.find((op) => op.address === address)?.peerId,
          },
          webhooks: startOptions.withoutWebhooks ? undefined : killable(webhooks, life, io),
          consumers: consumer ? createConsumerChains([consumer]) : undefined,
          epochs: startOptions.epochs,
        },
        {
          round: { responseDeadlineMs: 1_000, expiryMs: 15_000 },
          ...options.aggregator,
          ...startOptions.aggregator,
          queue: {
            collectLeaseMs: 3_000,
            pollIntervalMs: 250,
            ...options.aggregator?.queue,
            ...startOptions.aggregator?.queue,
            deliveries: {
              webhook: { backoff: { initialMs: 200, maxMs: 2_000 } },
              chain: { backoff: { initialMs: 200, maxMs: 2_000 }, receiptPollMs: 50 },
              pendingRecheckMs: 500,
              ...options.aggregator?.queue?.deliveries,
              ...startOptions.aggregator?.queue?.deliveries,
            },
          },
        },
      );
      aggregator.onTaskEnded((event) => ended.push({ ...event, life: life.id }));
      await aggregator.start().catch((error: unknown) => {
        if (!(error instanceof NodeKilledError)) throw error;
      });
      return {
        name,
        life,
        aggregator,
        request: (query, deliveries) => aggregator.requestProof(query, deliveries),
      };
    },
    async advance(durationMs, stepMs = 50) {
      const target = clock.now() + durationMs;
      while (clock.now() < target) await clock.advanceTo(Math.min(target, clock.now() + stepMs));
    },
    async runUntil(predicate, description, limitMs = 60_000) {
      const deadline = clock.now() + limitMs;
      while (!(await predicate())) {
        if (clock.now() >= deadline) {
          throw new Error(`virtual ${limitMs} ms passed waiting for: ${description}`);
        }
        await clock.advanceBy(50);
      }
    },
    query: (n) => ({
      chainId: STATE_CHAIN_ID,
      targetAddress: user,
      key: BigInt(n),
      blockNumber: 500n,
    }),
    chainValueOf,
  };
  await seed();
  return rig;

  /** Registers the operators, active, and epoch 1 with all of them. */
  async function seed() {
    const store = baseStore;
    for (const op of operators) {
      await store.operators.upsert({
        address: op.address,
        signingKey: op.signer,
        registeredAtBlockNumber: 1n,
        registeredAtTimestampSec: 1n,
        activeEpoch: 1,
        status: 'active',
        weightWei: op.weight,
      });
    }
    const total = operators.reduce((sum, op) => sum + op.weight, 0n);
    await store.applyEpochAdvance({
      epochState: {
        epoch: 1,
        startBlock: 12n,
        minimumWeightWei: 0n,
        totalWeightWei: total,
        thresholdWeightWei: (2n * total + 2n) / 3n,
      },
      operatorUpdates: [],
      epochOperators: operators.map((op) => ({
        operator: op.address,
        weightWei: op.weight,
        signingKey: op.signer,
      })),
    });
  }
}
