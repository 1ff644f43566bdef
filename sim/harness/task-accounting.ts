import type { Hex } from 'viem';
import type { TaskStatus } from '../../src/core/task-status.ts';
import type { InvariantViolation, TraceEvent } from '../run-result.ts';

/**
 * How long a registry must have been up, and a pending task past its deadline, before the task
 * counts as lost: a restarted registry releases its leases at start and its job worker takes the
 * collections up within a poll (1 s); one that died without releasing them waits out the
 * visibility timeout (10 s). Both end a task past its deadline as `expired` at once.
 */
export const LOST_TASK_GRACE_MS = 15_000;

/** Trace messages with which a registry ends a task (`task completed` only when first). */
const ENDING_MESSAGES = new Set([
  'task completed',
  'task failed',
  'task expired',
  'task failed: its collection was given up',
]);

export interface AccountedTask {
  taskId: Hex;
  /** The registry the task was accepted by. */
  registry: string;
}

/** What the accounting reads of a registry: its stored tasks, and whether it runs. */
export interface AccountingView {
  /** `undefined` when the registry does not store the task (never accepted there). */
  storedTask(
    registry: string,
    taskId: Hex,
  ): Promise<{ status: TaskStatus; expiresAtMs: number } | undefined>;
  /** Virtual time, the same clock as `expiresAtMs`. */
  nowMs(): number;
  /** `nowMs()` at the run's start (trace times count from it). */
  startMs: number;
}

/**
 * The `no-task-lost` invariant (SPEC §7: no accepted task is lost, across crashes; each ends in
 * exactly one final status): every task a registry accepted (`requestProof` resolved) is
 * accounted for after every crash and restart:
 * - stored: the registry's store has it (a resolved request is durable);
 * - not left behind: once the registry has been up for `LOST_TASK_GRACE_MS`, a task whose
 *   deadline passed that long ago is no longer pending;
 * - ended once in the trace: a task the store shows ended has exactly one ending logged by its
 *   registry (checked from the next check on, as the log line follows the commit).
 * Fed from the trace like the reference model; `check` runs after every block and at the end.
 * Linear in the run: a task's store is read only until it is seen ended with its ending logged
 * (an ended task never changes again: the store refuses it, `TASK_FINAL`); after that only the
 * in-memory count of its logged endings is checked, so a second ending is still caught.
 */
export function createTaskAccounting(isRegistry: (node: string) => boolean) {
  /** Since when (clock ms) each registry runs; absent while it is down. */
  const upSinceMs = new Map<string, number>();
  const endings = new Map<string, number>();
  /** Tasks seen ended in the store at an earlier check, or already reported. */
  const seenEnded = new Set<string>();
  /** Tasks seen ended in the store with their ending logged: no longer read from the store. */
  const settled = new Set<string>();
  const reported = new Set<string>();
  const keyOf = (registry: string, taskId: string) => `${registry}|${taskId.toLowerCase()}`;
  let pendingStarts: { node: string; atMs: number }[] = [];

  return {
    observe(event: TraceEvent): void {
      const node = String(event['node']);
      if (event.kind !== 'log' || !isRegistry(node)) return;
      const message = String(event['message']);
      if (message === 'registry node started') pendingStarts.push({ node, atMs: event.atMs });
      else if (message === 'registry node stopped') {
        upSinceMs.delete(node);
        pendingStarts = pendingStarts.filter((start) => start.node !== node);
      } else if (ENDING_MESSAGES.has(message) && event['firstTime'] !== false) {
        const key = keyOf(node, String(event['taskId']));
        endings.set(key, (endings.get(key) ?? 0) + 1);
      }
    },

    async check(
      tasks: readonly AccountedTask[],
      view: AccountingView,
    ): Promise<InvariantViolation[]> {
      for (const start of pendingStarts) upSinceMs.set(start.node, view.startMs + start.atMs);
      pendingStarts = [];
      const now = view.nowMs();
      const violations: InvariantViolation[] = [];
      const violate = (key: string, registry: string, detail: string) => {
        if (reported.has(key)) return;
        reported.add(key);
        violations.push({
          invariant: 'no-task-lost',
          atMs: now - view.startMs,
          nodes: [registry],
          detail,
        });
      };
      for (const { taskId, registry } of tasks) {
        const key = keyOf(registry, taskId);
        if (settled.has(key)) {
          const logged = endings.get(key) ?? 0;
          if (logged > 1)
            violate(key, registry, `task ${taskId} ended ${logged} times in the trace`);
          continue;
        }
        const stored = await view.storedTask(registry, taskId);
        if (stored === undefined) {
          violate(key, registry, `accepted task ${taskId} is not in the store`);
          continue;
        }
        if (stored.status === 'pending') {
          const upSince = upSinceMs.get(registry);
          if (
            upSince !== undefined &&
            now - upSince >= LOST_TASK_GRACE_MS &&
            now - stored.expiresAtMs >= LOST_TASK_GRACE_MS
          ) {
            violate(
              key,
              registry,
              `task ${taskId} is still pending ${now - stored.expiresAtMs} ms after its deadline, with the registry up for ${now - upSince} ms`,
            );
          }
          continue;
        }
        const logged = endings.get(key) ?? 0;
        if (logged > 1) {
          violate(key, registry, `task ${taskId} ended ${logged} times in the trace`);
        } else if (logged === 0 && seenEnded.has(key)) {
          violate(
            key,
            registry,
            `task ${taskId} is ${stored.status} in the store, but no ending was logged`,
          );
        }
        seenEnded.add(key);
        if (logged > 0 || reported.has(key)) settled.add(key);
      }
      return violations;
    },
  };
}
