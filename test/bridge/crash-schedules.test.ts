import type { PGlite } from '@electric-sql/pglite';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, test } from 'vitest';
import {
  createPglite,
  openPgliteRegistryStore,
} from '../../src/adapters/store-pglite/open-pglite-store.ts';
import type { RegistryStore } from '../../src/store/registry/registry-store.ts';
import { type ConsumerTestbed, startConsumerTestbed } from './support/consumer-testbed.ts';
import { crashAt, runThroughCrashes } from './support/crashes.ts';
import { chainBaseline, checkInvariants } from './support/invariants.ts';
import { createRig } from './support/rig.ts';

/**
 * The crash-recovery invariants over random crash schedules (fast-check): up to three node
 * deaths, each at an arbitrary port call (before or after it), each followed by a restart after
 * an arbitrary pause; three requests with a webhook and an on-chain submission each. Whatever
 * the schedule: no accepted request lost, none completed twice, no proof submitted twice (the
 * consumer's storage and the submitter's nonce say so), every webhook delivered. A failure
 * shrinks to the smallest schedule and prints it.
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

const crashSchedule = fc.array(
  fc.record({
    /** The port call (numbered from 1 in each node run) at which the node dies. */
    call: fc.integer({ min: 1, max: 160 }),
    phase: fc.constantFrom('before' as const, 'after' as const),
    restartAfterMs: fc.integer({ min: 0, max: 6_000 }),
  }),
  { minLength: 1, maxLength: 3 },
);

describe('crash schedules (property)', () => {
  test('behavior: under any crash schedule, no loss, no duplicate completion, no duplicate on-chain submission', async () => {
    await fc.assert(
      fc.asyncProperty(crashSchedule, async (schedule) => {
        schemas += 1;
        const rig = await createRig({
          openStore: async (clock) => {
            const store = await openPgliteRegistryStore(
              { pglite, clock },
              { schema: `schedule_${process.pid}_${schemas}` },
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
        const baseline = await chainBaseline(bed);
        const { requested } = await runThroughCrashes(
          rig,
          [1, 2, 3],
          schedule.map((crash) =>
            crashAt((event) => event.seq === crash.call && event.phase === crash.phase),
          ),
          {
            deliveries: {
              callbackUrl: 'https://client.test/hook',
              submitToChainId: bed.testbed.mainAnvil.chainId,
            },
            restartAfterMs: Math.max(...schedule.map((crash) => crash.restartAfterMs)),
          },
        );
        await checkInvariants({
          rig,
          requested,
          bed,
          baseline,
          expectStatus: 'final',
          crashes: schedule.length,
        });
      }),
      { numRuns: Number(process.env['SPOTTED_CRASH_RUNS'] ?? 25) },
    );
  }, 300_000);
});
