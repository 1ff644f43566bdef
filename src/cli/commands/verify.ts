import { resolve } from 'node:path';
import { type Address, zeroAddress } from 'viem';
import { parse as parseYaml } from 'yaml';
import { createRpcClient } from '../../adapters/chain-viem/connect.ts';
import { createViemMainChain } from '../../adapters/chain-viem/main-chain.ts';
import { withChainErrors } from '../../adapters/chain-viem/map-error.ts';
import { type ProofJson, verifyProof } from '../../adapters/http/spotted-client.ts';
import { ChainRpcError, ContractNotFoundError, ContractRevertError } from '../../chain/errors.ts';
import { loadConfig } from '../../config/load-config.ts';
import type { CliIo } from '../adapters/process-io.ts';
import { CliError, EXIT_USAGE } from '../errors.ts';
import { address } from './request.ts';

export interface VerifyOptions {
  rpcUrl?: string;
  registry?: string;
  config?: string;
}

/**
 * `spotted verify [proof.json]`: checks a proof on the main chain through the registry's EIP-1271
 * `isValidSignature` (after recomputing the task id from the proven fields). Prints `valid`, or
 * `invalid: <reason>` (the contract's error name, e.g. InsufficientSignedStake) and exits 1.
 */
export async function verifyCommand(
  io: CliIo,
  proofFile: string | undefined,
  options: VerifyOptions,
): Promise<void> {
  const target = await mainChainTarget(io, options);
  const proof = parseProof(
    proofFile === undefined || proofFile === '-'
      ? await io.readStdin()
      : await readProofFile(io, resolve(io.cwd, proofFile)),
    proofFile ?? 'stdin',
  );

  const client = createRpcClient(target.rpcUrl, { retryCount: 0 });
  const chainId = await withChainErrors(
    { chain: 'main chain', call: 'connect', rpcUrl: target.rpcUrl },
    () => client.getChainId(),
  ).catch((error: unknown) => {
    throw error instanceof ChainRpcError
      ? new CliError(`${error.message} (check ${target.rpcFlag})`, { cause: error })
      : error;
  });
  const main = createViemMainChain({
    client,
    chainId,
    rpcUrl: target.rpcUrl,
    epochManagerAddress: zeroAddress,
    stakeRegistryAddress: target.registry,
  });
  // A wrong address would otherwise read as an invalid proof.
  await main.getMinimumWeight().catch((error: unknown) => {
    throw error instanceof ContractNotFoundError
      ? new CliError(`${error.message} [${target.registryFlag}]`, { cause: error })
      : error;
  });

  try {
    await verifyProof(proof, main);
  } catch (error) {
    if (error instanceof ChainRpcError && !error.reverted) throw error;
    const reason =
      error instanceof ContractRevertError
        ? error.errorName
        : error instanceof Error
          ? error.message
          : String(error);
    io.stdout.write(`invalid: ${reason}\n`);
    throw new CliError(
      `the proof of task ${proof.taskId} is not valid on chain ${chainId}: ${reason}`,
    );
  }
  io.stdout.write('valid\n');
}

async function mainChainTarget(
  io: CliIo,
  options: VerifyOptions,
): Promise<{ rpcUrl: string; registry: Address; rpcFlag: string; registryFlag: string }> {
  if (options.config !== undefined) {
    const file = resolve(io.cwd, options.config);
    const text = await io.readTextFile(file).catch((error: unknown) => {
      throw new CliError(
        `cannot read --config ${file}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`,
        {
          exitCode: EXIT_USAGE,
        },
      );
    });
    const raw = parseYaml(text) as Record<string, unknown> | null;
    const role =
      raw !== null && typeof raw === 'object' && 'operator' in raw ? 'operator' : 'registry';
    const config = loadConfig(role, { text, file, env: io.env });
    return {
      rpcUrl: options.rpcUrl ?? config.chains.main.rpcUrl,
      registry:
        options.registry === undefined
          ? config.chains.main.stakeRegistry
          : address('--registry', options.registry),
      rpcFlag: options.rpcUrl === undefined ? `chains.main.rpcUrl in ${file}` : '--rpc-url',
      registryFlag:
        options.registry === undefined ? `chains.main.stakeRegistry in ${file}` : '--registry',
    };
  }
  if (options.rpcUrl === undefined || options.registry === undefined) {
    throw new CliError(
      'say which chain to check on: --rpc-url <main chain RPC> and --registry <ECDSAStakeRegistry address>, or --config <node config>',
      { exitCode: EXIT_USAGE },
    );
  }
  return {
    rpcUrl: options.rpcUrl,
    registry: address('--registry', options.registry),
    rpcFlag: '--rpc-url',
    registryFlag: '--registry',
  };
}

async function readProofFile(io: CliIo, file: string): Promise<string> {
  try {
    return await io.readTextFile(file);
  } catch (error) {
    throw new CliError(
      `cannot read proof file ${file}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`,
      {
        exitCode: EXIT_USAGE,
      },
    );
  }
}

function parseProof(text: string, source: string): ProofJson {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new CliError(
      `${source} is not JSON: give the output of spotted request (or GET /v1/proofs/:taskId)`,
      {
        exitCode: EXIT_USAGE,
      },
    );
  }
  const proof = parsed as Partial<ProofJson>;
  if (
    typeof proof !== 'object' ||
    proof === null ||
    typeof proof.taskId !== 'string' ||
    typeof proof.status !== 'string'
  ) {
    throw new CliError(
      `${source} is not a proof: expected the JSON of spotted request (taskId, status, proof, …)`,
      {
        exitCode: EXIT_USAGE,
      },
    );
  }
  return proof as ProofJson;
}
