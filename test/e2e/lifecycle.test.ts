import type { Hex } from 'viem';
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { createNativeSecp256k1 } from '../../src/adapters/crypto/native-secp256k1.ts';
import {
  type ProofJson,
  requestProof,
  SpottedApiError,
  verifyProof,
} from '../../src/adapters/http/spotted-client.ts';
import { type Cluster, STATE_CHAIN_ID, startCluster } from './cluster.ts';

/**
 * Issue 4, the lifecycle half: key rotation, deregistration, expiry, and a registry restart that
 * resumes from its cursor. Operators A, B, C honest (100
 * each; A holds a spare key), D silent (100): threshold ceil(2/3 · 400) = 267.
 */
const secp256k1 = createNativeSecp256k1();
let cluster: Cluster;
const user = privateKeyToAccount(generatePrivateKey());
const KEY = 9n;
let queryBlock = 0n;

const [A, B, C, D] = [0, 1, 2, 3];
const op = (index: number) => {
  const entry = cluster.operators[index];
  if (!entry) throw new Error(`no operator ${index}`);
  return entry;
};

/** A new task each time: the next state-chain block as query point. */
async function nextProof(): Promise<ProofJson> {
  queryBlock += 1n;
  const target = queryBlock;
  await cluster.waitFor(
    async () => (await cluster.testbed.chains.state(STATE_CHAIN_ID).getBlockNumber()) >= target,
    'the state chain reached the query block',
  );
  for (let attempt = 1; ; attempt++) {
    try {
      return await requestProof(cluster.apiUrl, {
        chainId: STATE_CHAIN_ID,
        targetAddress: user.address,
        key: KEY,
        blockNumber: target,
      });
    } catch (error) {
      // A registry just restarted refuses requests (503 NOT_READY, with a Retry-After) until it
      // has read the chain head: ask again, as a client would.
      if (!(error instanceof SpottedApiError) || error.code !== 'NOT_READY' || attempt >= 20) {
        throw error;
      }
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
  }
}

const currentEpoch = async () => (await cluster.registryStore.epochStates.getLatest())?.epoch ?? -1;

beforeAll(async () => {
  cluster = await startCluster({
    operators: [
      { weight: 100n, spareSigningKeys: 1 },
      { weight: 100n },
      { weight: 100n },
      { weight: 100n, behaviour: { kind: 'silent' } },
    ],
    aggregator: { round: { responseDeadlineMs: 2_000, expiryMs: 10_000 } },
  });
  const writer = await cluster.testbed.stateChains.get(STATE_CHAIN_ID)?.writerFor(user);
  await writer?.setValue({ key: KEY, value: 555n });
  queryBlock = await cluster.testbed.chains.state(STATE_CHAIN_ID).getBlockNumber();
  await cluster.waitUntilReady(4);
}, 60_000);

afterAll(async () => {
  await cluster?.stop();
});

describe('operator lifecycle end to end', () => {
  test('behavior: a signing-key rotation takes effect at its epoch; proofs stay valid on both sides', async () => {
    const before = await nextProof();
    expect(before.status).toBe('completed');
    const a = op(A);
    const newKey = a.signingKeys[1] as Hex;
    const asOperator = await cluster.testbed.registryAs(privateKeyToAccount(a.operatorKey));
    await asOperator.updateOperatorSigningKey({ newSigningKey: secp256k1.addressOf(newKey) });
    const main = cluster.testbed.chains.main;
    const effective = await main.getEffectiveEpochForBlock(await main.getBlockNumber());
    await cluster.waitFor(
      async () => (await currentEpoch()) >= effective,
      `registry epoch ${effective}`,
    );
    await cluster.waitFor(
      () => (a.node.status().epoch?.epoch ?? -1) >= effective,
      'operator A adopted the epoch',
    );

    const after = await nextProof();
    expect(after.status).toBe('completed');
    expect(after.epoch).toBeGreaterThanOrEqual(effective);
    expect(after.proof?.operators).toContain(a.address);
    await verifyProof(after, main);
    // The earlier proof, of an epoch before the rotation, still verifies after it.
    await verifyProof(before, main);
    expect((await cluster.registryStore.operators.get(a.address))?.signingKey).toBe(
      secp256k1.addressOf(newKey),
    );
  });

  test('behavior: deregistration sets exitEpoch and the operator becomes unactive at that epoch', async () => {
    const c = op(C);
    await cluster.testbed.registry.deregisterOperator({ operator: c.address });
    const main = cluster.testbed.chains.main;
    const exitEpoch = await main.getEffectiveEpochForBlock(await main.getBlockNumber());
    await cluster.waitFor(
      async () => (await cluster.registryStore.operators.get(c.address))?.exitEpoch === exitEpoch,
      'exitEpoch recorded',
    );
    expect((await cluster.registryStore.operators.get(c.address))?.status).toBe('active');
    await cluster.waitFor(
      async () => (await currentEpoch()) >= exitEpoch,
      `registry epoch ${exitEpoch}`,
    );
    expect((await cluster.registryStore.operators.get(c.address))?.status).toBe('unactive');
    const proof = await nextProof(); // A + B = 200 ≥ ceil(2/3 · 300)
    expect(proof.status).toBe('completed');
    expect(proof.proof?.operators).not.toContain(c.address);
  });

  test('behavior: a restarted registry resumes from its cursor, neither duplicating nor missing events', async () => {
    await cluster.registry.stop();
    const late = privateKeyToAccount(generatePrivateKey()).address;
    await cluster.testbed.registry.registerOperator({
      operator: late,
      signingKey: privateKeyToAccount(generatePrivateKey()).address,
      weight: 1n,
    });
    await cluster.restartRegistry();
    await cluster.waitFor(
      async () => (await cluster.registryStore.operators.get(late))?.status === 'waitingJoin',
      'the operator registered while the registry was down is known',
    );
    const head = await cluster.testbed.chains.main.getBlockNumber();
    const onChain = await cluster.testbed.chains.main.getOperatorEvents({
      fromBlock: 0n,
      toBlock: head - 2n,
    });
    await cluster.waitFor(async () => {
      const stored = await cluster.registryStore.registryEvents.list({ limit: 1_000 });
      return stored.filter((e) => e.chainLog !== null).length >= onChain.length;
    }, 'every confirmed chain event recorded');
    const stored = (await cluster.registryStore.registryEvents.list({ limit: 1_000 })).filter(
      (e) => e.chainLog,
    );
    const keys = stored.map((e) => `${e.chainLog?.blockHash}:${e.chainLog?.logIndex}`);
    expect(new Set(keys).size).toBe(keys.length);
    for (const event of onChain) expect(keys).toContain(`${event.blockHash}:${event.logIndex}`);
  });

  test('behavior: a task not done before its expiry ends expired, and the API says so', async () => {
    await op(B).node.stop(); // A alone is below the threshold, so nothing completes in time
    await cluster.restartRegistry({
      aggregator: { round: { responseDeadlineMs: 2_000, expiryMs: 500 } },
    });
    const proof = await nextProof();
    expect(proof.status).toBe('expired');
    // A alone is below the threshold, so the round also asked B (stopped) or D (silent), or both:
    // whoever it asked is counted missing once the round's deadline passes, after the expiry.
    const missing = async (index: number) =>
      (await cluster.registryStore.operators.get(op(index).address))?.missing ?? 0;
    await cluster.waitFor(
      async () => (await missing(B)) + (await missing(D)) > 0,
      'the asked operators that did not answer counted missing',
    );
  });
});
