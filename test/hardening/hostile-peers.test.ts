import { randomBytes } from 'node:crypto';
import { type Address, getAddress, type Hex } from 'viem';
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { createNativeSecp256k1 } from '../../src/adapters/crypto/native-secp256k1.ts';
import { requestProof } from '../../src/adapters/http/spotted-client.ts';
import { createNodeMetrics, type NodeMetrics } from '../../src/adapters/metrics/node-metrics.ts';
import { createLibp2pNetwork } from '../../src/adapters/network-libp2p/libp2p-network.ts';
import { type Network, PROTOCOLS, TOPICS } from '../../src/ports/network.ts';
import { NetworkError } from '../../src/ports/network-errors.ts';
import type { RejectionReason } from '../../src/ports/rejections.ts';
import { joinDigest } from '../../src/protocol/join-digest.ts';
import {
  decodeJoinResponse,
  encodeJoinRequest,
  MAX_JOIN_REQUEST_BYTES,
  MAX_JOIN_RESPONSE_BYTES,
} from '../../src/wire/join.ts';
import { decodeTask, encodeTask, MAX_TASK_BYTES } from '../../src/wire/task.ts';
import {
  decodeTaskResponseAck,
  encodeTaskResponse,
  MAX_TASK_RESPONSE_ACK_BYTES,
  type TaskResponseMessage,
} from '../../src/wire/task-response.ts';
import { type Cluster, STATE_CHAIN_ID, startCluster } from '../e2e/cluster.ts';

/**
 * Hostile peers against a real cluster (1 registry, 4 operators, libp2p over TCP, Anvil, PGlite)
 * while honest proof requests keep completing. Each hostile input must be refused with its named
 * reason and counted in the nodes' Prometheus metrics (`spotted_rejected_messages_total`), and
 * no node may crash.
 *
 * Two hostile identities:
 * - `stranger`: a peer that never joined. It sends garbage and oversize joins, task responses it
 *   may not send, and floods the operators' task topic with bogus tasks.
 * - `rogue`: a registered operator (weight 1) whose join we build by hand. Its signing key is
 *   rotated on chain after it joins, and it keeps answering every task signed with the old key;
 *   it also replays its join, claims another operator in a response, and sends garbage.
 *
 * The honest operators' weights need the slow one (200 of 501; threshold 334), so every task
 * stays open ≥ 600 ms: the rogue's answers reach live tasks and are judged by their signature,
 * not dropped as late.
 */
const secp256k1 = createNativeSecp256k1();
const user = privateKeyToAccount(generatePrivateKey());
const KEY = 7n;
const REQUEST = { timeoutMs: 5000, maxResponseBytes: MAX_JOIN_RESPONSE_BYTES };
const FLOOD_TASKS = 300;

let cluster: Cluster;
const registryMetrics: NodeMetrics = createNodeMetrics({ processMetrics: false });
const operatorMetrics: NodeMetrics = createNodeMetrics({ processMetrics: false });
const hostileNetworks: Network[] = [];

/** The value of one `spotted_rejected_messages_total` sample in the rendered metrics (0 if absent). */
async function rejectedCount(
  metrics: NodeMetrics,
  reason: RejectionReason,
  channel: string,
): Promise<number> {
  const line = `spotted_rejected_messages_total{reason="${reason}",channel="${channel}"}`;
  for (const row of (await metrics.render()).split('\n')) {
    if (row.startsWith(`${line} `)) return Number(row.slice(line.length + 1));
  }
  return 0;
}

async function hostileNetwork(): Promise<Network> {
  const network = await createLibp2pNetwork({
    transport: 'tcp',
    gossip: { heartbeatIntervalMs: 100 },
  });
  await network.start();
  hostileNetworks.push(network);
  return network;
}

function registryAddress(): string {
  return cluster.registryNetwork.listenAddresses()[0] as string;
}

async function outcomeOf(operation: Promise<unknown>): Promise<unknown> {
  return operation.then(
    (value) => value,
    (error: unknown) => error,
  );
}

