import { generateKeyPair } from '@libp2p/crypto/keys';
import { type Message, TopicValidatorResult } from '@libp2p/gossipsub';
import { peerIdFromPrivateKey } from '@libp2p/peer-id';
import { describe, expect, test } from 'vitest';
import { type GossipHandler, type GossipMessage, TOPICS } from '../../ports/network.ts';
import { createDeadlines } from './deadlines.ts';
import { createTopicValidator } from './gossip-validation.ts';

const key = await generateKeyPair('Ed25519');
const author = peerIdFromPrivateKey(key);

function signedMessage(data: Uint8Array): Message {
  return {
    type: 'signed',
    from: author,
    topic: TOPICS.task,
    data,
    sequenceNumber: 1n,
    signature: new Uint8Array(64),
    key: key.publicKey,
  };
}

function validate(
  handler: GossipHandler,
  data: Uint8Array,
  options: { maxMessageBytes?: number; handlerTimeoutMs?: number } = {},
): { result: Promise<TopicValidatorResult>; errors: unknown[] } {
  const errors: unknown[] = [];
  const validator = createTopicValidator({
    topic: TOPICS.task,
    handler,
    maxMessageBytes: options.maxMessageBytes ?? 16,
    handlerTimeoutMs: options.handlerTimeoutMs ?? 1000,
    deadlines: createDeadlines(),
    stopSignal: new AbortController().signal,
    onHandlerError: (_topic, error) => errors.push(error),
  });
  return { result: Promise.resolve(validator(author, signedMessage(data))), errors };
}

describe('gossip validation', () => {
  test.each([
    ['accept', TopicValidatorResult.Accept],
    ['ignore', TopicValidatorResult.Ignore],
    ['reject', TopicValidatorResult.Reject],
  ] as const)('behavior: verdict %s becomes %s', async (verdict, result) => {
    expect(await validate(() => verdict, new Uint8Array(1)).result).toBe(result);
    expect(await validate(async () => verdict, new Uint8Array(1)).result).toBe(result);
  });

  test('behavior: the handler sees topic, author and data', async () => {
    const seen: GossipMessage[] = [];
    await validate(
      (message) => {
        seen.push(message);
        return 'accept';
      },
      Uint8Array.of(1, 2),
    ).result;
    expect(seen).toEqual([
      { topic: TOPICS.task, from: author.toString(), data: Uint8Array.of(1, 2) },
    ]);
  });

  test('behavior: a message over maxMessageBytes is rejected without calling the handler', async () => {
    let calls = 0;
    const handler: GossipHandler = () => {
      calls += 1;
      return 'accept';
    };
    expect(await validate(handler, new Uint8Array(17)).result).toBe(TopicValidatorResult.Reject);
    expect(await validate(handler, new Uint8Array(16)).result).toBe(TopicValidatorResult.Accept);
    expect(calls).toBe(1);
  });

  test('behavior: a handler that throws (or rejects) counts as reject and is reported', async () => {
    const sync = validate(() => {
      throw new Error('boom');
    }, new Uint8Array(1));
    expect(await sync.result).toBe(TopicValidatorResult.Reject);
    expect(sync.errors).toHaveLength(1);
    const async = validate(() => Promise.reject(new Error('boom')), new Uint8Array(1));
    expect(await async.result).toBe(TopicValidatorResult.Reject);
  });

  test('behavior: an answer that is not a verdict counts as reject', async () => {
    const notAVerdict = (() => 'maybe') as unknown as GossipHandler;
    expect(await validate(notAVerdict, new Uint8Array(1)).result).toBe(TopicValidatorResult.Reject);
  });

  test('behavior: a handler that gives no verdict in time counts as ignore', async () => {
    const never: GossipHandler = () => new Promise(() => {});
    const { result, errors } = validate(never, new Uint8Array(1), { handlerTimeoutMs: 20 });
    expect(await result).toBe(TopicValidatorResult.Ignore);
    expect(errors).toEqual([]);
  });
});
