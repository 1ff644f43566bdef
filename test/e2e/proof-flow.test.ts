import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { spottedConsumerAbi } from '../../contracts-abi/SpottedConsumer.ts';
import {
  getProof,
  requestProof,
  SpottedApiError,
  submitProofRequest,
  verifyProof,
} from '../../src/adapters/http/spotted-client.ts';
import { type Cluster, chainsSeeingOtherValues, STATE_CHAIN_ID, startCluster } from './cluster.ts';

/**
 * Issue 4 end to end: 1 registry + operators over libp2p TCP, Anvil chains, PGlite. Four honest
 * operators (100 each), one that sees another value (50) and one that never answers (50):
 * total 500, threshold 334, so the honest four complete every proof.
 */
let cluster: Cluster;
const user = privateKeyToAccount(generatePrivateKey());
const KEY = 42n;
let valueBlock: bigint;
let valueTimeSec: bigint;

/** Generous for a loaded 2-core CI machine: honest answers take milliseconds. */
const DEADLINE_MS = 2_500;
const HONEST = [0, 1, 2, 3];
const REFUSER = 4;
const SILENT = 5;

beforeAll(async () => {
  cluster = await startCluster({
    operators: [
      { weight: 100n },
      { weight: 100n },
      { weight: 100n },
      { weight: 100n },
      { weight: 50n, chains: chainsSeeingOtherValues(1n) },
      { weight: 50n, behaviour: { kind: 'silent' } },
    ],
    aggregator: { round: { responseDeadlineMs: DEADLINE_MS, expiryMs: 10_000 } },
  });
  const writer = await cluster.testbed.stateChains.get(STATE_CHAIN_ID)?.writerFor(user);
  if (!writer) throw new Error('no state chain');
  await writer.setValue({ key: KEY, value: 1234n });
  const stateChain = cluster.testbed.chains.state(STATE_CHAIN_ID);
  valueBlock = await stateChain.getBlockNumber();
  valueTimeSec = (await stateChain.getBlock(valueBlock)).timestampSec;
  await cluster.waitUntilReady(6);
}, 60_000);

afterAll(async () => {
  await cluster?.stop();
});

const mainChain = () => cluster.testbed.chains.main;