beforeAll(async () => {
  cluster = await startCluster({
    operators: [
      { weight: 100n },
      { weight: 100n },
      { weight: 100n },
      { weight: 200n, behaviour: { kind: 'slow', delayMs: 600 } },
    ],
    aggregator: { round: { responseDeadlineMs: 3_000, expiryMs: 12_000 } },
    reportRejection: {
      registry: (rejection) => registryMetrics.recordRejection(rejection),
      operators: (rejection) => operatorMetrics.recordRejection(rejection),
    },
  });
  const writer = await cluster.testbed.stateChains.get(STATE_CHAIN_ID)?.writerFor(user);
  if (!writer) throw new Error('no state chain');
  await writer.setValue({ key: KEY, value: 99n });
  await cluster.waitUntilReady(4);
}, 90_000);

afterAll(async () => {
  for (const network of hostileNetworks) await network.stop().catch(() => {});
  await cluster?.stop();
});

/** Honest requests, one after another, until stopped; every one must complete. */
function honestTraffic() {
  const statuses: string[] = [];
  let stopped = false;
  const loop = (async () => {
    const stateChain = cluster.testbed.chains.state(STATE_CHAIN_ID);
    while (!stopped) {
      const proof = await requestProof(cluster.apiUrl, {
        chainId: STATE_CHAIN_ID,
        targetAddress: user.address,
        key: KEY,
        blockNumber: await stateChain.getBlockNumber(),
      });
      statuses.push(proof.status);
    }
  })();
  return {
    statuses,
    async stop() {
      stopped = true;
      await loop;
    },
  };
}

