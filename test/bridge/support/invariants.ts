import type { Hex } from 'viem';
import { expect } from 'vitest';
import { replayQueueEvents } from '../../../src/store/registry/queue-log.ts';
import type { ConsumerTestbed } from './consumer-testbed.ts';
import type { Rig } from './rig.ts';

/** What a run asked for, per task. */
export interface RequestedTask {
  taskId: Hex;
  callbackUrl?: string;
  submitToChainId?: number;
}

/** Chain counters before the run: the testbed is shared, so checks use differences. */
export interface ChainBaseline {
  storedCount: bigint;
  nonce: number;
}

export async function chainBaseline(bed: ConsumerTestbed): Promise<ChainBaseline> {
  return { storedCount: await bed.storedCount(), nonce: await bed.submitterNonce() };
}

/** True once every task ended and no job is waiting or running. */
export async function quiescent(rig: Rig, taskIds: readonly Hex[]): Promise<boolean> {
  for (const taskId of taskIds) {
    const task = await rig.store.tasks.get(taskId);
    if (!task || task.status === 'pending') return false;
  }
  const stats = await rig.store.queue.stats();
  return stats.every((queue) => queue.ready === 0 && queue.running === 0);
}

/**
 * The crash-recovery invariants (SPEC §3 "Bridge queue"), checked once a run went quiet:
 * no accepted task lost (each ended, as `expectStatus`), none completed twice (success counters
 * equal the proofs' signers, one completion event at most), each chain delivery stored exactly
 * once (the consumer's storage and the submitter's nonce are the witnesses: no second
 * transaction was even sent), each webhook delivered (at least once, at most once per crash
 * that fell between its POST and its ack, always under one idempotency key), no job left
 * behind, and the queue's write log replaying to its table.
 */
export async function checkInvariants(args: {
  rig: Rig;
  requested: readonly RequestedTask[];
  bed?: ConsumerTestbed;
  baseline?: ChainBaseline;
  /** `final`: completed or expired, whichever the crash timing led to. */
  expectStatus?: 'completed' | 'expired' | 'final';
  /** Crashes that may have repeated a webhook POST. */
  crashes?: number;
}): Promise<void> {
  const { rig, requested } = args;
  const expectStatus = args.expectStatus ?? 'completed';
  const store = rig.store;
  const signedCompleted = new Map<string, number>();
  let chainDeliveries = 0;

  for (const request of requested) {
    const task = await store.tasks.get(request.taskId);
    expect(task, `task ${request.taskId} lost`).toBeDefined();
    if (expectStatus === 'final') {
      expect(['completed', 'expired'], `task ${request.taskId}`).toContain(task?.status);
    } else {
      expect(task?.status, `task ${request.taskId}`).toBe(expectStatus);
    }
    const completions = rig.ended.filter(
      (event) => event.taskId === request.taskId && event.status === 'completed',
    );
    expect(completions.length, `completion events of ${request.taskId}`).toBeLessThanOrEqual(1);
    if (task?.status === 'completed') {
      const proof = await store.avsResponses.get(request.taskId);
      expect(proof, `proof of ${request.taskId}`).toBeDefined();
      for (const signer of proof?.signers ?? []) {
        signedCompleted.set(signer.operator, (signedCompleted.get(signer.operator) ?? 0) + 1);
      }
    }
    const jobs = await store.queue.list({ groupKey: request.taskId, limit: 100 });
    for (const job of jobs) {
      expect(job.status, `${job.queue} job ${job.id} of ${request.taskId}`).toBe('done');
    }
    if (request.submitToChainId !== undefined && args.bed) {
      const chainJob = jobs.find((job) => job.queue === 'delivery.chain');
      expect(chainJob, `chain delivery of ${request.taskId}`).toBeDefined();
      if (task?.status === 'completed') {
        chainDeliveries += 1;
        expect(await args.bed.consumerChain().isStored(request.taskId)).toBe(true);
        expect(chainJob?.result).toMatchObject({ stored: true });
      }
    }
    if (request.callbackUrl !== undefined) {
      const posts = rig.webhooks.posts.filter(
        (post) => post.headers['x-spotted-task-id'] === request.taskId,
      );
      expect(posts.length, `POSTs for ${request.taskId}`).toBeGreaterThanOrEqual(1);
      expect(posts.length, `POSTs for ${request.taskId}`).toBeLessThanOrEqual(
        1 + (args.crashes ?? 0),
      );
      expect(new Set(posts.map((post) => post.headers['idempotency-key'])).size).toBe(1);
      const body = JSON.parse(posts.at(-1)?.body ?? '{}') as { status?: string };
      expect(body.status).toBe(task?.status);
    }
  }

  // Success counters moved once per completed proof the operator is in: no double completion.
  for (const op of rig.operators) {
    const record = await store.operators.get(op.address);
    expect(record?.successfulResponseCount, `successes of ${op.address}`).toBe(
      signedCompleted.get(op.address) ?? 0,
    );
  }

  if (args.bed && args.baseline) {
    expect(await args.bed.storedCount()).toBe(args.baseline.storedCount + BigInt(chainDeliveries));
    // No duplicate submission was even sent: one transaction per stored task.
    expect(await args.bed.submitterNonce()).toBe(args.baseline.nonce + chainDeliveries);
  }

  const stats = await store.queue.stats();
  for (const queue of stats) {
    expect(queue, `queue ${queue.queue}`).toMatchObject({ ready: 0, running: 0, failed: 0 });
  }
  const events = await store.queue.events({ limit: 10_000 });
  const table = await store.queue.list({ limit: 10_000 });
  const replayed = replayQueueEvents(events);
  for (const job of table) {
    expect(replayed.get(job.id)).toEqual({
      jobId: job.id,
      status: job.status,
      attempts: job.attempts,
      leasedBy: job.leasedBy,
    });
  }
}