describe('proof flow over libp2p TCP', () => {
  test('behavior: operators registered on chain join and become active at their epoch', async () => {
    const operators = await cluster.registryStore.operators.list();
    expect(operators.map((o) => o.status)).toEqual(Array(6).fill('active'));
    for (const o of operators) expect(o.peerId).not.toBeNull();
    const epoch = await cluster.registryStore.epochStates.getLatest();
    expect(epoch?.thresholdWeightWei).toBe(334n);
  });

  test('behavior: a proof by block passes isValidSignature; the refuser and the silent one are left out', async () => {
    const proof = await requestProof(cluster.apiUrl, {
      chainId: STATE_CHAIN_ID,
      targetAddress: user.address,
      key: KEY,
      blockNumber: valueBlock,
    });
    expect(proof.status).toBe('completed');
    expect(proof.value).toBe('1234');
    await verifyProof(proof, mainChain());
    const signers = new Set(proof.proof?.operators);
    for (const index of HONEST)
      expect(signers.has(cluster.operators[index]?.address as `0x${string}`)).toBe(true);
    expect(signers.has(cluster.operators[REFUSER]?.address as `0x${string}`)).toBe(false);
    // Answers that arrive after the completion are written when the collection ends.
    const refuser = cluster.operators[REFUSER]?.address as `0x${string}`;
    await cluster.waitFor(
      async () =>
        (await cluster.registryStore.operatorResponses.get(proof.taskId, refuser)) !== undefined,
      'the refusal to be stored',
    );
    const refusal = await cluster.registryStore.operatorResponses.get(proof.taskId, refuser);
    expect(refusal).toMatchObject({ outcome: 'refused', refusalReason: 'valueMismatch' });
  });

  test('behavior: a proof by timestamp works, and the same request twice is one task', async () => {
    const request = {
      chainId: STATE_CHAIN_ID,
      targetAddress: user.address,
      key: KEY,
      timestampSec: valueTimeSec,
    };
    const first = await requestProof(cluster.apiUrl, request);
    const second = await requestProof(cluster.apiUrl, request);
    expect(first.status).toBe('completed');
    expect(second.taskId).toBe(first.taskId);
    expect(first.timestampSec).toBe(valueTimeSec.toString());
    expect(first.blockNumber).toBe('0');
    await verifyProof(second, mainChain());
  });

  test('behavior: the silent operator is counted missing, suspended after 5 misses, and no longer asked', async () => {
    const silent = cluster.operators[SILENT]?.address as `0x${string}`;
    // Distinct requests (different blocks) so each is a new task.
    for (
      let i = 0;
      (await cluster.registryStore.operators.get(silent))?.status !== 'suspended';
      i++
    ) {
      expect(i).toBeLessThan(8);
      await cluster.waitFor(
        async () =>
          (await cluster.testbed.chains.state(STATE_CHAIN_ID).getBlockNumber()) >=
          valueBlock + BigInt(i + 1),
        'the state chain reached the query block',
      );
      const proof = await requestProof(cluster.apiUrl, {
        chainId: STATE_CHAIN_ID,
        targetAddress: user.address,
        key: KEY,
        blockNumber: valueBlock + BigInt(i + 1),
      });
      expect(proof.status).toBe('completed');
      // Misses are counted at the round deadline, after completion.
      await cluster.waitFor(
        async () =>
          ((await cluster.registryStore.operators.get(silent))?.missing ?? 0) >= Math.min(i + 1, 5),
        'the miss is counted',
      );
    }
    const record = await cluster.registryStore.operators.get(silent);
    expect(record?.statusBeforeSuspension).toBe('active');
    // Tasks already in flight when it was suspended still count their misses; let them close.
    await new Promise((resolve) => setTimeout(resolve, DEADLINE_MS + 300));
    const missingAtSuspension = (await cluster.registryStore.operators.get(silent))?.missing ?? 0;
    expect(missingAtSuspension).toBeGreaterThanOrEqual(5);
    await cluster.waitFor(
      async () =>
        (await cluster.testbed.chains.state(STATE_CHAIN_ID).getBlockNumber()) >= valueBlock + 20n,
      'the state chain reached block +20',
    );
    const later = await requestProof(cluster.apiUrl, {
      chainId: STATE_CHAIN_ID,
      targetAddress: user.address,
      key: KEY,
      blockNumber: valueBlock + 20n,
    });
    expect(later.status).toBe('completed');
    await new Promise((resolve) => setTimeout(resolve, DEADLINE_MS + 300)); // past the round deadline
    // Not asked any more, so no new miss.
    expect((await cluster.registryStore.operators.get(silent))?.missing).toBe(missingAtSuspension);
    const honest = await cluster.registryStore.operators.get(
      cluster.operators[0]?.address as `0x${string}`,
    );
    expect(honest?.successfulResponseCount).toBeGreaterThanOrEqual(7);
  });

  test('behavior: a result goes to the callback URL and, once, into the consumer contract on chain', async () => {
    const received: { body: string; key: string | undefined }[] = [];
    const server = createServer((request, response) => {
      let body = '';
      request.on('data', (chunk: Buffer) => {
        body += chunk.toString();
      });
      request.on('end', () => {
        received.push({ body, key: request.headers['idempotency-key'] as string | undefined });
        response.writeHead(204).end();
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    try {
      await cluster.waitFor(
        async () =>
          (await cluster.testbed.chains.state(STATE_CHAIN_ID).getBlockNumber()) >= valueBlock + 30n,
        'the state chain reached block +30',
        30_000,
      );
      const request = {
        chainId: STATE_CHAIN_ID,
        targetAddress: user.address,
        key: KEY,
        blockNumber: valueBlock + 30n,
        callbackUrl: `http://127.0.0.1:${port}/spotted`,
        submitToChainId: mainChain().chainId,
      };
      const accepted = await submitProofRequest(cluster.apiUrl, request);
      expect(accepted.created).toBe(true);
      const again = await submitProofRequest(cluster.apiUrl, request);
      if (again.taskId === accepted.taskId) {
        expect(again.created).toBe(false);
      } else {
        // The same request is the same task only within one epoch (the epoch is in the task
        // id): on a loaded machine the two submissions can straddle an epoch boundary.
        const [first, second] = await Promise.all([
          getProof(cluster.apiUrl, accepted.taskId),
          getProof(cluster.apiUrl, again.taskId),
        ]);
        expect(second.epoch).toBeGreaterThan(first.epoch);
      }
      await cluster.waitFor(async () => {
        const proof = await getProof(cluster.apiUrl, accepted.taskId);
        return proof.deliveries.every((delivery) => delivery.status === 'delivered');
      }, 'both deliveries done');
      const proof = await getProof(cluster.apiUrl, accepted.taskId);
      expect(proof.status).toBe('completed');
      expect(proof.deliveries.map((d) => d.kind).sort()).toEqual(['chain', 'webhook']);
      const forTask = received.filter(
        (r) => (JSON.parse(r.body) as { taskId?: string }).taskId === accepted.taskId,
      );
      expect(forTask).toHaveLength(1);
      expect(JSON.parse(forTask[0]?.body ?? '{}')).toMatchObject({
        taskId: accepted.taskId,
        status: 'completed',
        proof: { signatureData: proof.proof?.signatureData },
      });
      const stored = await cluster.testbed.mainAnvil.publicClient.readContract({
        address: cluster.consumer,
        abi: spottedConsumerAbi,
        functionName: 'getStoredValue',
        args: [accepted.taskId],
      });
      expect(stored.value).toBe(1234n);
      const chainDelivery = proof.deliveries.find((d) => d.kind === 'chain');
      expect(chainDelivery?.transactionHash).toMatch(/^0x[0-9a-f]{64}$/);
    } finally {
      server.close();
    }
  });

  test('behavior: bad input gets a 4xx naming the field; unknown task 404; no history says so', async () => {
    const post = (body: unknown) =>
      fetch(`${cluster.apiUrl}/v1/proofs`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
      }).then(async (r) => ({
        status: r.status,
        body: (await r.json()) as { error: { field?: string; message: string; code: string } },
      }));
    const missingPoint = await post({
      chainId: STATE_CHAIN_ID,
      targetAddress: user.address,
      key: '1',
    });
    expect(missingPoint.status).toBe(400);
    expect(missingPoint.body.error.field).toBe('blockNumber');
    const badAddress = await post({
      chainId: STATE_CHAIN_ID,
      targetAddress: '0x12',
      key: '1',
      blockNumber: 1,
    });
    expect(badAddress.body.error.field).toBe('targetAddress');
    const unknownChain = await post({
      chainId: 999,
      targetAddress: user.address,
      key: '1',
      blockNumber: 1,
    });
    expect(unknownChain).toMatchObject({
      status: 400,
      body: { error: { code: 'UNKNOWN_CHAIN', field: 'chainId' } },
    });
    const noHistory = await post({
      chainId: STATE_CHAIN_ID,
      targetAddress: user.address,
      key: '77',
      blockNumber: 1,
    });
    expect(noHistory.status).toBe(404);
    expect(noHistory.body.error.code).toBe('NO_HISTORY');
    expect(noHistory.body.error.message).toContain('no value stored');
    const unknownTask = await getProof(cluster.apiUrl, `0x${'ab'.repeat(32)}`).catch(
      (e: unknown) => e,
    );
    expect(unknownTask).toBeInstanceOf(SpottedApiError);
    expect((unknownTask as SpottedApiError).status).toBe(404);
    const badTask = await fetch(`${cluster.apiUrl}/v1/proofs/0x1234`);
    expect(badTask.status).toBe(400);
  });

  test('behavior: operator, epoch and network queries answer', async () => {
    const get = <T>(path: string) =>
      fetch(`${cluster.apiUrl}${path}`).then(async (r) => ({
        status: r.status,
        body: (await r.json()) as T,
      }));
    const operators = await get<{ operators: unknown[] }>('/v1/operators');
    expect(operators.body.operators).toHaveLength(6);
    const one = await get<unknown>(`/v1/operators/${cluster.operators[0]?.address}`);
    expect(one.body).toMatchObject({ status: 'active', weightWei: '100' });
    expect((await get('/v1/operators/0x1234')).status).toBe(400);
    expect((await get(`/v1/operators/${user.address}`)).status).toBe(404);
    const current = await get<{ epoch: number; thresholdWeightWei: string; operators: unknown[] }>(
      '/v1/epochs/current',
    );
    expect(current.body.thresholdWeightWei).toBe('334');
    // Six active at the start; the suspended one drops out of snapshots taken after its suspension.
    expect([5, 6]).toContain(current.body.operators.length);
    expect((await get<{ epoch: number }>(`/v1/epochs/${current.body.epoch}`)).body.epoch).toBe(
      current.body.epoch,
    );
    expect((await get('/v1/epochs/banana')).status).toBe(400);
    expect((await get('/v1/epochs/999999')).status).toBe(404);
    const network = await get<{
      connectedPeers: number;
      operatorsByStatus: Record<string, number>;
    }>('/v1/network');
    expect(network.body.connectedPeers).toBeGreaterThanOrEqual(6);
    expect(network.body.operatorsByStatus['suspended']).toBe(1);
  });
});
