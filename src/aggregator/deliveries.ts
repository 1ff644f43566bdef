import { ContractRevertError } from '../chain/errors.ts';
import type { Clock } from '../ports/clock.ts';
import type { Logger } from '../ports/logger.ts';
import type { LeasedJob } from '../store/registry/queue-jobs.ts';
import type { RegistryStore } from '../store/registry/registry-store.ts';
import type {
  ConsumerChain,
  ConsumerChains,
  SignedTransaction,
  WebhookSender,
} from './delivery-ports.ts';
import type { JobHandler } from './job-worker.ts';
import {
  type ChainJobProgress,
  parseChainPayload,
  parseChainProgress,
  parseWebhookPayload,
  QUEUES,
} from './jobs.ts';
import { type ProofView, readProofView } from './proof-view.ts';

export interface WebhookDeliveryOptions {
  /** The whole POST, connect to status line. */
  timeoutMs: number;
  maxAttempts: number;
  backoff: { initialMs: number; maxMs: number };
  /** POSTs in flight at once. */
  concurrency: number;
  leaseMs: number;
}

export interface ChainDeliveryOptions {
  maxAttempts: number;
  backoff: { initialMs: number; maxMs: number };
  /** How long one attempt waits for its transaction to be mined before it retries later. */
  receiptWaitMs: number;
  receiptPollMs: number;
  leaseMs: number;
}

export interface DeliveryOptions {
  webhook: WebhookDeliveryOptions;
  chain: ChainDeliveryOptions;
  /** A delivery found before its task ended looks again after this long. */
  pendingRecheckMs: number;
}

export const DEFAULT_DELIVERY_OPTIONS: DeliveryOptions = {
  webhook: {
    timeoutMs: 5_000,
    maxAttempts: 8,
    backoff: { initialMs: 1_000, maxMs: 60_000 },
    concurrency: 8,
    leaseMs: 30_000,
  },
  chain: {
    maxAttempts: 10,
    backoff: { initialMs: 2_000, maxMs: 60_000 },
    receiptWaitMs: 30_000,
    receiptPollMs: 250,
    leaseMs: 120_000,
  },
  pendingRecheckMs: 1_000,
};

interface DeliveryDeps {
  store: RegistryStore;
  clock: Clock;
  log: Logger;
  webhooks?: WebhookSender | undefined;
  consumers?: ConsumerChains | undefined;
}

/** JSON with bigints as decimal strings, like the HTTP API's responses. */
export function resultBody(view: ProofView): string {
  return JSON.stringify(view, (_key, value: unknown) =>
    typeof value === 'bigint' ? value.toString() : value,
  );
}

/**
 * The delivery queues' handlers (SPEC §3 "Bridge queue"): a task's result goes to the client's
 * callback URL and, when asked, into a SpottedConsumer contract. Each job is woken when its task
 * ends (before that it waits until the task's deadline).
 *
 * Webhooks are at least once: a crash after the POST and before the ack repeats the POST, with
 * the same `idempotency-key` header so the receiver can drop the repeat. A 2xx acks; 408, 429,
 * 5xx and transport errors retry with backoff; any other status dead-letters at once (the
 * receiver refused the delivery).
 *
 * Chain submissions are exactly once: before sending, the signed transaction is checkpointed on
 * the job, and every attempt first asks the contract whether it stores the task, then what
 * became of a checkpointed transaction (re-sending the same bytes when the node lost it), and
 * signs a new one only when the old one can no longer be mined.
 */
