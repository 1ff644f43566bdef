import { describe, expect, it } from 'vitest';
import { epochStateHash } from './state-hash.ts';

const state = {
  epoch: 7,
  startBlock: 1234n,
  minimumWeightWei: 1n,
  totalWeightWei: 300n,
  thresholdWeightWei: 200n,
};
const a = {
  operator: '0x00000000000000000000000000000000000000aa',
  weightWei: 100n,
  signingKey: '0x1111111111111111111111111111111111111111',
} as const;
const b = {
  operator: '0x0000000000000000000000000000000000000B00',
  weightWei: 200n,
  signingKey: '0x2222222222222222222222222222222222222222',
} as const;

describe('epochStateHash', () => {
  it('does not depend on snapshot order or address case', () => {
    const hash = epochStateHash(state, [a, b]);
    expect(epochStateHash(state, [b, a])).toBe(hash);
    expect(
      epochStateHash(state, [{ ...b, operator: b.operator.toLowerCase() as `0x${string}` }, a]),
    ).toBe(hash);
    expect(hash).toMatch(/^0x[0-9a-f]{64}$/);
  });

  it('changes with every field of the state and of each operator', () => {
    const hash = epochStateHash(state, [a, b]);
    const variants = [
      epochStateHash({ ...state, epoch: 8 }, [a, b]),
      epochStateHash({ ...state, startBlock: 1235n }, [a, b]),
      epochStateHash({ ...state, minimumWeightWei: 2n }, [a, b]),
      epochStateHash({ ...state, totalWeightWei: 301n }, [a, b]),
      epochStateHash({ ...state, thresholdWeightWei: 201n }, [a, b]),
      epochStateHash(state, [{ ...a, weightWei: 101n }, b]),
      epochStateHash(state, [{ ...a, signingKey: b.signingKey }, b]),
      epochStateHash(state, [a]),
    ];
    expect(new Set([hash, ...variants]).size).toBe(variants.length + 1);
  });
});
