import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import {
  type ProofJson,
  requestProof,
  verifyProof,
} from '../../src/adapters/http/spotted-client.ts';
import { type Cluster, STATE_CHAIN_ID, startCluster } from './cluster.ts';

/**
 * Retries end to end, with the aggregator selecting the heaviest operators first (a minimal set
 * reaching the threshold), so a retry has someone new to ask. Weights 300 (H1), 250 (S, silent),
 * 150 (H2), 100 (H3): total 800, threshold 534. Round 0 asks H1 + S (550); S misses; round 1 asks
 * H2 + H3 (300 + 150 + 100 = 550 ≥ 534).
 */
let cluster: Cluster;
const user = privateKeyToAccount(generatePrivateKey());
const KEY = 3n;
let queryBlock = 0n;

async function nextProof(): Promise<ProofJson> {
  queryBlock += 1n;
  const target = queryBlock;
  await cluster.waitFor(
    async () => (await cluster.testbed.chains.state(STATE_CHAIN_ID).getBlockNumber()) >= target,
    'the state chain reached the query block',
  );
  return requestProof(cluster.apiUrl, {
    chainId: STATE_CHAIN_ID,
    targetAddress: user.address,
    key: KEY,
    blockNumber: target,
  });
}

beforeAll(async () => {
  cluster = await startCluster({
    operators: [
      { weight: 300n },
      { weight: 250n, behaviour: { kind: 'silent' } },
      { weight: 150n },
      { weight: 100n },
    ],
    aggregator: {
      round: { responseDeadlineMs: 1_500, expiryMs: 15_000, selection: 'heaviestFirst' },
    },
  });
  const writer = await cluster.testbed.stateChains.get(STATE_CHAIN_ID)?.writerFor(user);
  await writer?.setValue({ key: KEY, value: 77n });
  queryBlock = await cluster.testbed.chains.state(STATE_CHAIN_ID).getBlockNumber();
  await cluster.waitUntilReady(4);
}, 60_000);

afterAll(async () => {
  await cluster?.stop();
});

describe('retries', () => {
  test('behavior: a round that misses the threshold is retried without the non-responder and completes', async () => {
    const proof = await nextProof();
    expect(proof.status).toBe('completed');
    expect(proof.retries).toBe(1);
    const silent = cluster.operators[1]?.address;
    expect(proof.proof?.operators).not.toContain(silent);
    expect(proof.proof?.operators).toHaveLength(3);
    await verifyProof(proof, cluster.testbed.chains.main);
  });

  test('behavior: when too few operators answer, retries run out of candidates and the task ends failed', async () => {
    await cluster.operators[3]?.node.stop(); // H3 stops answering: 300 + 150 < 534
    const proof = await nextProof();
    expect(proof.status).toBe('failed');
    expect(proof.retries).toBe(1);
    expect(proof.proof).toBeUndefined();
  });
});
