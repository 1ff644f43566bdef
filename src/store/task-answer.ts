import type { Hex } from 'viem';
import { storedHex } from './stored-values.ts';
import { type InputChecks, MAX_TEXT_LENGTH } from './validate.ts';

/** An operator's answer to a task (SPEC §3): it signs the task id, or refuses with a reason. */
export type TaskAnswer =
  | { outcome: 'signed' /** 65 bytes, r ‖ s ‖ v with v = 27 or 28. */; signature: Hex }
  | {
      outcome: 'refused' /** e.g. "value mismatch", "unknown chain", "not active". */;
      refusalReason: string;
    };

export const TASK_ANSWER_OUTCOMES = ['signed', 'refused'] as const;

/** The answer columns both response tables share. */
export interface TaskAnswerColumns {
  outcome: 'signed' | 'refused';
  signature: string | null;
  refusal_reason: string | null;
}

export function checkTaskAnswer(checks: InputChecks, value: unknown): TaskAnswerColumns {
  checks.require(typeof value === 'object' && value !== null, 'answer', 'expected an object');
  const answer = value as { outcome?: unknown; signature?: unknown; refusalReason?: unknown };
  const outcome = checks.oneOf('outcome', answer.outcome, TASK_ANSWER_OUTCOMES);
  if (outcome === 'signed') {
    checks.require(
      answer.refusalReason === undefined,
      'refusalReason',
      'must be absent when signed',
    );
    return {
      outcome,
      signature: checks.signature('signature', answer.signature),
      refusal_reason: null,
    };
  }
  checks.require(answer.signature === undefined, 'signature', 'must be absent when refused');
  return {
    outcome,
    signature: null,
    refusal_reason: checks.text('refusalReason', answer.refusalReason, MAX_TEXT_LENGTH),
  };
}

export function toTaskAnswer(row: {
  outcome: string;
  signature: string | null;
  refusal_reason: string | null;
}): TaskAnswer {
  if (row.outcome === 'signed' && row.signature !== null) {
    return { outcome: 'signed', signature: storedHex(row.signature) };
  }
  if (row.outcome === 'refused' && row.refusal_reason !== null) {
    return { outcome: 'refused', refusalReason: row.refusal_reason };
  }
  throw new TypeError(`stored task answer has outcome ${row.outcome} without its field`);
}

export function sameTaskAnswer(
  a: TaskAnswerColumns,
  b: { outcome: string; signature: string | null; refusal_reason: string | null },
): boolean {
  return (
    a.outcome === b.outcome && a.signature === b.signature && a.refusal_reason === b.refusal_reason
  );
}
