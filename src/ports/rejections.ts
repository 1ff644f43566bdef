import type { PeerId, Protocol, Topic } from './network.ts';

/**
 * Why a message or a connection from a peer was refused: stable names, used as the `reason`
 * label of `spotted_rejected_messages_total` and in logs (match on them, never on log text).
 */
export const REJECTION_REASONS = [
  /** The connection gate does not admit the peer (not a registry, not a joined operator, grace over). */
  'not_admitted',
  /**
   * A new peer that is not admitted arrived while the node's allowance for strangers was used up
   * (a flood of fresh identities); it may try again later.
   */
  'too_many_strangers',
  /** The peer is banned (blacklist with expiry) after repeated abuse. */
  'blacklisted',
  /** The peer sent faster than its per-peer rate limit on this protocol or topic. */
  'rate_limited',
  /** Over the protocol's or topic's byte cap; refused before decoding. */
  'oversize',
  /** The bytes are not a valid encoding of the message type (bad protobuf, bad field). */
  'malformed',
  /** A response claimed an operator the sending peer did not join as. */
  'not_operator',
  /** Task or epoch gossip published by a peer that is not a configured registry. */
  'not_registry',
  /** A signature that does not verify with the key the epoch says (e.g. a rotated-out key). */
  'invalid_signature',
  /** A join whose nonce was already used (or is older than the window). */
  'replayed_join',
  /** A task whose epoch is outside the window this node answers (too old or too far ahead). */
  'epoch_out_of_window',
  /** A response for a task the aggregator is not collecting (unknown, finished or wrong epoch). */
  'unknown_task',
] as const;

export type RejectionReason = (typeof REJECTION_REASONS)[number];

/** Where a rejected message came in: a protocol, a topic, or the connection itself. */
export type RejectionChannel = Protocol | Topic | 'connection';

export interface Rejection {
  reason: RejectionReason;
  channel: RejectionChannel;
  peer: PeerId;
}

/**
 * Told of every refused message. Node code reports through this callback so that the metrics
 * adapter (prom-client) stays out of it; it must not throw and must return quickly.
 */
export type RejectionReporter = (rejection: Rejection) => void;