export function createDeliveryHandlers(deps: DeliveryDeps, options: DeliveryOptions): JobHandler[] {
  const { store, clock } = deps;
  const log = deps.log.child('delivery');
  const handlers: JobHandler[] = [];

  /** A delivery leased before its task ended: look again shortly (costs an attempt; rare). */
  const waitForTask = (job: LeasedJob, view: ProofView) =>
    store.queue.retry(job.lease, {
      error: `task ${view.taskId} is still ${view.status}`,
      // Woken as soon as the task ends; otherwise look again once its deadline has passed.
      delayMs: Math.max(options.pendingRecheckMs, view.expiresAtMs - clock.now()),
    });

  if (deps.webhooks) {
    const webhooks = deps.webhooks;
    const { webhook } = options;
    handlers.push({
      queue: QUEUES.webhook,
      leaseMs: webhook.leaseMs,
      concurrency: webhook.concurrency,
      async handle(job) {
        const { taskId, url } = parseWebhookPayload(job.payload);
        const view = await readProofView(store, taskId);
        if (!view) {
          await store.queue.deadLetter(job.lease, { reason: `task ${taskId} is not stored` });
          return;
        }
        if (view.status === 'pending') {
          await waitForTask(job, view);
          return;
        }
        let status: number;
        try {
          ({ status } = await webhooks.post(url, resultBody(view), {
            headers: {
              'content-type': 'application/json',
              'idempotency-key': job.idempotencyKey,
              'x-spotted-task-id': taskId,
              'x-spotted-attempt': String(job.attempts),
            },
            timeoutMs: webhook.timeoutMs,
          }));
        } catch (error) {
          throw new Error(`POST ${url} failed: ${error instanceof Error ? error.message : error}`, {
            cause: error,
          });
        }
        if (status >= 200 && status < 300) {
          await store.queue.ack(job.lease, { result: { httpStatus: status } });
          log.info('result delivered', { taskId, url, status, attempt: job.attempts });
          return;
        }
        if (status === 408 || status === 429 || status >= 500) {
          throw new Error(`HTTP ${status} from ${url}`);
        }
        const reason = `HTTP ${status} from ${url}: the receiver refused the delivery`;
        await store.queue.deadLetter(job.lease, { reason });
        log.warn('delivery dead-lettered', { taskId, url, reason });
      },
    });
  }

  if (deps.consumers) {
    const consumers = deps.consumers;
    const { chain } = options;
    handlers.push({
      queue: QUEUES.chain,
      leaseMs: chain.leaseMs,
      // One at a time per node: submissions share one account, whose nonces must not race.
      concurrency: 1,
      async handle(job, signal) {
        const { taskId, chainId } = parseChainPayload(job.payload);
        const consumer = consumers.get(chainId);
        if (!consumer) {
          await store.queue.deadLetter(job.lease, {
            reason: `no consumer contract is configured for chain ${chainId}`,
          });
          return;
        }
        const view = await readProofView(store, taskId);
        if (!view) {
          await store.queue.deadLetter(job.lease, { reason: `task ${taskId} is not stored` });
          return;
        }
        if (view.status === 'pending') {
          await waitForTask(job, view);
          return;
        }
        if (view.status !== 'completed' || !view.proof) {
          await store.queue.ack(job.lease, {
            result: { skipped: `task ${view.status}: no proof` },
          });
          return;
        }
        await submitOnce(job, consumer, view, view.proof.signatureData, signal);
      },
    });
  }

  async function submitOnce(
    job: LeasedJob,
    consumer: ConsumerChain,
    view: ProofView,
    signatureData: `0x${string}`,
    signal: AbortSignal,
  ): Promise<void> {
    const { taskId } = view;
    const previous = parseChainProgress(job.progress);
    if (await consumer.isStored(taskId)) {
      await store.queue.ack(job.lease, {
        result: { stored: true, txHash: previous?.txHash ?? null },
      });
      return;
    }
    let pending: ChainJobProgress | undefined = previous;
    if (pending) {
      const status = await consumer.transactionStatus(pending.txHash);
      if (status === 'success') {
        await store.queue.ack(job.lease, { result: { stored: true, txHash: pending.txHash } });
        return;
      }
      if (status === 'reverted') {
        pending = undefined; // simulating again says why (or that it would pass now)
      } else if (status === 'unknown') {
        // Never reached the node, or dropped: send the very same bytes again (same nonce).
        if ((await consumer.sendTransaction(pending.raw)) === 'nonceUsed') pending = undefined;
      }
    }
    if (!pending) {
      let signed: SignedTransaction;
      try {
        signed = await consumer.prepareSubmission({
          user: view.targetAddress,
          chainId: view.chainId,
          blockNumber: view.blockNumber,
          timestampSec: view.timestampSec,
          epoch: view.epoch,
          key: view.key,
          value: view.value,
          signatureData,
        });
      } catch (error) {
        if (error instanceof ContractRevertError) {
          if (error.errorName === 'TaskAlreadyStored') {
            await store.queue.ack(job.lease, { result: { stored: true, txHash: null } });
            return;
          }
          const reason = `${consumer.label} rejects the proof of task ${taskId}: ${error.errorName}`;
          await store.queue.deadLetter(job.lease, { reason });
          log.warn('submission dead-lettered', { taskId, reason });
          return;
        }
        throw error;
      }
      pending = { txHash: signed.hash, raw: signed.raw, nonce: signed.nonce };
      // Recorded before sending: after a crash the next attempt finds it instead of signing anew.
      await store.queue.checkpoint(job.lease, { ...pending });
      if ((await consumer.sendTransaction(signed.raw)) === 'nonceUsed') {
        throw new Error(`transaction ${signed.hash} lost its nonce ${signed.nonce}; signing again`);
      }
      log.info('proof submitted', { taskId, chain: consumer.label, txHash: signed.hash });
    }
    await awaitOutcome(job, consumer, pending, signal);
  }

  async function awaitOutcome(
    job: LeasedJob,
    consumer: ConsumerChain,
    sent: ChainJobProgress,
    signal: AbortSignal,
  ): Promise<void> {
    const deadline = clock.now() + options.chain.receiptWaitMs;
    for (;;) {
      const status = await consumer.transactionStatus(sent.txHash);
      if (status === 'success') {
        await store.queue.ack(job.lease, { result: { stored: true, txHash: sent.txHash } });
        return;
      }
      if (status === 'reverted') throw new Error(`transaction ${sent.txHash} reverted`);
      if (clock.now() >= deadline) {
        throw new Error(
          `transaction ${sent.txHash} not mined within ${options.chain.receiptWaitMs} ms`,
        );
      }
      // On stop the job goes back (its transaction is checkpointed): the next run checks on it.
      await clock.sleep(options.chain.receiptPollMs, { signal });
    }
  }

  return handlers;
}
