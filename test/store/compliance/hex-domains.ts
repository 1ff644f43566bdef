import { describe, expect, test } from 'vitest';
import type { ComplianceContext } from '../compliance.ts';

/** The formats the hex domains were first declared with (0001_init), as JavaScript regexes. */
const ORIGINAL_FORMATS = {
  evm_address: /^0x[0-9a-f]{40}$/,
  bytes32: /^0x[0-9a-f]{64}$/,
  ecdsa_signature: /^0x[0-9a-f]{128}(1b|1c)$/,
  hex_bytes: /^0x([0-9a-f]{2})*$/,
} as const;

type Domain = keyof typeof ORIGINAL_FORMATS;

/** Valid values of each length and near misses: wrong length by one, case, a stray character. */
function candidates(hexLength: number, suffixes: readonly string[]): string[] {
  const body = 'a1'.repeat(hexLength).slice(0, hexLength);
  const values = suffixes.flatMap((suffix) => [
    `0x${body}${suffix}`,
    `0x${body.slice(1)}${suffix}`,
    `0x${body}0${suffix}`,
    `0x${body.toUpperCase()}${suffix}`,
    `0x${body.slice(0, -1)}g${suffix}`,
    `0X${body}${suffix}`,
    ` 0x${body}${suffix}`,
    `0x${body}${suffix}\n`,
  ]);
  return [...values, '0x', '', 'not hex'];
}

const CASES: Record<Domain, string[]> = {
  evm_address: candidates(40, ['']),
  bytes32: candidates(64, ['']),
  ecdsa_signature: candidates(128, ['1b', '1c', '1d', '00', '1B']),
  hex_bytes: [...candidates(64, ['']), ...candidates(3, ['']), '0x00', '0xabc'],
};

/**
 * Migration 0005 (registry) / 0002 (operator) rewrote the hex domains' checks for speed; they
 * must accept exactly what the first ones did.
 */
export function describeHexDomains(context: ComplianceContext): void {
  describe('hex domains', () => {
    test.each([
      ['registry', Object.keys(ORIGINAL_FORMATS) as Domain[]],
      ['operator', ['evm_address', 'bytes32', 'ecdsa_signature'] as Domain[]],
    ] as const)(
      'behavior: the %s schema accepts exactly the values the first formats accepted',
      async (kind, domains) => {
        const { schema } =
          kind === 'registry' ? await context.openRegistry() : await context.openOperator();
        for (const domain of domains) {
          for (const value of CASES[domain]) {
            const literal = `'${value.replaceAll("'", "''")}'`;
            const accepted = await context
              .harness()
              .rawQuery(`SELECT ${literal}::${schema}.${domain} AS v`)
              .then(
                () => true,
                () => false,
              );
            expect({ domain, value, accepted }).toEqual({
              domain,
              value,
              accepted: ORIGINAL_FORMATS[domain].test(value),
            });
          }
        }
      },
    );
  });
}
