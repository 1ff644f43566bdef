/** Task outcomes (SPEC §3): a task ends in exactly one of completed / failed / expired. */
export const TASK_STATUSES = ['pending', 'completed', 'failed', 'expired'] as const;

export type TaskStatus = (typeof TASK_STATUSES)[number];

export const FINAL_TASK_STATUSES: readonly TaskStatus[] = ['completed', 'failed', 'expired'];

export function isTaskStatus(value: unknown): value is TaskStatus {
  return typeof value === 'string' && (TASK_STATUSES as readonly string[]).includes(value);
}
