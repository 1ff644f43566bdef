import type { PGlite } from '@electric-sql/pglite';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import {
  createPglite,
  openPgliteRegistryStore,
} from '../../src/adapters/store-pglite/open-pglite-store.ts';
import type { DeliveryRequest } from '../../src/aggregator/aggregator.ts';
import type { RegistryStore } from '../../src/store/registry/registry-store.ts';
import { type ConsumerTestbed, startConsumerTestbed } from './support/consumer-testbed.ts';
import { afterCommitOf, at, crashAt, runThroughCrashes } from './support/crashes.ts';
import { chainBaseline, checkInvariants } from './support/invariants.ts';
import { type CallEvent, createRig, type Life, type Rig } from './support/rig.ts';

/**
 * Crash recovery of the aggregator on the durable queue (issue 6): a node killed at each named
 * point — its ports fail from that call on, its timers stop, nothing it does afterwards reaches
 * the world — and a new node built over the same store and chain must lose no accepted request,
 * complete each task once, submit each proof on-chain exactly once (the consumer's storage and the
 * submitter's nonce are the witnesses) and deliver each webhook. Virtual time; a real Anvil chain
 * with a SpottedConsumer; PGlite.
 */
const E18 = 10n ** 18n;
let bed: ConsumerTestbed;
let pglite: PGlite;
const stores: RegistryStore[] = [];
let schemas = 0;

beforeAll(async () => {
  bed = await startConsumerTestbed([E18, E18, E18]);
  pglite = await createPglite();
}, 60_000);

afterAll(async () => {
  for (const store of stores) await store.close();
  await pglite?.close();
  await bed?.stop();
});

const DELIVERIES = (): DeliveryRequest => ({
  callbackUrl: 'https://client.test/hook',
  submitToChainId: bed.testbed.mainAnvil.chainId,
});

async function newRig(): Promise<Rig> {
  schemas += 1;
  return createRig({
    openStore: async (clock) => {
      const store = await openPgliteRegistryStore(
        { pglite, clock },
        { schema: `crash_${process.pid}_${schemas}` },
      );
      stores.push(store);
      return store;
    },
    operators: bed.operators.map((op) => ({
      address: op.operator,
      signingKey: op.signingKey,
      signer: op.signer,
      weight: op.weight,
    })),
    consumer: () => bed.consumerChain(),
  });
}

/** One named crash point: the hook that kills the first node, and what the test also expects. */
interface CrashPoint {
  name: string;
  hook: () => (event: CallEvent, life: Life) => void;
  /** The crash fell between a webhook POST and its ack: one repeat POST is allowed. */
  repeatsWebhook?: boolean;
}

const CRASH_POINTS: CrashPoint[] = [
  {
    // The request's transaction (task + collection job + deliveries) committed; the node died
    // before answering, so the client retries the same request on the restarted node.
    name: 'after enqueue, before the API answered',
    hook: () => afterCommitOf('tx.queue.enqueue'),
  },
  {
    name: 'after the API answered, before collection started',
    hook: () => crashAt(at('queue.lease', 'before')),
  },
  {
    // Answers are buffered and stored with the completion: this one is lost with the node.
    name: 'mid-collection (one signature received, not stored yet)',
    hook: () => crashAt(at('response', 'after')),
  },
  {
    name: 'inside the completion transaction (rolled back)',
    hook: () => crashAt(at('tx.completeTask', 'after')),
  },
  {
    name: 'after completion, before delivery',
    hook: () => afterCommitOf('tx.completeTask'),
  },
  {
    name: 'mid on-chain submission: signed, not yet recorded',
    hook: () => crashAt(at('prepareSubmission', 'after')),
  },
  {
    name: 'mid on-chain submission: recorded, not yet sent',
    hook: () => crashAt(at('queue.checkpoint', 'after')),
  },
  {
    name: 'after the on-chain submission was sent, before the ack',
    hook: () => crashAt(at('sendTransaction', 'after')),
  },
  {
    name: 'after the webhook POST, before the ack',
    hook: () => crashAt(at('post', 'after')),
    repeatsWebhook: true,
  },
  {
    name: 'at the ack of the collection, after the task ended',
    hook: () =>
      crashAt(
        (event) =>
          event.path === 'queue.ack' &&
          event.phase === 'before' &&
          (event.args[1] as { result?: { status?: string } } | undefined)?.result?.status ===
            'completed',
      ),
  },
];

describe('aggregator crash recovery', () => {
  test('behavior: without a crash, a request is collected, completed and delivered to both targets once', async () => {
    const rig = await newRig();
    const baseline = await chainBaseline(bed);
    const { requested } = await runThroughCrashes(rig, [1, 2], [], { deliveries: DELIVERIES() });
    await checkInvariants({ rig, requested, bed, baseline });
    expect(rig.webhooks.posts).toHaveLength(2);
  });

  test.each(CRASH_POINTS)(
    'behavior: killed $name, a restarted node loses nothing and completes and submits once',
    async (point) => {
      const rig = await newRig();
      const baseline = await chainBaseline(bed);
      const { requested, lives } = await runThroughCrashes(rig, [1], [point.hook()], {
        deliveries: DELIVERIES(),
      });
      expect(lives[0]?.life.killed).toBe(true);
      await checkInvariants({
        rig,
        requested,
        bed,
        baseline,
        crashes: point.repeatsWebhook ? 1 : 0,
      });
      if (point.repeatsWebhook) expect(rig.webhooks.posts).toHaveLength(2);
    },
  );

  test('behavior: a task whose node stayed down past its deadline ends expired; its deliveries say so and nothing is submitted', async () => {
    const rig = await newRig();
    const baseline = await chainBaseline(bed);
    const { requested } = await runThroughCrashes(
      rig,
      [1],
      [crashAt(at('queue.lease', 'before'))],
      { deliveries: DELIVERIES(), restartAfterMs: 20_000 },
    );
    await checkInvariants({ rig, requested, bed, baseline, expectStatus: 'expired' });
    const chainJob = (await rig.store.queue.list({ queue: 'delivery.chain', limit: 5 }))[0];
    expect(chainJob?.result).toEqual({ skipped: 'task expired: no proof' });
    expect(rig.ended.map((event) => event.status)).toEqual(['expired']);
  });

  test('behavior: repeated crashes at the same point still end in one completion and one submission', async () => {
    const rig = await newRig();
    const baseline = await chainBaseline(bed);
    const { requested, lives } = await runThroughCrashes(
      rig,
      [1, 2, 3],
      [0, 1, 2].map(() => crashAt(at('response', 'after'), 2)),
      { deliveries: DELIVERIES() },
    );
    expect(lives.filter((node) => node.life.killed)).toHaveLength(3);
    await checkInvariants({ rig, requested, bed, baseline });
  });
});
