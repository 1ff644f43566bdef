import type { TaskAnswer } from '../store/task-answer.ts';
import { MAX_TEXT_LENGTH } from '../store/validate.ts';
import { MAX_DETAIL_CHARS } from '../wire/limits.ts';
import type { RefusalReasonName, TaskResponseMessage } from '../wire/task-response.ts';

/**
 * How this operator's answer is kept in `task_responses`, so that a later round of the same task
 * (or a restart) re-sends the same answer instead of deciding again. A refusal's text is
 * `<reason>[ observed=<decimal value>]: <detail>`, e.g.
 * `valueMismatch observed=42: the chain has 42 at the query point`.
 */

const REFUSAL_REASONS: readonly RefusalReasonName[] = [
  'valueMismatch',
  'unknownChain',
  'notActive',
  'staleEpoch',
  'noHistory',
  'chainUnavailable',
  'malformedTask',
];

const STORED_REFUSAL = /^([A-Za-z]+)(?: observed=(\d{1,78}))?(?:: ([\s\S]*))?$/;

export function toStoredAnswer(response: TaskResponseMessage): TaskAnswer {
  if (response.kind === 'signed') return { outcome: 'signed', signature: response.signature };
  const head =
    response.observedValue === null
      ? response.reason
      : `${response.reason} observed=${response.observedValue}`;
  const text = response.detail.length > 0 ? `${head}: ${response.detail}` : head;
  return { outcome: 'refused', refusalReason: text.slice(0, MAX_TEXT_LENGTH) };
}

/** The response to send for a stored answer, in the round being answered now. */
export function fromStoredAnswer(
  answer: TaskAnswer,
  base: Pick<TaskResponseMessage, 'taskId' | 'operator' | 'epoch' | 'round'>,
): TaskResponseMessage {
  if (answer.outcome === 'signed') return { ...base, kind: 'signed', signature: answer.signature };
  const match = STORED_REFUSAL.exec(answer.refusalReason);
  const reason = REFUSAL_REASONS.find((candidate) => candidate === match?.[1]);
  if (match === null || reason === undefined) {
    // Written by something else: still a refusal, with the text kept as detail.
    return {
      ...base,
      kind: 'refused',
      reason: 'chainUnavailable',
      detail: answer.refusalReason.slice(0, MAX_DETAIL_CHARS),
      observedValue: null,
    };
  }
  const observed = match[2] === undefined ? null : BigInt(match[2]);
  return {
    ...base,
    kind: 'refused',
    reason,
    detail: (match[3] ?? '').slice(0, MAX_DETAIL_CHARS),
    observedValue: observed !== null && observed < 1n << 256n ? observed : null,
  };
}
