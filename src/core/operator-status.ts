/**
 * Operator lifecycle statuses (SPEC §3). Stored as these exact strings.
 * waitingJoin → waitingActive → active → unactive; any of them → suspended after 5 misses.
 */
export const OPERATOR_STATUSES = [
  'waitingJoin',
  'waitingActive',
  'active',
  'unactive',
  'suspended',
] as const;

export type OperatorStatus = (typeof OPERATOR_STATUSES)[number];

export function isOperatorStatus(value: unknown): value is OperatorStatus {
  return typeof value === 'string' && (OPERATOR_STATUSES as readonly string[]).includes(value);
}
