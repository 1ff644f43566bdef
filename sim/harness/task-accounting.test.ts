import type { Hex } from 'viem';
import { describe, expect, test } from 'vitest';
import type { TaskStatus } from '../../src/core/task-status.ts';
import type { TraceEvent } from '../run-result.ts';
import {
  type AccountingView,
  createTaskAccounting,
  LOST_TASK_GRACE_MS,
} from './task-accounting.ts';

const START_MS = 1_000_000;
const TASK = `0x${'ab'.repeat(32)}` as Hex;

function log(atMs: number, message: string, data: Record<string, unknown> = {}): TraceEvent {
  return { atMs, kind: 'log', node: 'registry', message, ...data } as TraceEvent;
}

function viewOf(state: {
  nowMs: number;
  task?: { status: TaskStatus; expiresAtMs: number };
}): AccountingView {
  return {
    storedTask: async () => state.task,
    nowMs: () => state.nowMs,
    startMs: START_MS,
  };
}

describe('no-task-lost accounting', () => {
  test('behavior: a pending task past its deadline is lost only once its registry has been up for the grace period', async () => {
    const accounting = createTaskAccounting((node) => node === 'registry');
    const tasks = [{ taskId: TASK, registry: 'registry' }];
    const state = {
      nowMs: START_MS + 60_000,
      task: { status: 'pending' as TaskStatus, expiresAtMs: START_MS + 20_000 },
    };
    accounting.observe(log(0, 'registry node started'));
    accounting.observe(log(10_000, 'registry node stopped'));
    // Down: a pending task past its deadline is expected, not lost.
    expect(await accounting.check(tasks, viewOf(state))).toEqual([]);
    // Restarted at 59 s: within the grace period the restarted node may still take it up.
    accounting.observe(log(59_000, 'registry node started'));
    expect(await accounting.check(tasks, viewOf(state))).toEqual([]);
    state.nowMs = START_MS + 59_000 + LOST_TASK_GRACE_MS;
    const lost = await accounting.check(tasks, viewOf(state));
    expect(lost).toHaveLength(1);
    expect(lost[0]).toMatchObject({ invariant: 'no-task-lost', nodes: ['registry'] });
    expect(lost[0]?.detail).toMatch(/still pending/);
    // Reported once.
    expect(await accounting.check(tasks, viewOf(state))).toEqual([]);
  });

  test('behavior: an accepted task missing from the store is lost at once', async () => {
    const accounting = createTaskAccounting((node) => node === 'registry');
    const lost = await accounting.check(
      [{ taskId: TASK, registry: 'registry' }],
      viewOf({ nowMs: START_MS }),
    );
    expect(lost[0]?.detail).toMatch(/not in the store/);
  });

  test('behavior: an ended task needs exactly one logged ending (a completion that was not the first does not count)', async () => {
    const tasks = [{ taskId: TASK, registry: 'registry' }];
    const ended = {
      nowMs: START_MS + 5_000,
      task: { status: 'completed' as TaskStatus, expiresAtMs: START_MS + 20_000 },
    };

    const once = createTaskAccounting((node) => node === 'registry');
    once.observe(log(1_000, 'task completed', { taskId: TASK, firstTime: true }));
    once.observe(log(1_500, 'task completed', { taskId: TASK, firstTime: false }));
    expect(await once.check(tasks, viewOf(ended))).toEqual([]);
    expect(await once.check(tasks, viewOf(ended))).toEqual([]);

    const twice = createTaskAccounting((node) => node === 'registry');
    twice.observe(log(1_000, 'task completed', { taskId: TASK }));
    twice.observe(log(2_000, 'task expired', { taskId: TASK }));
    expect((await twice.check(tasks, viewOf(ended)))[0]?.detail).toMatch(/ended 2 times/);

    // Ended in the store but never logged: allowed at the check right after the commit (the
    // log line follows it), a violation from the next check on.
    const silent = createTaskAccounting((node) => node === 'registry');
    expect(await silent.check(tasks, viewOf(ended))).toEqual([]);
    expect((await silent.check(tasks, viewOf(ended)))[0]?.detail).toMatch(/no ending was logged/);
  });

  test('behavior: linear: an ended task whose ending is logged is not read again, and a later second ending is still caught', async () => {
    const accounting = createTaskAccounting((node) => node === 'registry');
    const tasks = [{ taskId: TASK, registry: 'registry' }];
    let reads = 0;
    const state = {
      nowMs: START_MS + 1_000,
      task: { status: 'pending' as TaskStatus, expiresAtMs: START_MS + 20_000 },
    };
    const view: AccountingView = {
      storedTask: async () => {
        reads += 1;
        return state.task;
      },
      nowMs: () => state.nowMs,
      startMs: START_MS,
    };
    accounting.observe(log(0, 'registry node started'));
    expect(await accounting.check(tasks, view)).toEqual([]);
    expect(reads).toBe(1); // pending: read at every check
    state.task = { status: 'completed', expiresAtMs: START_MS + 20_000 };
    accounting.observe(log(1_000, 'task completed', { taskId: TASK, firstTime: true }));
    expect(await accounting.check(tasks, view)).toEqual([]);
    expect(reads).toBe(2);
    for (let block = 0; block < 100; block++) {
      expect(await accounting.check(tasks, view)).toEqual([]);
    }
    expect(reads).toBe(2); // settled: never read again
    accounting.observe(log(9_000, 'task failed', { taskId: TASK }));
    const twice = await accounting.check(tasks, view);
    expect(twice[0]?.detail).toMatch(/ended 2 times/);
    expect(reads).toBe(2);
  });

  test('behavior: a collection given up counts as the task failing', async () => {
    const accounting = createTaskAccounting((node) => node === 'registry');
    accounting.observe(log(1_000, 'task failed: its collection was given up', { taskId: TASK }));
    const failed = {
      nowMs: START_MS + 5_000,
      task: { status: 'failed' as TaskStatus, expiresAtMs: START_MS },
    };
    const tasks = [{ taskId: TASK, registry: 'registry' }];
    expect(await accounting.check(tasks, viewOf(failed))).toEqual([]);
    expect(await accounting.check(tasks, viewOf(failed))).toEqual([]);
  });
});
