import { describe, expect, test } from 'vitest';
import { JobPayloadError } from './errors.ts';
import {
  chainJob,
  collectJob,
  isCallbackUrl,
  parseChainPayload,
  parseChainProgress,
  parseCollectPayload,
  parseWebhookPayload,
  webhookJob,
} from './jobs.ts';

const taskId = `0x${'ab'.repeat(32)}` as const;
const options = { maxAttempts: 3, backoff: { initialMs: 1, maxMs: 2 }, visibleAtMs: 0 };

describe('queue job payloads', () => {
  test('behavior: every payload survives its JSON round trip, bigints as decimal strings', () => {
    const collect = collectJob(
      { taskId, byTimestamp: true, historyBlockNumber: 2n ** 64n - 1n, historyTimestampSec: 5n },
      { maxAttempts: 9 },
    );
    expect(parseCollectPayload(JSON.parse(JSON.stringify(collect.payload)))).toEqual({
      taskId,
      byTimestamp: true,
      historyBlockNumber: 2n ** 64n - 1n,
      historyTimestampSec: 5n,
    });
    expect(collect).toMatchObject({
      queue: 'task.collect',
      idempotencyKey: taskId,
      groupKey: taskId,
    });
    const hook = webhookJob({ taskId, url: 'https://a.example/h' }, options);
    expect(parseWebhookPayload(hook.payload)).toEqual({ taskId, url: 'https://a.example/h' });
    const chain = chainJob({ taskId, chainId: 31337 }, options);
    expect(parseChainPayload(chain.payload)).toEqual({ taskId, chainId: 31337 });
    expect(chain.idempotencyKey).toBe(`${taskId}:31337`);
  });

  test('behavior: one webhook job per task and URL, whatever the URL length', () => {
    const long = `https://a.example/${'x'.repeat(2_000)}`;
    const a = webhookJob({ taskId, url: long }, options);
    const b = webhookJob({ taskId, url: `${long}y` }, options);
    expect(a.idempotencyKey.length).toBeLessThanOrEqual(256);
    expect(a.idempotencyKey).not.toBe(b.idempotencyKey);
  });

  test('behavior: unreadable payloads are JobPayloadErrors naming the queue and field', () => {
    expect(() => parseCollectPayload({ taskId })).toThrow(
      new JobPayloadError('task.collect', 'byTimestamp: missing'),
    );
    expect(() => parseWebhookPayload({ taskId, url: 'ftp://x' })).toThrow(
      'delivery.webhook job payload: url: expected an http(s) URL',
    );
    expect(() => parseChainPayload({ taskId: '0x12', chainId: 1 })).toThrow(/taskId/);
    expect(() => parseChainPayload([])).toThrow(/expected an object/);
    expect(parseChainProgress({ txHash: '0x1', raw: '0x', nonce: 1 })).toBeUndefined();
    expect(parseChainProgress(null)).toBeUndefined();
  });

  test('behavior: callback URLs are http(s), with a host, without credentials', () => {
    expect(isCallbackUrl('http://127.0.0.1:8080/x')).toBe(true);
    expect(isCallbackUrl('https://example.com')).toBe(true);
    for (const bad of ['ftp://a', 'https://u@a.example', 'mailto:a@b', '/relative', '']) {
      expect(isCallbackUrl(bad), bad).toBe(false);
    }
  });
});
