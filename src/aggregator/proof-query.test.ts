import { describe, expect, test } from 'vitest';
import { ProofRequestError } from './errors.ts';
import { parseProofRequest, parseProofSubmission } from './proof-query.ts';

const target = '0x70997970c51812dc3a010c7d01b50e0d17dc79c8';
const valid = { chainId: 10, targetAddress: target, key: '7', blockNumber: 12 };

function refusal(input: unknown): { field: string | undefined; message: string } {
  try {
    parseProofRequest(input);
  } catch (error) {
    expect(error).toBeInstanceOf(ProofRequestError);
    const e = error as ProofRequestError;
    expect(e.code).toBe('INVALID_REQUEST');
    return { field: e.field, message: e.message };
  }
  throw new Error('expected a refusal');
}

describe('parseProofRequest', () => {
  test('behavior: accepts numbers, decimal and hex strings, and checksums the address', () => {
    expect(parseProofRequest(valid)).toEqual({
      chainId: 10,
      targetAddress: '0x70997970C51812dc3A010C7d01b50e0d17dc79C8',
      key: 7n,
      blockNumber: 12n,
    });
    const max = `0x${'f'.repeat(64)}`;
    expect(
      parseProofRequest({
        chainId: '10',
        targetAddress: target,
        key: max,
        timestamp: '1700000000',
      }),
    ).toEqual({
      chainId: 10,
      targetAddress: '0x70997970C51812dc3A010C7d01b50e0d17dc79C8',
      key: 2n ** 256n - 1n,
      timestampSec: 1_700_000_000n,
    });
  });

  test('behavior: each bad field is named', () => {
    expect(refusal(null).field).toBe('body');
    expect(refusal({ ...valid, chainId: undefined }).message).toBe('chainId: required');
    expect(refusal({ ...valid, chainId: 0 }).field).toBe('chainId');
    expect(refusal({ ...valid, chainId: 2 ** 32 }).field).toBe('chainId');
    expect(refusal({ ...valid, targetAddress: '0x1234' }).message).toContain(
      'targetAddress: expected a 20-byte',
    );
    expect(refusal({ ...valid, key: -1 }).field).toBe('key');
    expect(refusal({ ...valid, key: `0x1${'0'.repeat(64)}` }).message).toContain(
      'key: must be between 0 and',
    );
    expect(refusal({ ...valid, key: 1.5 }).field).toBe('key');
    expect(refusal({ ...valid, blockNumber: 'soon' }).field).toBe('blockNumber');
    expect(refusal({ ...valid, timestamp: 5 }).message).toBe(
      'blockNumber: give exactly one of blockNumber or timestamp',
    );
    expect(refusal({ chainId: 1, targetAddress: target, key: 1 }).field).toBe('blockNumber');
    expect(refusal({ ...valid, extra: true }).message).toBe('extra: unknown field');
    expect(refusal({ ...valid, blockNumber: undefined, timestamp: 2 ** 48 }).field).toBe(
      'timestamp',
    );
  });
});

describe('parseProofSubmission', () => {
  const submissionRefusal = (input: unknown) => {
    try {
      parseProofSubmission(input);
    } catch (error) {
      expect(error).toBeInstanceOf(ProofRequestError);
      return (error as ProofRequestError).field;
    }
    throw new Error('expected a refusal');
  };

  test('behavior: takes the deliveries beside the query; a plain request asks for none', () => {
    expect(parseProofSubmission(valid).deliveries).toEqual({});
    expect(
      parseProofSubmission({
        ...valid,
        callbackUrl: 'https://client.example/hook?id=1',
        submitToChainId: '31337',
      }),
    ).toEqual({
      query: parseProofRequest(valid),
      deliveries: { callbackUrl: 'https://client.example/hook?id=1', submitToChainId: 31337 },
    });
    // The query-only parser still refuses delivery fields.
    expect(refusal({ ...valid, callbackUrl: 'https://x.example' }).field).toBe('callbackUrl');
  });

  test('behavior: bad delivery fields are named', () => {
    expect(submissionRefusal({ ...valid, callbackUrl: 'file:///etc/passwd' })).toBe('callbackUrl');
    expect(submissionRefusal({ ...valid, callbackUrl: 'http://u:p@host.example/' })).toBe(
      'callbackUrl',
    );
    expect(submissionRefusal({ ...valid, callbackUrl: 'not a url' })).toBe('callbackUrl');
    expect(
      submissionRefusal({ ...valid, callbackUrl: `https://h.example/${'a'.repeat(2_048)}` }),
    ).toBe('callbackUrl');
    expect(submissionRefusal({ ...valid, submitToChainId: 0 })).toBe('submitToChainId');
    expect(submissionRefusal({ ...valid, submitToChainId: 'main' })).toBe('submitToChainId');
  });
});
