import { isAddress } from 'viem';
import { toChecksumAddress } from '../core/address.ts';
import { maxUint } from '../core/uint.ts';
import type { ProofQuery } from '../protocol/task-fields.ts';
import type { DeliveryRequest } from './aggregator.ts';
import { ProofRequestError } from './errors.ts';
import { isCallbackUrl, MAX_CALLBACK_URL_LENGTH } from './jobs.ts';

/**
 * A proof request as a user sends it (JSON): integers may be JSON numbers or decimal / 0x-hex
 * strings, because uint256 keys do not fit a JSON number.
 */
export interface ProofRequestInput {
  chainId?: unknown;
  targetAddress?: unknown;
  key?: unknown;
  blockNumber?: unknown;
  timestamp?: unknown;
  /** Optional: POST the result here once the task ends. */
  callbackUrl?: unknown;
  /** Optional: submit the proof to the consumer contract on this chain once completed. */
  submitToChainId?: unknown;
}

const invalid = (field: string, problem: string) =>
  new ProofRequestError('INVALID_REQUEST', `${field}: ${problem}`, { field });

function parseUint(field: string, value: unknown, max: bigint): bigint {
  let parsed: bigint;
  if (typeof value === 'number') {
    if (!Number.isSafeInteger(value)) throw invalid(field, `expected a whole number, got ${value}`);
    parsed = BigInt(value);
  } else if (typeof value === 'string' && /^(0x[0-9a-fA-F]+|[0-9]+)$/.test(value)) {
    parsed = BigInt(value);
  } else {
    throw invalid(
      field,
      `expected a non-negative integer (number, decimal or 0x-hex string), got ${JSON.stringify(value)}`,
    );
  }
  if (parsed < 0n || parsed > max) throw invalid(field, `must be between 0 and ${max}`);
  return parsed;
}

const QUERY_FIELDS = ['chainId', 'targetAddress', 'key', 'blockNumber', 'timestamp'];
const DELIVERY_FIELDS = ['callbackUrl', 'submitToChainId'];

/** Validates a request (the query only), naming the first field at fault. */
export function parseProofRequest(input: unknown): ProofQuery {
  return parseQuery(input, QUERY_FIELDS);
}

/** Validates a `POST /v1/proofs` body: the query and the deliveries it asks for. */
export function parseProofSubmission(input: unknown): {
  query: ProofQuery;
  deliveries: DeliveryRequest;
} {
  const query = parseQuery(input, [...QUERY_FIELDS, ...DELIVERY_FIELDS]);
  const body = input as ProofRequestInput;
  const deliveries: DeliveryRequest = {};
  if (body.callbackUrl !== undefined && body.callbackUrl !== null) {
    if (typeof body.callbackUrl !== 'string' || !isCallbackUrl(body.callbackUrl)) {
      throw invalid(
        'callbackUrl',
        `expected an http(s) URL without credentials, at most ${MAX_CALLBACK_URL_LENGTH} characters`,
      );
    }
    deliveries.callbackUrl = body.callbackUrl;
  }
  if (body.submitToChainId !== undefined && body.submitToChainId !== null) {
    const chainId = Number(parseUint('submitToChainId', body.submitToChainId, maxUint('uint32')));
    if (chainId === 0) throw invalid('submitToChainId', 'must be at least 1');
    deliveries.submitToChainId = chainId;
  }
  return { query, deliveries };
}

function parseQuery(input: unknown, fields: readonly string[]): ProofQuery {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    throw invalid('body', 'expected a JSON object');
  }
  const body = input as ProofRequestInput;
  const known = new Set(fields);
  for (const name of Object.keys(body)) {
    if (!known.has(name)) throw invalid(name, 'unknown field');
  }
  if (body.chainId === undefined) throw invalid('chainId', 'required');
  const chainId = Number(parseUint('chainId', body.chainId, maxUint('uint32')));
  if (chainId === 0) throw invalid('chainId', 'must be at least 1');
  if (typeof body.targetAddress !== 'string' || !isAddress(body.targetAddress, { strict: false })) {
    throw invalid(
      'targetAddress',
      `expected a 20-byte 0x address, got ${JSON.stringify(body.targetAddress)}`,
    );
  }
  if (body.key === undefined) throw invalid('key', 'required');
  const key = parseUint('key', body.key, maxUint('uint256'));
  const hasBlock = body.blockNumber !== undefined && body.blockNumber !== null;
  const hasTime = body.timestamp !== undefined && body.timestamp !== null;
  if (hasBlock === hasTime) {
    throw invalid('blockNumber', 'give exactly one of blockNumber or timestamp');
  }
  const query: ProofQuery = {
    chainId,
    targetAddress: toChecksumAddress('targetAddress', body.targetAddress),
    key,
  };
  if (hasBlock) query.blockNumber = parseUint('blockNumber', body.blockNumber, maxUint('uint64'));
  else query.timestampSec = parseUint('timestamp', body.timestamp, maxUint('uint48'));
  return query;
}
