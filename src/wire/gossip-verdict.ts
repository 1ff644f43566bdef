import type { GossipVerdict } from '../ports/network.ts';
import { NetworkError } from '../ports/network-errors.ts';
import { WireValidationError } from './errors.ts';

/**
 * Checks on a well-formed gossip message that need node state: has it been seen, is its epoch
 * current, is its sender a registered operator (SPEC §5: only registered operators' messages are
 * accepted on operator topics). A message that is merely not addressed to this node is not a
 * failure: it is accepted, so that it still reaches the operators it is for.
 */
export type GossipRuleCode =
  /** The same content arrived before under another gossip id (e.g. re-published). */
  | 'DUPLICATE'
  /** For an epoch or round that has already passed here. */
  | 'STALE'
  /** For an epoch this node has not reached yet; it may be valid a moment later. */
  | 'PREMATURE'
  /** The author is not a registered operator (or registry) for the epoch. */
  | 'UNKNOWN_SENDER'
  /** A signature inside the message does not verify. */
  | 'BAD_SIGNATURE';

export class GossipRuleError extends Error {
  override readonly name = 'GossipRuleError';
  readonly code: GossipRuleCode;
  readonly messageType: string;

  constructor(code: GossipRuleCode, messageType: string, detail: string) {
    super(`${messageType}: ${detail}`);
    this.code = code;
    this.messageType = messageType;
  }
}

/**
 * Ignore drops a message without blaming the sender (it may be honest but late or early); reject
 * drops it and lowers the sender's gossipsub score (it sent something no honest node sends).
 */
const RULE_VERDICTS: Readonly<Record<GossipRuleCode, GossipVerdict>> = {
  DUPLICATE: 'ignore',
  STALE: 'ignore',
  PREMATURE: 'ignore',
  UNKNOWN_SENDER: 'reject',
  BAD_SIGNATURE: 'reject',
};

/**
 * The one mapping from a gossip message's validation outcome to its verdict. Pass `undefined`
 * when validation passed. Malformed bytes (any WireValidationError, an oversize message) are
 * rejected; rule failures follow RULE_VERDICTS; any other error is this node's own failure (a
 * store or chain read that failed), so the message is ignored rather than its sender blamed.
 */
export function toGossipVerdict(outcome: unknown): GossipVerdict {
  if (outcome === undefined) return 'accept';
  if (outcome instanceof WireValidationError) return 'reject';
  if (outcome instanceof NetworkError && outcome.code === 'MESSAGE_TOO_LARGE') return 'reject';
  if (outcome instanceof GossipRuleError) return RULE_VERDICTS[outcome.code];
  return 'ignore';
}
