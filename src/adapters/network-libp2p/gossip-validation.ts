import { type Message, type TopicValidatorFn, TopicValidatorResult } from '@libp2p/gossipsub';
import type { ConnectionGate, GossipHandler, GossipVerdict, Topic } from '../../ports/network.ts';
import type { Deadlines } from './deadlines.ts';

/**
 * Gossip messages are judged inside gossipsub's topic validator, which runs before gossipsub
 * delivers or forwards anything: the handler's verdict decides whether the message travels on.
 * Our own published messages never come here (gossipsub does not validate what we publish, and
 * drops copies that come back as already seen).
 */

/** The one place where a Spotted verdict becomes a gossipsub validation result. */
const TOPIC_VALIDATOR_RESULT: Record<GossipVerdict, TopicValidatorResult> = {
  accept: TopicValidatorResult.Accept,
  ignore: TopicValidatorResult.Ignore,
  reject: TopicValidatorResult.Reject,
};

export interface TopicValidatorArgs {
  topic: Topic;
  handler: GossipHandler;
  maxMessageBytes: number;
  handlerTimeoutMs: number;
  deadlines: Deadlines;
  /** Aborted when the network stops: pending judgements end as `ignore`. */
  stopSignal: AbortSignal;
  /** The node's admission policy at the time of the message, if any. */
  gate?: () => ConnectionGate | undefined;
  onHandlerError: (topic: Topic, error: unknown) => void;
}

export function createTopicValidator(args: TopicValidatorArgs): TopicValidatorFn {
  return async (propagationSource, message) =>
    TOPIC_VALIDATOR_RESULT[await judge(args, propagationSource.toString(), message)];
}

async function judge(
  args: TopicValidatorArgs,
  forwarder: string,
  message: Message,
): Promise<GossipVerdict> {
  const gate = args.gate?.();
  // Oversize messages are rejected unseen: the handler never decodes them.
  if (message.data.length > args.maxMessageBytes) {
    gate?.onRejected({
      reason: 'oversize',
      channel: args.topic,
      peer: message.type === 'signed' ? message.from.toString() : forwarder,
    });
    return 'reject';
  }
  // StrictSign already refuses unsigned messages; without a signed author there is no `from`.
  if (message.type !== 'signed') return 'reject';
  if (gate !== undefined) {
    const author = message.from.toString();
    // A refused forwarder should not be connected at all: its messages cost it score (uncounted:
    // its connection attempt was). A refused author's message is dropped and counted once, by
    // `refuseMessage`, and rejected only when the author handed it over itself: an honest
    // forwarder of it is not blamed.
    if (author !== forwarder && gate.isRefused(forwarder)) return 'reject';
    const refusal = gate.refuseMessage(author, args.topic);
    // Over-rate is not invalid: the author (a registry publishing a burst) loses no score.
    if (refusal !== undefined)
      return author === forwarder && refusal !== 'rate_limited' ? 'reject' : 'ignore';
  }

  const deadline = args.deadlines.start(
    args.handlerTimeoutMs,
    () =>
      new Error(`gossip handler for ${args.topic} gave no verdict in ${args.handlerTimeoutMs} ms`),
  );
  const timedOut = AbortSignal.any([deadline.signal, args.stopSignal]);
  try {
    const verdict = await Promise.race([
      Promise.resolve().then(() =>
        args.handler({ topic: args.topic, from: message.from.toString(), data: message.data }),
      ),
      rejectOnAbort(timedOut),
    ]);
    return isGossipVerdict(verdict) ? verdict : 'reject';
  } catch (error) {
    if (timedOut.aborted) return 'ignore';
    // A handler that throws judged the message invalid (the port's contract).
    args.onHandlerError(args.topic, error);
    return 'reject';
  } finally {
    deadline.cancel();
  }
}

function rejectOnAbort(signal: AbortSignal): Promise<never> {
  return new Promise((_resolve, reject) => {
    if (signal.aborted) reject(signal.reason);
    signal.addEventListener('abort', () => reject(signal.reason), { once: true });
  });
}

function isGossipVerdict(value: unknown): value is GossipVerdict {
  return value === 'accept' || value === 'ignore' || value === 'reject';
}