describe('hardening: hostile peers are refused by name while honest proofs complete', () => {
  test('behavior: a stranger’s malformed, oversize and unauthorised messages, and its bogus-task flood', async () => {
    const honest = honestTraffic();
    const stranger = await hostileNetwork();
    await stranger.dial(registryAddress());

    // Malformed protobuf on the join protocol (open to strangers): refused `malformed`.
    const garbage = new Uint8Array([0xff, 0xff, 0xff, 0x0f, 0x01, 0x02]);
    const joinAnswer = decodeJoinResponse(
      await stranger.request(cluster.registryNetwork.peerId, PROTOCOLS.join, garbage, REQUEST),
    );
    expect(joinAnswer).toMatchObject({ accepted: false, reason: 'malformed' });

    // Over the join protocol's byte cap: the stream is reset before any decoding.
    const oversize = await outcomeOf(
      stranger.request(
        cluster.registryNetwork.peerId,
        PROTOCOLS.join,
        new Uint8Array(MAX_JOIN_REQUEST_BYTES + 1),
        REQUEST,
      ),
    );
    expect(oversize).toBeInstanceOf(NetworkError);

    // A peer that never joined sends a (well-formed) task response: the gate refuses it.
    const response: TaskResponseMessage = {
      kind: 'signed',
      taskId: `0x${randomBytes(32).toString('hex')}`,
      operator: cluster.operators[0]?.address as Address,
      epoch: 1,
      round: 0,
      signature: `0x${'11'.repeat(64)}1b`,
    };
    const unauthorised = await outcomeOf(
      stranger.request(
        cluster.registryNetwork.peerId,
        PROTOCOLS.response,
        encodeTaskResponse(response),
        { timeoutMs: 5000, maxResponseBytes: MAX_TASK_RESPONSE_ACK_BYTES },
      ),
    );
    expect(unauthorised).toBeInstanceOf(NetworkError);

    // The flood: bogus tasks published on the operators' task topic.
    for (const op of cluster.operators) {
      const address = op.network.listenAddresses()[0];
      if (address) await stranger.dial(address).catch(() => undefined);
    }
    stranger.subscribe(TOPICS.task, () => 'accept', { maxMessageBytes: MAX_TASK_BYTES });
    await cluster.waitFor(
      () => stranger.topicPeers(TOPICS.task).length >= cluster.operators.length,
      'the stranger sees the operators on the task topic',
    );
    const selected = cluster.operators
      .map((op) => getAddress(op.address))
      .sort((a, b) => (a.toLowerCase() < b.toLowerCase() ? -1 : 1));
    const epoch = cluster.operators[0]?.node.status().epoch?.epoch ?? 1;
    for (let index = 0; index < FLOOD_TASKS; index++) {
      const bogus = encodeTask({
        taskId: `0x${randomBytes(32).toString('hex')}`,
        chainId: STATE_CHAIN_ID,
        targetAddress: user.address,
        key: BigInt(index),
        blockNumber: 1n,
        timestampSec: 0n,
        byTimestamp: false,
        value: 0n,
        epoch,
        round: 0,
        respondByMs: Date.now() + 10_000,
        selectedOperators: selected,
        historyBlockNumber: 1n,
        historyTimestampSec: 0n,
      });
      await stranger.publish(TOPICS.task, bogus).catch(() => undefined);
    }
    // And one task over the topic's byte cap.
    await stranger.publish(TOPICS.task, new Uint8Array(MAX_TASK_BYTES + 1)).catch(() => undefined);

    await cluster.waitFor(
      async () => (await rejectedCount(operatorMetrics, 'not_registry', TOPICS.task)) > 0,
      'operators refused the bogus tasks as not_registry',
    );
    // Repeat offenders are banned (and hung up on) by the operators they flooded.
    await cluster.waitFor(
      () => cluster.operators.some((op) => op.node.guard.isBanned(stranger.peerId)),
      'an operator banned the flooding stranger',
    );
    // Honest work goes on during and after the flood.
    const before = honest.statuses.length;
    await cluster.waitFor(
      () => honest.statuses.length >= before + 2,
      'two more honest proofs after the flood',
    );
    await honest.stop();
    expect(honest.statuses.length).toBeGreaterThan(0);
    expect(honest.statuses.every((status) => status === 'completed')).toBe(true);

    expect(await rejectedCount(registryMetrics, 'malformed', PROTOCOLS.join)).toBe(1);
    expect(await rejectedCount(registryMetrics, 'oversize', PROTOCOLS.join)).toBe(1);
    expect(await rejectedCount(registryMetrics, 'not_admitted', PROTOCOLS.response)).toBe(1);
    expect(cluster.registry.guard.countOf('not_admitted', PROTOCOLS.response)).toBe(1);
    // No honest task was ever refused at the operators.
    for (const op of cluster.operators) expect(op.node.status().health.status).toBe('ok');
  }, 90_000);

  test('behavior: a rogue operator’s replayed join, false identity, garbage and rotated-out key', async () => {
    const rogueOperator = privateKeyToAccount(generatePrivateKey());
    const oldKey = generatePrivateKey();
    const newKey = generatePrivateKey();
    await cluster.testbed.registry.registerOperator({
      operator: rogueOperator.address,
      signingKey: secp256k1.addressOf(oldKey),
      weight: 1n,
    });
    await cluster.waitFor(
      async () => (await cluster.registryStore.operators.get(rogueOperator.address)) !== undefined,
      'the registry saw the rogue registered',
    );
    const rogue = await hostileNetwork();
    await rogue.dial(registryAddress());

    // A hand-built join with the current (old) key: accepted, binding the rogue peer.
    const nonce = `0x${randomBytes(32).toString('hex')}` as Hex;
    const expiresAtMs = Date.now() + 60_000;
    const join = encodeJoinRequest({
      operator: rogueOperator.address,
      peerId: rogue.peerId,
      nonce,
      expiresAtMs,
      signature: secp256k1.sign(
        joinDigest({ operator: rogueOperator.address, peerId: rogue.peerId, nonce, expiresAtMs }),
        oldKey,
      ),
      listenAddresses: [],
    });
    const first = decodeJoinResponse(
      await rogue.request(cluster.registryNetwork.peerId, PROTOCOLS.join, join, REQUEST),
    );
    expect(first.accepted).toBe(true);
    // The same bytes again: a replayed join.
    const replay = decodeJoinResponse(
      await rogue.request(cluster.registryNetwork.peerId, PROTOCOLS.join, join, REQUEST),
    );
    expect(replay).toMatchObject({ accepted: false, reason: 'replayedNonce' });

    // Rotate the rogue's key on chain and wait until the registry's epoch uses the new one.
    const asRogue = await cluster.testbed.registryAs(rogueOperator);
    await asRogue.updateOperatorSigningKey({ newSigningKey: secp256k1.addressOf(newKey) });
    const main = cluster.testbed.chains.main;
    const effective = await main.getEffectiveEpochForBlock(await main.getBlockNumber());
    await cluster.waitFor(
      async () => {
        const latest = await cluster.registryStore.epochStates.getLatest();
        if (latest === undefined || latest.epoch < effective) return false;
        const record = await cluster.registryStore.operators.get(rogueOperator.address);
        return record?.status === 'active';
      },
      `registry epoch ${effective} with the rogue active`,
      30_000,
    );

    // From now on the rogue answers every task at once, signed with the rotated-out key.
    const acks: string[] = [];
    rogue.subscribe(
      TOPICS.task,
      (message) => {
        const task = decodeTask(message.data);
        const answer: TaskResponseMessage = {
          kind: 'signed',
          taskId: task.taskId,
          operator: rogueOperator.address,
          epoch: task.epoch,
          round: task.round,
          signature: secp256k1.sign(task.taskId, oldKey),
        };
        void rogue
          .request(cluster.registryNetwork.peerId, PROTOCOLS.response, encodeTaskResponse(answer), {
            timeoutMs: 5000,
            maxResponseBytes: MAX_TASK_RESPONSE_ACK_BYTES,
          })
          .then((bytes) => acks.push(decodeTaskResponseAck(bytes).detail))
          .catch(() => undefined);
        return 'accept';
      },
      { maxMessageBytes: MAX_TASK_BYTES },
    );
    await cluster.waitFor(
      () => cluster.registryNetwork.topicPeers(TOPICS.task).includes(rogue.peerId),
      'the registry sees the rogue on the task topic',
    );

    const honest = honestTraffic();
    await cluster.waitFor(
      async () =>
        (await rejectedCount(registryMetrics, 'invalid_signature', PROTOCOLS.response)) > 0,
      'a response signed with the rotated-out key was refused',
      30_000,
    );

    // A response claiming another operator.
    const impersonation: TaskResponseMessage = {
      kind: 'signed',
      taskId: `0x${randomBytes(32).toString('hex')}`,
      operator: cluster.operators[0]?.address as Address,
      epoch: effective,
      round: 0,
      signature: `0x${'22'.repeat(64)}1b`,
    };
    const impersonationAck = decodeTaskResponseAck(
      await rogue.request(
        cluster.registryNetwork.peerId,
        PROTOCOLS.response,
        encodeTaskResponse(impersonation),
        { timeoutMs: 5000, maxResponseBytes: MAX_TASK_RESPONSE_ACK_BYTES },
      ),
    );
    expect(impersonationAck.accepted).toBe(false);
    // Garbage on the response protocol.
    const garbageAck = decodeTaskResponseAck(
      await rogue.request(
        cluster.registryNetwork.peerId,
        PROTOCOLS.response,
        new Uint8Array([0x0a, 0xff, 0xff]),
        { timeoutMs: 5000, maxResponseBytes: MAX_TASK_RESPONSE_ACK_BYTES },
      ),
    );
    expect(garbageAck.accepted).toBe(false);

    await cluster.waitFor(() => honest.statuses.length >= 2, 'two honest proofs meanwhile');
    await honest.stop();
    expect(honest.statuses.every((status) => status === 'completed')).toBe(true);

    expect(await rejectedCount(registryMetrics, 'replayed_join', PROTOCOLS.join)).toBe(1);
    expect(await rejectedCount(registryMetrics, 'not_operator', PROTOCOLS.response)).toBe(1);
    expect(await rejectedCount(registryMetrics, 'malformed', PROTOCOLS.response)).toBe(1);
    expect(
      await rejectedCount(registryMetrics, 'invalid_signature', PROTOCOLS.response),
    ).toBeGreaterThan(0);
    // Everything the registry refused in both tests came from the two hostile peers.
    const refusedKeys = [...cluster.registry.guard.counts().keys()].sort();
    expect(refusedKeys).toEqual(
      [
        'invalid_signature /spotted/response/1',
        'malformed /spotted/join/1',
        'malformed /spotted/response/1',
        'not_admitted /spotted/response/1',
        'not_operator /spotted/response/1',
        'oversize /spotted/join/1',
        'replayed_join /spotted/join/1',
        ...(cluster.registry.guard.countOf('unknown_task') > 0
          ? ['unknown_task /spotted/response/1']
          : []),
      ].sort(),
    );
    // The honest operators were never refused anything.
    for (const op of cluster.operators)
      expect(cluster.registry.guard.isBanned(op.network.peerId)).toBe(false);
  }, 120_000);
});
