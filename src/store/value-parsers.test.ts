import { describe, expect, test } from 'vitest';
import { checkSchemaName } from './schema-name.ts';
import { parseInt8AsNumber, parseNumericAsBigint } from './value-parsers.ts';

describe('value parsers', () => {
  test('behavior: NUMERIC text becomes an exact bigint', () => {
    expect(parseNumericAsBigint('1000000000000000001')).toBe(10n ** 18n + 1n);
    expect(parseNumericAsBigint((2n ** 256n - 1n).toString())).toBe(2n ** 256n - 1n);
    expect(parseNumericAsBigint('-5')).toBe(-5n);
    expect(() => parseNumericAsBigint('1.5')).toThrow(/not an integer/);
  });

  test('behavior: INT8 text becomes a number only when exact', () => {
    expect(parseInt8AsNumber('4294967295')).toBe(4_294_967_295);
    expect(() => parseInt8AsNumber('9007199254740993')).toThrow(/does not fit a JavaScript number/);
  });
});

describe('checkSchemaName', () => {
  test('behavior: plain lowercase identifiers pass; reserved and quoted-looking names do not', () => {
    expect(checkSchemaName('open', 'node_12')).toBe('node_12');
    for (const bad of [
      'Node',
      'node-1',
      '1node',
      'public',
      'pg_temp',
      'information_schema',
      'a'.repeat(64),
      '',
    ]) {
      expect(() => checkSchemaName('open', bad)).toThrow(/schema/);
    }
  });
});
