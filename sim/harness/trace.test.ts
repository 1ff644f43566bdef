import { describe, expect, test } from 'vitest';
import { stableJson } from './trace.ts';

describe('stableJson', () => {
  test('behavior: bigints become decimal strings and errors their name and message, at any depth', () => {
    expect(
      stableJson({ a: 1n, list: [2n, { e: new TypeError('bad') }], nested: { deep: { v: 3n } } }),
    ).toBe('{"a":"1","list":["2",{"e":"TypeError: bad"}],"nested":{"deep":{"v":"3"}}}');
  });

  test('behavior: anything else is plain JSON, dates and undefined included', () => {
    const event = {
      kind: 'net.deliver',
      atMs: 5,
      at: new Date(0),
      gone: undefined,
      list: [1, 'x', null],
    };
    expect(stableJson(event)).toBe(JSON.stringify(event));
    expect(stableJson('text')).toBe('"text"');
    expect(stableJson(7n)).toBe('"7"');
  });
});
