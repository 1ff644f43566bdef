import { resolve } from 'node:path';
import { type Address, createWalletClient, defineChain, type Hex, http } from 'viem';
import { privateKeyToAccount } from 'viem/accounts';
import { createRpcClient } from '../../adapters/chain-viem/connect.ts';
import { withChainErrors } from '../../adapters/chain-viem/map-error.ts';
import {
  createRegistryWriter,
  createStateManagerWriter,
  type WriteContext,
  waitForSuccess,
} from '../../adapters/chain-viem/writes.ts';
import {
  inspectKeystore,
  parsePrivateKey,
  readKeystoreText,
} from '../../adapters/keystore/keystore.ts';
import type { CliIo } from '../adapters/process-io.ts';
import { CliError, EXIT_USAGE } from '../errors.ts';
import { address, uint } from './request.ts';

/**
 * `spotted testbed …`: the writes the testbed contracts need that EigenLayer tooling would do in
 * production. `register` is the owner standing in for EigenLayer registration and delegation
 * (operator, signing key, weight); `set-value` writes a StateManager value for an account (what
 * a dApp does), so there is something to prove.
 */
export const OWNER_KEY_ENV = 'SPOTTED_OWNER_PRIVATE_KEY';
export const SENDER_KEY_ENV = 'SPOTTED_SENDER_PRIVATE_KEY';

export async function registerCommand(
  io: CliIo,
  options: {
    rpcUrl: string;
    registry: string;
    operator: string;
    signingKey?: string;
    signingKeystore?: string;
    weight: string;
    ownerKeyFile?: string;
  },
): Promise<void> {
  const operator = address('--operator', options.operator);
  const signingKey = await signingKeyOf(io, options);
  const weight = uint('--weight', options.weight);
  if (weight === 0n) throw new CliError('--weight: must be above 0', { exitCode: EXIT_USAGE });
  const owner = await privateKeyFrom(io, options.ownerKeyFile, '--owner-key-file', OWNER_KEY_ENV);
  const ctx = await writeContext(options.rpcUrl, owner);
  const registry = address('--registry', options.registry);
  const hash = await createRegistryWriter(ctx, registry).registerOperator({
    operator,
    signingKey,
    weight,
  });
  const block = await waitForSuccess(ctx, 'registerOperator', hash);
  io.stdout.write(
    `${JSON.stringify({ operator, signingKey, weight: weight.toString(), block: block.toString(), transaction: hash })}\n`,
  );
}

export async function setValueCommand(
  io: CliIo,
  options: {
    rpcUrl: string;
    stateManager: string;
    key: string;
    value: string;
    fromKeyFile?: string;
  },
): Promise<void> {
  const key = uint('--key', options.key);
  const value = uint('--value', options.value);
  const sender = await privateKeyFrom(io, options.fromKeyFile, '--from-key-file', SENDER_KEY_ENV);
  const ctx = await writeContext(options.rpcUrl, sender);
  const hash = await createStateManagerWriter(
    ctx,
    address('--state-manager', options.stateManager),
  ).setValue({
    key,
    value,
  });
  const block = await waitForSuccess(ctx, 'setValue', hash);
  io.stdout.write(
    `${JSON.stringify({ user: ctx.walletClient.account.address, chainId: await ctx.publicClient.getChainId(), key: key.toString(), value: value.toString(), block: block.toString() })}\n`,
  );
}

async function signingKeyOf(
  io: CliIo,
  options: { signingKey?: string; signingKeystore?: string },
): Promise<Address> {
  if ((options.signingKey === undefined) === (options.signingKeystore === undefined)) {
    throw new CliError('give exactly one of --signing-key <address> or --signing-keystore <file>', {
      exitCode: EXIT_USAGE,
    });
  }
  if (options.signingKey !== undefined) return address('--signing-key', options.signingKey);
  const file = resolve(io.cwd, options.signingKeystore ?? '');
  const info = inspectKeystore(await readKeystoreText(file), file);
  if (info.kind !== 'signing') {
    throw new CliError(`--signing-keystore ${file} holds a libp2p identity, not a signing key`, {
      exitCode: EXIT_USAGE,
    });
  }
  return info.address;
}

async function privateKeyFrom(
  io: CliIo,
  file: string | undefined,
  flag: string,
  envName: string,
): Promise<Hex> {
  if (file !== undefined) {
    const path = resolve(io.cwd, file);
    const text = await io.readTextFile(path).catch((error: unknown) => {
      throw new CliError(
        `cannot read ${flag} ${path}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`,
        {
          exitCode: EXIT_USAGE,
        },
      );
    });
    return parsePrivateKey(text, `${flag} ${path}`);
  }
  const fromEnv = io.env[envName];
  if (fromEnv !== undefined && fromEnv !== '') return parsePrivateKey(fromEnv, envName);
  throw new CliError(
    `no sender key: give ${flag} <file with a hex private key> or set ${envName}`,
    {
      exitCode: EXIT_USAGE,
    },
  );
}

async function writeContext(rpcUrl: string, privateKey: Hex): Promise<WriteContext> {
  const publicClient = createRpcClient(rpcUrl, { retryCount: 0 });
  const chainId = await withChainErrors({ chain: 'chain', call: 'connect', rpcUrl }, () =>
    publicClient.getChainId(),
  ).catch((error: unknown) => {
    throw new CliError(`${(error as Error).message} (check --rpc-url)`, { cause: error });
  });
  const chain = defineChain({
    id: chainId,
    name: `chain ${chainId}`,
    nativeCurrency: { name: 'Ether', symbol: 'ETH', decimals: 18 },
    rpcUrls: { default: { http: [rpcUrl] } },
  });
  const walletClient = createWalletClient({
    account: privateKeyToAccount(privateKey),
    chain,
    transport: http(rpcUrl, { retryCount: 0 }),
  });
  return { publicClient, walletClient, label: `chain ${chainId}`, rpcUrl };
}
