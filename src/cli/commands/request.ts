import { type Address, getAddress, isAddress } from 'viem';
import {
  type ProofJson,
  type ProofRequest,
  requestProof,
} from '../../adapters/http/spotted-client.ts';
import type { CliIo } from '../adapters/process-io.ts';
import { startProgress } from '../adapters/progress.ts';
import { CliError, EXIT_USAGE } from '../errors.ts';

export interface RequestOptions {
  api: string;
  chainId: string;
  target: string;
  key: string;
  block?: string;
  timestamp?: string;
  callbackUrl?: string;
  submitToChain?: string;
  timeoutMs: string;
}

/**
 * `spotted request`: asks a registry for a proof of `value(target, key)` on a chain at a block
 * (or time), waits with a spinner until the task ends, and prints the proof JSON on stdout.
 * Exits 1 unless the task completed.
 */
export async function requestCommand(io: CliIo, options: RequestOptions): Promise<void> {
  const request: ProofRequest = {
    chainId: Number(uint('--chain-id', options.chainId)),
    targetAddress: address('--target', options.target),
    key: uint('--key', options.key),
    ...pointOf(options),
    ...(options.callbackUrl === undefined
      ? {}
      : { callbackUrl: httpUrl('--callback-url', options.callbackUrl) }),
    ...(options.submitToChain === undefined
      ? {}
      : { submitToChainId: Number(uint('--submit-to-chain', options.submitToChain)) }),
  };
  const timeoutMs = Number(uint('--timeout-ms', options.timeoutMs));
  const api = options.api.replace(/\/+$/, '');
  const point =
    request.blockNumber === undefined
      ? `time ${request.timestampSec}`
      : `block ${request.blockNumber}`;
  const progress = startProgress(
    io.stderr,
    `proof of key ${request.key} of ${request.targetAddress} on chain ${request.chainId} at ${point}`,
  );
  let proof: ProofJson;
  try {
    proof = await requestProof(api, request, { timeoutMs, pollIntervalMs: 200 });
  } catch (error) {
    progress.fail('proof request failed');
    if (
      (error as { cause?: { code?: string } }).cause?.code === 'ECONNREFUSED' ||
      error instanceof TypeError
    ) {
      throw new CliError(
        `cannot reach the registry API at ${api} (check --api and that the registry runs)`,
        {
          cause: error,
        },
      );
    }
    throw error;
  }
  io.stdout.write(`${JSON.stringify(proof, null, 2)}\n`);
  if (proof.status === 'completed') {
    progress.succeed(
      `task ${proof.taskId} completed: ${proof.proof?.operators.length ?? 0} signatures, epoch ${proof.epoch}`,
    );
    return;
  }
  progress.fail(`task ${proof.taskId} ended ${proof.status}`);
  throw new CliError(
    proof.status === 'pending'
      ? `task ${proof.taskId} still pending after ${timeoutMs} ms (raise --timeout-ms, or poll GET ${api}/v1/proofs/${proof.taskId})`
      : `task ${proof.taskId} ended ${proof.status} after ${proof.retries} retries (too few operators answered; see spotted status --api ${api})`,
  );
}

function pointOf(options: RequestOptions): Pick<ProofRequest, 'blockNumber' | 'timestampSec'> {
  if ((options.block === undefined) === (options.timestamp === undefined)) {
    throw new CliError('give exactly one of --block <number> or --timestamp <unix seconds>', {
      exitCode: EXIT_USAGE,
    });
  }
  return options.block !== undefined
    ? { blockNumber: uint('--block', options.block) }
    : { timestampSec: uint('--timestamp', options.timestamp ?? '') };
}

export function uint(flag: string, value: string): bigint {
  if (!/^(0x[0-9a-fA-F]+|\d+)$/.test(value.trim())) {
    throw new CliError(
      `${flag}: expected a non-negative integer (decimal or 0x hex), got ${JSON.stringify(value)}`,
      {
        exitCode: EXIT_USAGE,
      },
    );
  }
  return BigInt(value.trim());
}

function httpUrl(flag: string, value: string): string {
  if (!/^https?:\/\/\S+$/.test(value)) {
    throw new CliError(`${flag}: expected an http(s):// URL, got ${JSON.stringify(value)}`, {
      exitCode: EXIT_USAGE,
    });
  }
  return value;
}

export function address(flag: string, value: string): Address {
  if (!isAddress(value, { strict: false })) {
    throw new CliError(`${flag}: expected a 20-byte 0x address, got ${JSON.stringify(value)}`, {
      exitCode: EXIT_USAGE,
    });
  }
  return getAddress(value);
}
